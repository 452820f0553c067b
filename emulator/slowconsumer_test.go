package emulator_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// TestSlowConsumerIsClosedWithoutStallingOthers broadcasts large messages
// to a client that never reads and one that does. The stuck client's queue
// fills and it is closed; the broadcast calls never block, and the reading
// client gets every message.
func TestSlowConsumerIsClosedWithoutStallingOthers(t *testing.T) {
	t.Parallel()
	// Not a newSmallBufferServer: the reading client's small send buffer
	// would then overflow its queue of 2 as well.
	s := newServer(t, &emulator.Options{SendQueueSize: 2})
	stuck := connect(t, s, "chat", "stuck")
	reader := connect(t, s, "chat", "reader")

	received := countBig(reader)

	body := sendBody("big", strings.Repeat("x", 256<<10))
	sent := 0
	for ; sent < 400 && connected(s, stuck.id); sent++ {
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", body), 202, "")
	}
	require.Eventually(t, func() bool { return !connected(s, stuck.id) }, 5*time.Second, 5*time.Millisecond,
		"the stuck client is dropped")
	require.True(t, connected(s, reader.id), "the reading client was dropped too")
	t.Logf("the stuck client was dropped after %d broadcasts", sent)
	// A marker tells the reader goroutine where the stream ends.
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+reader.id+"/:send", sendBody("done", "")), 202, "")
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/connections/"+reader.id, ""), 200, "")
	assert.Equal(t, sent, <-received, "the reader got every broadcast")
	// The stuck client finds its connection closed once it reads again.
	for {
		if _, err := stuck.read(5 * time.Second); err != nil {
			break
		}
	}
}

// countBig reads from c until its connection ends (or 10 s pass without a
// frame) and then sends how many "big" messages it read.
func countBig(c *client) <-chan int {
	received := make(chan int, 1)
	go func() {
		n := 0
		defer func() { received <- n }()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, data, err := c.ws.Read(ctx)
			cancel()
			if err != nil {
				return
			}
			n += bytes.Count(data, []byte(`"target":"big"`))
		}
	}()
	return received
}

func connected(s *emulator.Server, id string) bool {
	_, ok := s.Emulator.Snapshot("chat").Connection(id)
	return ok
}

// A connection whose reads are held back by a stuck upstream (its client
// invoked more than the upstream queue holds) is still dropped once
// broadcasts overflow its send queue: until it leaves, it would keep every
// broadcast appended since in memory.
func TestOverflowDropsConnectionHeldByUpstream(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		if call.Header.Get("X-ASRS-Event") == "held" {
			<-release
		}
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), UpstreamTimeout: time.Hour, SendQueueSize: 4})
	t.Cleanup(func() { close(release) }) // before the emulator shuts down
	held := connect(t, s, "chat", "held")
	other := connect(t, s, "chat", "other")

	// More invocations than the upstream queue holds: the connection's
	// writer waits for room.
	var records []string
	for range 100 {
		records = append(records, `{"type":1,"target":"held","arguments":[]}`)
	}
	held.send(records...)
	eventually(t, "the first call reaches the upstream", func() bool { return len(up.eventsOf(held.id)) >= 2 })

	for i := range 10 {
		wantStatus(t, rest(t, s, http.MethodPost, "/api/v1/hubs/chat", sendBody("b", itoa(i))), http.StatusAccepted, "")
		other.wantInvocation("b", itoa(i))
	}
	eventually(t, "the overflowed connection leaves the hub", func() bool {
		for _, c := range s.Emulator.Snapshot("chat").Connections {
			if c.ID == held.id {
				return false
			}
		}
		return true
	})
}

// More clients that stopped reading than the writer pool has workers,
// stand-ins included, and one that reads: the pool leaves each stuck
// client to its own goroutine once its socket has no room, so the reader
// gets every broadcast and stays connected while the stuck ones are
// dropped. Were the pool to write into full sockets, its workers would all
// wait (the write timeout is a minute) and the reader's queue of 4 would
// overflow.
func TestStuckClientsDoNotHoldTheWriterPool(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{SendQueueSize: 4, WriteTimeout: time.Minute})
	const stuckClients = 24 // more than GOMAXPROCS plus the pool's 16 stand-ins
	var stuck []*client
	for i := range stuckClients {
		stuck = append(stuck, connectSmallReadBuffer(t, s, "chat", "stuck"+itoa(i)))
	}
	reader := connect(t, s, "chat", "reader")
	received := countBig(reader)
	anyConnected := func() bool {
		for _, c := range stuck {
			if connected(s, c.id) {
				return true
			}
		}
		return false
	}
	body := sendBody("big", strings.Repeat("x", 64<<10))
	sent := 0
	for ; sent < 2000 && anyConnected(); sent++ {
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", body), 202, "")
	}
	require.False(t, anyConnected(), "every stuck client is dropped")
	require.True(t, connected(s, reader.id), "the reading client was dropped too")
	t.Logf("the stuck clients were dropped after %d broadcasts", sent)
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/connections/"+reader.id, ""), 200, "")
	assert.Equal(t, sent, <-received, "the reader got every broadcast")
}

// connectSmallReadBuffer is connect over a socket with a small receive
// buffer, so that a client that does not read fills it quickly.
func connectSmallReadBuffer(t *testing.T, s *emulator.Server, hub, user string) *client {
	t.Helper()
	token := mint(t, testKey, clientURL(s, hub), jwt.MapClaims{"asrs.s.uid": user})
	n := negotiate(t, s, hub, token, 1)
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(8 << 10)
		}
		return conn, err
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/client/?hub=" + hub + "&id=" + n.ConnectionToken
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	require.NoError(t, err)
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &client{t: t, ws: ws, id: n.ConnectionID}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next(), "handshake response")
	return c
}
