package signalr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The REST token cache reuses a token per audience and stays bounded: past
// tokenCacheSize audiences it starts again, and a token past tokenReuse is
// minted anew.
func TestTokenCacheReusesAndStaysBounded(t *testing.T) {
	c, err := NewClientFromConnectionString(emulatorCS, nil)
	require.NoError(t, err)
	first, err := c.bearer(t.Context(), "http://localhost:8888/api/hubs/chat/:send")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, "Bearer "))
	again, err := c.bearer(t.Context(), "http://localhost:8888/api/hubs/chat/:send")
	require.NoError(t, err)
	assert.Equal(t, first, again, "reused for the same audience")

	for i := range tokenCacheSize + 10 {
		_, err := c.bearer(t.Context(), fmt.Sprintf("http://localhost:8888/api/hubs/chat/users/u%d/:send", i))
		require.NoError(t, err)
	}
	n := 0
	c.tokens.Range(func(_, _ any) bool { n++; return true })
	assert.LessOrEqual(t, n, tokenCacheSize, "the cache is bounded")
	assert.Equal(t, int32(n), c.tokenCount.Load(), "the count matches the entries")

	// An old entry is minted again, not reused.
	old := &cachedToken{bearer: "Bearer old", minted: time.Now().Add(-2 * tokenReuse)}
	c.tokens.Store("http://localhost:8888/api/hubs/chat/:send", old)
	fresh, err := c.bearer(t.Context(), "http://localhost:8888/api/hubs/chat/:send")
	require.NoError(t, err)
	assert.NotEqual(t, "Bearer old", fresh)
}
