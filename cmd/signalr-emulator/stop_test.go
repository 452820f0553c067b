//go:build unix

package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSIGTERMWithFullSocketsEndsWithinTheGrace: clients whose sockets are
// full do not make a stop wait for the whole shutdown grace, and a client
// that reads gets a Close message.
func TestSIGTERMWithFullSocketsEndsWithinTheGrace(t *testing.T) {
	t.Parallel()
	r := start(t)
	base := "127.0.0.1:" + r.port
	dialClient(t, base, r.key, "stuck", 4096) // never reads
	reader := dialClient(t, base, r.key, "reader", 0)
	big := `{"target":"big","arguments":["` + strings.Repeat("x", 256<<10) + `"]}`
	for range 24 { // 6 MiB: more than the kernel buffers between them
		path := "/api/hubs/chat/users/stuck/:send"
		token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"aud": "http://" + base + path, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(r.key))
		req, _ := http.NewRequest(http.MethodPost, "http://"+base+path, strings.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
	}

	began := time.Now()
	r.stop()
	_, data, err := reader.Read(context.Background())
	require.NoError(t, err)
	assert.Contains(t, string(data), `"type":7`, "the reading client gets a Close message")
	assert.Contains(t, string(data), `"allowReconnect":true`)
	require.NoError(t, <-r.done)
	r.done <- nil
	took := time.Since(began)
	t.Logf("stopped in %v", took.Round(time.Millisecond))
	assert.Less(t, took, shutdownGrace, "the stop waited for the whole grace")
	assert.NotContains(t, r.stderr.String(), "cut off")
}

// dialClient connects a JSON hub protocol client as user to hub chat with
// a token signed with key;
// rcvBuf, if set, shrinks its socket's receive buffer.
func dialClient(t *testing.T, base, key, user string, rcvBuf int) *websocket.Conn {
	t.Helper()
	dialer := &net.Dialer{}
	if rcvBuf > 0 {
		dialer.Control = func(_, _ string, raw syscall.RawConn) error {
			var err error
			_ = raw.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			return err
		}
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "http://" + base + "/client/?hub=chat", "exp": time.Now().Add(time.Hour).Unix(), "asrs.s.uid": user,
	}).SignedString([]byte(key))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+base+"/client/?hub=chat", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: dialer.DialContext}},
	})
	require.NoError(t, err)
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")))
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "{}\x1e", string(data))
	return ws
}
