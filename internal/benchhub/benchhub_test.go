package benchhub

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	assert.Equal(t, Summary{Median: 2, Min: 1, Max: 9, N: 3}, Summarize([]float64{9, 1, 2}))
	assert.Equal(t, Summary{Median: 2.5, Min: 1, Max: 4, N: 4}, Summarize([]float64{4, 1, 3, 2}))
	assert.Equal(t, Summary{}, Summarize(nil))
	assert.Equal(t, "median 2.000 (1.000-9.000, 3 rounds)", Summarize([]float64{9, 1, 2}).String())
}

func dialHandshake(t *testing.T, url string) *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), nil)
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")))
	_, answer, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "{}\x1e", string(answer))
	return ws
}

// The hub delivers every broadcast, in order, to a client, and a POST with
// a bad body is refused.
func TestHubBroadcasts(t *testing.T) {
	t.Parallel()
	h := &Hub{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	ws := dialHandshake(t, srv.URL)
	defer ws.CloseNow()
	for deadline := time.Now().Add(5 * time.Second); h.Clients() < 1; {
		require.True(t, time.Now().Before(deadline), "client never registered")
		time.Sleep(time.Millisecond)
	}
	for i := range 3 {
		resp, err := srv.Client().Post(srv.URL+"/broadcast", "application/json",
			strings.NewReader(`{"target":"t","arguments":[`+string(rune('0'+i))+`]}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 202, resp.StatusCode)
	}
	resp, err := srv.Client().Post(srv.URL+"/broadcast", "application/json", strings.NewReader(`nope`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode)

	var got []byte
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for bytes.Count(got, []byte{0x1e}) < 3 {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		got = append(got, data...)
	}
	assert.Equal(t, "{\"type\":1,\"target\":\"t\",\"arguments\":[0]}\x1e{\"type\":1,\"target\":\"t\",\"arguments\":[1]}\x1e{\"type\":1,\"target\":\"t\",\"arguments\":[2]}\x1e", string(got))
}

// The bare loop writes n records, k to a frame, the last frame holding the
// rest.
func TestBareWritesKRecordsPerFrame(t *testing.T) {
	t.Parallel()
	s := &Bare{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	ws := dialHandshake(t, srv.URL)
	defer ws.CloseNow()
	for deadline := time.Now().Add(5 * time.Second); s.Clients() < 1; {
		require.True(t, time.Now().Before(deadline), "client never registered")
		time.Sleep(time.Millisecond)
	}
	go s.Run([]byte("r\x1e"), 7, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var frames []int
	for total := 0; total < 7; {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		n := bytes.Count(data, []byte{0x1e})
		frames = append(frames, n)
		total += n
	}
	assert.Equal(t, []int{3, 3, 1}, frames)
}

// TestMain fails the run if a connection's goroutine outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// With a Key the hub refuses a POST and a WebSocket without a token, or
// with one for another URL, and takes one signed for the request's URL.
func TestHubChecksTokens(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	h := &Hub{Key: key}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	mint := func(aud string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": aud, "exp": time.Now().Add(time.Hour).Unix()}).SignedString(key)
		require.NoError(t, err)
		return tok
	}
	post := func(token string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/broadcast", strings.NewReader(`{"target":"t","arguments":[]}`))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, post(""))
	assert.Equal(t, http.StatusUnauthorized, post(mint(srv.URL+"/other")))
	assert.Equal(t, http.StatusAccepted, post(mint(srv.URL+"/broadcast")))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + mint(srv.URL+"/")}}})
	require.NoError(t, err)
	ws.CloseNow()
}
