package emulator

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wakeTokens counts the wake-ups waiting in q (0 or 1).
func wakeTokens(q *sendQueue) int {
	select {
	case <-q.wake:
		q.awoken() // as the writer does
		return 1
	default:
		return 0
	}
}

func TestSendQueueOneWakeUpPerBurstAndOrder(t *testing.T) {
	t.Parallel()
	q := newSendQueue(8, 1<<10, nil)
	for _, r := range []string{"a", "b", "c"} {
		require.True(t, q.push([]byte(r)))
	}
	assert.Equal(t, 1, wakeTokens(q), "a burst wakes the writer once")
	assert.EqualValues(t, 3, q.bytes.Load())

	got, end := q.take(nil)
	assert.Nil(t, end, "no broadcast log before attach")
	assert.Equal(t, []string{"a", "b", "c"}, recordsOf(got))
	assert.EqualValues(t, 0, q.bytes.Load())

	// The queue continues in the storage handed back, and a push to the
	// emptied queue wakes the writer again.
	require.True(t, q.push([]byte("d")))
	assert.Equal(t, 1, wakeTokens(q))
	again, _ := q.take(got)
	assert.Equal(t, []string{"d"}, recordsOf(again))
	assert.Nil(t, got[1].record, "records handed back are dropped, not kept alive")
	rest, _ := q.take(again)
	assert.Empty(t, rest)
}

func recordsOf(qs []queued) []string {
	var out []string
	for _, q := range qs {
		out = append(out, string(q.record))
	}
	return out
}

func TestSendQueueOverflowByCount(t *testing.T) {
	t.Parallel()
	calls := 0
	q := newSendQueue(2, 1<<10, func() { calls++ })
	require.True(t, q.push([]byte("a")))
	require.True(t, q.push([]byte("b")))
	assert.False(t, q.push([]byte("c")), "a third record exceeds the count")
	assert.False(t, q.push(nil), "an overflowed queue refuses everything")
	assert.Equal(t, 1, calls)
	select {
	case <-q.overflowed:
	default:
		require.FailNow(t, "overflowed is not closed")
	}
	// Emptying it does not make an overflowed queue usable again.
	q.take(nil)
	assert.False(t, q.push([]byte("d")))
}

func TestSendQueueOverflowByBytes(t *testing.T) {
	t.Parallel()
	calls := 0
	q := newSendQueue(100, 4, func() { calls++ })
	require.True(t, q.push([]byte("abc")))
	assert.False(t, q.push([]byte("de")), "3+2 bytes exceed 4")
	assert.Equal(t, 1, calls)
}

// frameTransport is a transport that keeps every frame written.
type frameTransport struct{ frames []string }

func (t *frameTransport) readFrame() ([]byte, error) { select {} }
func (t *frameTransport) writeFrame(_ context.Context, frame []byte) error {
	t.frames = append(t.frames, string(frame))
	return nil
}
func (t *frameTransport) close(context.Context, closeKind) {}
func (t *frameTransport) abort()                           {}
func (t *frameTransport) supportsBinary() bool             { return false }
func (t *frameTransport) useBinary()                       {}
func (t *frameTransport) inherentKeepAlive() bool          { return false }

// burst takes what waits for c and writes it, returning the frames.
func burst(t *testing.T, c *connection, ft *frameTransport) []string {
	t.Helper()
	ft.frames = nil
	records, end := c.queue.take(nil)
	_, err := c.writeBurst(records, end)
	require.NoError(t, err)
	return ft.frames
}

func newTestConnection(t *testing.T, opts *Options) (*connection, *frameTransport) {
	t.Helper()
	e := mustNew(t, opts)
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	ft := &frameTransport{}
	return newConnection(e, ft, "h", "c1", ""), ft
}

func TestBroadcastsAndOwnRecordsGoOutInSendOrder(t *testing.T) {
	t.Parallel()
	c, ft := newTestConnection(t, nil)
	log := newBroadcastLog()
	log.append([]byte("before;")) // sent before the connection joined
	c.queue.attach(log)

	require.True(t, c.queue.push([]byte("a;")))
	log.append([]byte("B1;"))
	require.True(t, c.queue.push([]byte("c;")))
	log.append([]byte("B2;"))
	log.append([]byte("B3;"))
	assert.Equal(t, []string{"a;B1;c;B2;B3;"}, burst(t, c, ft), "one frame, in the order sent")

	// Broadcasts alone go out as one run, written from the log itself.
	log.append([]byte("B4;"))
	m := log.append([]byte("B5;"))
	assert.True(t, c.queue.notify(m))
	assert.Equal(t, []string{"B4;B5;"}, burst(t, c, ft))
	assert.Empty(t, burst(t, c, ft), "nothing is written twice")
}

func TestBroadcastLogRunsAcrossChunks(t *testing.T) {
	t.Parallel()
	c, ft := newTestConnection(t, nil)
	log := newBroadcastLog()
	c.queue.attach(log)
	record := []byte(strings.Repeat("x", 1000) + ";")
	var want bytes.Buffer
	for range 40 { // 40 KB: three chunks
		log.append(record)
		want.Write(record)
	}
	big := bytes.Repeat([]byte("y"), 3*logChunkBytes) // alone in a chunk of its own
	log.append(big)
	want.Write(big)
	frames := burst(t, c, ft)
	assert.Equal(t, want.String(), strings.Join(frames, ""), "every byte, in order")
	for i, f := range frames[:len(frames)-1] {
		assert.LessOrEqual(t, len(f), maxBatchBytes, "frame %d", i)
		assert.Zero(t, len(f)%len(record), "frame %d holds whole records", i)
	}
	assert.Equal(t, string(big), frames[len(frames)-1], "a record over the frame size goes alone")
}

func TestBroadcastLogRunsCannotBeAppendedInto(t *testing.T) {
	t.Parallel()
	log := newBroadcastLog()
	start := log.end()
	m := log.append([]byte("one;"))
	log.append([]byte("two;"))
	cur := cursorAt(start)
	run := cur.next(m)
	require.Equal(t, "one;", string(run))
	_ = append(run, "XXXX"...) // must copy, not write into the log
	assert.Equal(t, "two;", string(cur.next(log.end())))
}

func TestBroadcastLagCountsTowardTheBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		count    int
		bytes    int64
		overflow int // the broadcast (1-based) that overflows
	}{
		{"by count", 3, 1 << 20, 4},
		{"by bytes", 100, 10, 4}, // three 3-byte records fit in 10 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			q := newSendQueue(tc.count, tc.bytes, func() { calls++ })
			log := newBroadcastLog()
			q.attach(log)
			for i := 1; i < tc.overflow; i++ {
				require.True(t, q.notify(log.append([]byte(fmt.Sprintf("b%d;", i)))), "broadcast %d", i)
			}
			assert.False(t, q.push([]byte("own")), "an own record does not fit behind the broadcasts")
			assert.Equal(t, 1, calls)
			assert.False(t, q.notify(log.append([]byte("bN;"))))
			assert.Equal(t, 1, calls, "overflow is reported once")
		})
	}

	// What the writer took no longer counts.
	q := newSendQueue(2, 1<<20, nil)
	log := newBroadcastLog()
	q.attach(log)
	for i := range 10 {
		require.True(t, q.notify(log.append([]byte{byte('0' + i)})), "broadcast %d", i)
		q.take(nil)
	}
}
