package signalr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixtures in testdata/output are payloads as JavaScript, Python and
// .NET functions write them (from the Functions binding documentation).
// Each valid/*.json must decode to the items in its .want file, one line per
// item: what it does, and for a message the REST body it sends. Each
// invalid/*.json must fail with the text in its .want file.
func TestParseOutputFixtures(t *testing.T) {
	t.Parallel()
	valid, err := filepath.Glob("testdata/output/valid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, valid)
	for _, path := range valid {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			want, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".want")
			require.NoError(t, err)
			items, err := ParseOutput(data)
			require.NoError(t, err)
			var got strings.Builder
			for _, it := range items {
				got.WriteString(describeItem(it))
				if m, ok := it.(Message); ok {
					body, err := encodeSendBody(m.Target, m.Arguments)
					require.NoError(t, err)
					got.WriteString(" " + string(body))
				}
				got.WriteString("\n")
			}
			assert.Equal(t, string(want), got.String())
		})
	}
	invalid, err := filepath.Glob("testdata/output/invalid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, invalid)
	for _, path := range invalid {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			want, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".want")
			require.NoError(t, err)
			_, err = ParseOutput(data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), strings.TrimSpace(string(want)))
		})
	}
}
