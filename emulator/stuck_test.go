//go:build unix

package emulator_test

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

	"github.com/funcsignalr/signalr/emulator"
)

// connectStuck connects a client that never reads, with a tiny receive
// buffer so that the emulator's writes to it block soon.
func connectStuck(t *testing.T, s *emulator.Server, hub, user string) *client {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, raw syscall.RawConn) error {
		var err error
		_ = raw.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return err
	}}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: dialer.DialContext}}
	token := mint(t, testKey, clientURL(s, hub), jwt.MapClaims{"asrs.s.uid": user})
	n := negotiate(t, s, hub, token, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/client/?hub="+hub+"&id="+n.ConnectionToken,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}, HTTPClient: hc})
	require.NoError(t, err)
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &client{t: t, ws: ws, id: n.ConnectionID}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next())
	return c
}

// fill sends n messages of size bytes to connection id. With a
// newSmallBufferServer, 16 of 48 KiB are many times what the kernel buffers
// between the emulator and a stuck client.
func fill(t *testing.T, s *emulator.Server, id string, n, size int) {
	t.Helper()
	body := sendBody("big", strings.Repeat("x", size))
	for range n {
		resp := rest(t, s, "POST", "/api/hubs/chat/connections/"+id+"/:send", body)
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
	}
}

// TestStuckWriteEndsAfterWriteTimeout: a client that stops reading while a
// write to it is under way is closed once WriteTimeout passes, so a REST
// close (or the client timeout, or pings) is not left waiting behind the
// write. The queue is large enough that only the write timeout can act.
func TestStuckWriteEndsAfterWriteTimeout(t *testing.T) {
	t.Parallel()
	s := newSmallBufferServer(t, &emulator.Options{WriteTimeout: 200 * time.Millisecond, SendQueueBytes: 64 << 20})
	stuck := connectStuck(t, s, "chat", "stuck")
	fill(t, s, stuck.id, 16, 48<<10)
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/connections/"+stuck.id, ""), 200, "")
	require.Eventually(t, func() bool { return !connected(s, stuck.id) }, 5*time.Second, 5*time.Millisecond,
		"the client whose socket is full is still connected: the write has no deadline")
}

// TestSendQueueIsBoundedByBytes: 16 messages of 48 KiB are far fewer than
// SendQueueSize, but more bytes than SendQueueBytes (plus what the kernel
// buffers), so the client that does not read is dropped rather than the
// emulator's memory growing. The write timeout is long, so only the byte
// bound can act.
func TestSendQueueIsBoundedByBytes(t *testing.T) {
	t.Parallel()
	s := newSmallBufferServer(t, &emulator.Options{WriteTimeout: time.Minute, MaxMessageSize: 64 << 10, SendQueueBytes: 128 << 10})
	stuck := connectStuck(t, s, "chat", "stuck")
	other := connect(t, s, "chat", "other")
	fill(t, s, stuck.id, 16, 48<<10)
	require.Eventually(t, func() bool { return !connected(s, stuck.id) }, 5*time.Second, 5*time.Millisecond,
		"the client stayed connected with more than SendQueueBytes queued")
	assert.True(t, connected(s, other.id), "only the slow client is dropped")
}

// TestShutdownWithFullSocketsIsBounded: clients whose sockets are full do
// not hold Shutdown for its whole grace period: the write under way is cut
// after Options.CloseTimeout, and a client that reads gets its Close message.
func TestShutdownWithFullSocketsIsBounded(t *testing.T) {
	t.Parallel()
	s := newSmallBufferServer(t, &emulator.Options{WriteTimeout: time.Minute, SendQueueBytes: 64 << 20})
	stuck := connectStuck(t, s, "chat", "stuck")
	reader := connect(t, s, "chat", "reader")
	fill(t, s, stuck.id, 16, 48<<10)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Emulator.Shutdown(ctx) }()
	m := reader.nextMessage()
	assert.Equal(t, 7, m.Type)
	assert.True(t, m.AllowReconnect)
	assert.Contains(t, m.Error, "shutting down")
	require.NoError(t, <-done, "Shutdown needed its grace period: a stuck write held it")
	assert.False(t, connected(s, stuck.id))
}
