package hubproto

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordSplitterRefusesHugeTails(t *testing.T) {
	t.Parallel()
	s := recordSplitter{limit: 4}
	_, err := s.Split([]byte("12345"))
	require.ErrorIs(t, err, ErrTooLarge, "a 5-byte unterminated record passed a 4-byte limit")

	s = recordSplitter{limit: 4}
	_, err = s.Split([]byte("12"))
	require.NoError(t, err)
	_, err = s.Split([]byte("345"))
	require.ErrorIs(t, err, ErrTooLarge, "a record grown across frames past the limit passed")
}

// TestRecordSplitterWorkIsLinear feeds records cut into tiny frames, the
// case that cost quadratic time when every frame copied the whole pending
// tail, and checks that the bytes the splitter allocates stay proportional
// to the bytes received. Allocation is counted rather than time, so the
// check holds on any machine.
func TestRecordSplitterWorkIsLinear(t *testing.T) {
	for _, tc := range []struct {
		name          string
		frame, record int // bytes per frame, bytes per record
	}{
		{"1-byte frames of one 40 KB record", 1, 40_000},
		{"64-byte frames up to the 1 MiB limit", 64, 1<<20 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(bytes.Repeat([]byte{'x'}, tc.record), RecordSeparator)
			s := recordSplitter{limit: 1 << 20}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var got [][]byte
			for i := 0; i < len(stream); i += tc.frame {
				records, err := s.Split(stream[i:min(i+tc.frame, len(stream))])
				require.NoError(t, err)
				got = append(got, records...)
			}
			runtime.ReadMemStats(&after)
			require.Len(t, got, 1)
			assert.Len(t, got[0], tc.record)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes received, %d bytes allocated", len(stream), allocated)
			assert.Less(t, allocated, uint64(8*len(stream)+64<<10),
				"the splitter allocated more than 8 bytes per byte received: its work is not linear")
		})
	}
}
