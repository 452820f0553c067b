package emulator

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// negotiateRequest builds a negotiate request for hub with a valid token.
func negotiateRequest(tb testing.TB, hub string) *http.Request {
	tb.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "http://emulator.test/client/?hub=" + hub,
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(DefaultAccessKey))
	require.NoError(tb, err)
	r := httptest.NewRequest(http.MethodPost, "http://emulator.test/client/negotiate?hub="+hub+"&negotiateVersion=1", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func serveNegotiate(tb testing.TB, e *Emulator, hub string) int {
	tb.Helper()
	w := httptest.NewRecorder()
	e.ServeHTTP(w, negotiateRequest(tb, hub))
	return w.Code
}

// TestOneHubDoesNotWaitForAnother holds every lock of hub "busy", as a long
// operation on it would, and checks that negotiate and the REST API still
// serve hub "quiet". Before each hub had its own locks, negotiate held an
// emulator-wide lock while it scanned every pending token of every hub.
func TestOneHubDoesNotWaitForAnother(t *testing.T) {
	t.Parallel()
	e := mustNew(t, nil)
	require.Equal(t, http.StatusOK, serveNegotiate(t, e, "busy"))
	release := e.holdHub("busy")
	defer release()

	done := make(chan int, 1)
	go func() { done <- serveNegotiate(t, e, "quiet") }()
	select {
	case code := <-done:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(5 * time.Second):
		release()
		<-done
		require.FailNow(t, "negotiate on hub quiet waited for hub busy's lock")
	}
}

// TestPendingTokensExpire checks that expired tokens are forgotten, and that
// the bookkeeping shrinks with them.
func TestPendingTokensExpire(t *testing.T) {
	t.Parallel()
	p := newPendingSet()
	start := time.Now()
	for i := range 10_000 {
		require.True(t, p.add("t"+strconv.Itoa(i), "c", start, start.Add(time.Minute)))
	}
	_, status := p.claim("t5", start)
	assert.Equal(t, http.StatusOK, status)
	_, status = p.claim("t5", start)
	assert.Equal(t, http.StatusConflict, status, "a token connects once")

	later := start.Add(2 * time.Minute)
	require.True(t, p.add("fresh", "c2", later, later.Add(time.Minute)))
	assert.Equal(t, 1, p.expire(later))
	assert.Less(t, len(p.order), 100, "the expired tokens' slots were reclaimed")
	_, status = p.claim("t6", later)
	assert.Equal(t, http.StatusNotFound, status)
	id, status := p.claim("fresh", later)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "c2", id)
}

// BenchmarkNegotiatePending measures negotiate with no pending token and
// with 76,000 (the figure at which the old scan cost 1.16 ms), on another
// hub and on the same hub.
func BenchmarkNegotiatePending(b *testing.B) {
	for _, pending := range []int{0, 76_000} {
		b.Run("pending="+strconv.Itoa(pending), func(b *testing.B) {
			e := mustNew(b, &Options{NegotiateTimeout: time.Hour})
			for range pending {
				serveNegotiate(b, e, "chat")
			}
			r := negotiateRequest(b, "chat")
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, r)
				require.False(b, w.Code != http.StatusOK, w.Code)
			}
		})
	}
}
