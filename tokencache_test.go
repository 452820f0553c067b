package signalr

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// The REST token cache reuses a token per audience and stays bounded: past
// tokenCacheSize audiences it starts again, and a token past tokenReuse is
// minted anew.
func TestTokenCacheReusesAndStaysBounded(t *testing.T) {
	t.Parallel()
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

// A send to a route seen before reuses its URL and token until the token
// is due for renewal; the route cache stays bounded.
func TestRouteCacheReusesURLAndToken(t *testing.T) {
	t.Parallel()
	var (
		mu           sync.Mutex
		sent, routes []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, r.Header.Get("Authorization"))
		routes = append(routes, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c, err := NewClientFromConnectionString("Endpoint="+srv.URL+";AccessKey="+testKey+";Version=1.0;", &ClientOptions{Retry: RetryOptions{MaxRetries: -1}})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	send := func(user string) {
		t.Helper()
		require.NoError(t, c.SendMessage(t.Context(), "Chat", Message{Target: "t", UserID: user}, nil))
	}
	seen := func() ([]string, []string) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sent), slices.Clone(routes)
	}
	send("a b")
	send("a b")
	auths, paths := seen()
	require.Len(t, auths, 2)
	assert.Equal(t, auths[0], auths[1], "the token is reused")
	assert.Equal(t, []string{"/api/hubs/chat/users/a%20b/:send?api-version=2022-06-01", "/api/hubs/chat/users/a%20b/:send?api-version=2022-06-01"}, paths)

	// A token due for renewal is minted again for the cached route.
	c.routesMu.RLock()
	re, ok := c.routes[routeKey{op: restapi.SendToUser, hub: "Chat", user: "a b"}]
	c.routesMu.RUnlock()
	require.True(t, ok)
	re.token.Store(&cachedToken{bearer: "Bearer old", minted: time.Now().Add(-2 * tokenReuse)})
	c.tokens.Clear()
	send("a b")
	auths, _ = seen()
	require.Len(t, auths, 3)
	assert.NotEqual(t, "Bearer old", auths[2])
	assert.True(t, strings.HasPrefix(auths[2], "Bearer "))

	// Excluded ids make a query: such a route is not cached.
	require.NoError(t, c.SendMessage(t.Context(), "chat", Message{Target: "t", Excluded: []string{"x"}}, nil))
	c.routesMu.RLock()
	_, ok = c.routes[routeKey{op: restapi.Broadcast, hub: "chat"}]
	c.routesMu.RUnlock()
	assert.False(t, ok)

	for i := range routeCacheSize + 10 {
		_, err := c.routeFor(restapi.SendToUser, &routeArgs{hub: "chat", user: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	c.routesMu.RLock()
	assert.LessOrEqual(t, len(c.routes), routeCacheSize, "the cache is bounded")
	c.routesMu.RUnlock()
}
