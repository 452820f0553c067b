package benchhub

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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
