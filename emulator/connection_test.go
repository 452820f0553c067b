package emulator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// dialNoHandshake opens a negotiated WebSocket without sending the handshake.
func dialNoHandshake(t *testing.T, s *emulator.Server, hub string) *client {
	t.Helper()
	token := mint(t, testKey, clientURL(s, hub), nil)
	n := negotiate(t, s, hub, token, 1)
	ws, _, err := dialRaw(t, s, hub, "&id="+n.ConnectionToken, token)
	require.NoError(t, err)
	return &client{t: t, ws: ws, id: n.ConnectionID}
}

// wantClosed reads until the socket ends and returns its close status.
func (c *client) wantClosed() websocket.StatusCode {
	c.t.Helper()
	for {
		_, err := c.read(5 * time.Second)
		if err != nil {
			require.NotErrorIs(c.t, err, context.DeadlineExceeded, "the socket stayed open")
			return websocket.CloseStatus(err)
		}
	}
}

func TestHandshakeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		request string
		want    string
	}{
		{`{"protocol":"xml","version":1}`, "'xml' is not supported"},
		{`{"protocol":"messagepack","version":3}`, "version 3 of the 'messagepack'"},
		{`{"protocol":"json","version":3}`, "version 3"},
		{`{"protocol":"json"}`, "version"},
		{`{"version":1}`, "protocol"},
		{`not json`, "not valid JSON"},
		{`[1]`, "not valid JSON"},
	}
	s := newServer(t, nil)
	for _, tc := range cases {
		t.Run(tc.request, func(t *testing.T) {
			c := dialNoHandshake(t, s, "chat")
			c.send(tc.request)
			var resp struct{ Error string }
			require.NoError(t, json.Unmarshal([]byte(c.next()), &resp))
			assert.Contains(t, resp.Error, tc.want)
			c.wantClosed()
			assert.Empty(t, s.Emulator.Snapshot("chat").Connections, "connections registered after a failed handshake")
		})
	}
}

func TestHandshakeMayArriveInPiecesAndWithMessages(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := dialNoHandshake(t, s, "chat")
	ctx := context.Background()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json",`)))
	// The rest of the handshake, then an invocation, in one frame.
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte("\"version\":1}\x1e{\"type\":1,\"invocationId\":\"7\",\"target\":\"echo\",\"arguments\":[]}\x1e")))
	require.Equal(t, "{}", c.next(), "handshake response")
	m := c.nextMessage()
	assert.Equal(t, 3, m.Type, "a Completion")
	assert.Equal(t, "7", m.InvocationID)
	assert.Contains(t, m.Error, "no upstream")
}

func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{HandshakeTimeout: 50 * time.Millisecond})
	c := dialNoHandshake(t, s, "chat")
	assert.Contains(t, c.next(), "Handshake was canceled")
	c.wantClosed()
}

func TestPingsWhenIdleAndClosesSilentClients(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{KeepAliveInterval: 20 * time.Millisecond, ClientTimeout: 300 * time.Millisecond})
	c := connect(t, s, "chat", "")
	// Nothing is sent to the client, so what comes is a ping...
	require.Equal(t, `{"type":6}`, c.next(), "a ping")
	// ...and, since the client says nothing, eventually a Close.
	m := c.nextMessage()
	assert.Equal(t, 7, m.Type, "a Close")
	assert.Contains(t, m.Error, "timeout")
	assert.False(t, m.AllowReconnect)
	assert.Equal(t, websocket.StatusNormalClosure, c.wantClosed())
}

func TestClientPingsKeepTheConnection(t *testing.T) {
	t.Parallel()
	// The client answers every ping for three client timeouts. The timeout
	// is wide so a loaded machine's scheduling pauses cannot fake silence.
	s := newServer(t, &emulator.Options{KeepAliveInterval: 10 * time.Millisecond, ClientTimeout: time.Second})
	c := connect(t, s, "chat", "")
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		c.send(`{"type":6}`)
		require.Equal(t, `{"type":6}`, c.next(), "only pings while the client pings")
	}
	_, ok := s.Emulator.Snapshot("chat").Connection(c.id)
	assert.True(t, ok, "a pinging client was dropped")
}

func TestInvocations(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connect(t, s, "chat", "")
	c.send(
		`{"type":1,"target":"fireAndForget","arguments":[1]}`,
		`{"type":4,"invocationId":"s1","target":"stream","arguments":[]}`,
		`{"type":1,"invocationId":"42","target":"echo","arguments":["x"]}`,
		`{"type":99}`,
	)
	for _, id := range []string{"s1", "42"} {
		m := c.nextMessage()
		assert.Equal(t, 3, m.Type, "a Completion for %s", id)
		assert.Equal(t, id, m.InvocationID)
		assert.Contains(t, m.Error, "no upstream configured")
	}
	// A Close from the client ends the connection cleanly.
	c.send(`{"type":7}`)
	c.wantClosed()
	eventually(t, "the connection leaves the hub", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })
}

func TestInvalidMessageClosesWithError(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connect(t, s, "chat", "")
	c.send(`{"type":`)
	m := c.nextMessage()
	assert.Equal(t, 7, m.Type, "a Close")
	assert.NotEmpty(t, m.Error)
	c.wantClosed()
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

	v1 := negotiate(t, s, "Chat", token, 1)
	assert.Equal(t, 1, v1.NegotiateVersion)
	assert.Regexp(t, urlSafe, v1.ConnectionToken)
	assert.Regexp(t, urlSafe, v1.ConnectionID)
	assert.NotEqual(t, v1.ConnectionID, v1.ConnectionToken)
	// All three transports, in the order clients try them, with their
	// transfer formats: Server-Sent Events carries text only.
	type advertised struct {
		Transport       string
		TransferFormats []string
	}
	var got []advertised
	for _, a := range v1.AvailableTransports {
		got = append(got, advertised{a.Transport, a.TransferFormats})
	}
	assert.Equal(t, []advertised{
		{"WebSockets", []string{"Text", "Binary"}},
		{"ServerSentEvents", []string{"Text"}},
		{"LongPolling", []string{"Text", "Binary"}},
	}, got)

	v0 := negotiate(t, s, "chat", token, 0)
	assert.Equal(t, 0, v0.NegotiateVersion)
	assert.Empty(t, v0.ConnectionToken, "version 0 has no connectionToken")
	// Version 0 clients connect with the connection id.
	ws, _, err := dialRaw(t, s, "chat", "&id="+v0.ConnectionID, token)
	require.NoError(t, err, "version 0 connect")
	ws.CloseNow()

	// Asked for, stateful reconnect is granted (see statefulreconnect_test.go).
	req, _ := http.NewRequest("POST", s.URL+"/client//negotiate?hub=chat&negotiateVersion=1&useStatefulReconnect=true", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, true, raw["useStatefulReconnect"])

	// GET is refused; a missing or bad hub is a 400.
	for _, tc := range []struct {
		method, url string
		status      int
	}{
		{"GET", "/client/negotiate?hub=chat", 405},
		{"POST", "/client/negotiate", 400},
		{"POST", "/client/negotiate?hub=9lives", 400},
	} {
		req, _ := http.NewRequest(tc.method, s.URL+tc.url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s", tc.method, tc.url)
	}
}

func TestConnectIDs(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	token := mint(t, testKey, clientURL(s, "chat"), nil)

	_, resp, err := dialRaw(t, s, "chat", "&id=unknown", token)
	require.Error(t, err, "unknown id")
	assert.Equal(t, 404, resp.StatusCode, "unknown id")
	n := negotiate(t, s, "chat", token, 1)
	_, _, err = dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token)
	require.NoError(t, err)
	_, resp, err = dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token)
	require.Error(t, err, "second socket for one id")
	assert.Equal(t, 409, resp.StatusCode, "second socket for one id")
	otherHubToken := mint(t, testKey, clientURL(s, "other"), nil)
	n = negotiate(t, s, "chat", token, 1)
	_, resp, err = dialRaw(t, s, "other", "&id="+n.ConnectionToken, otherHubToken)
	require.Error(t, err, "id used on another hub")
	assert.Equal(t, 404, resp.StatusCode, "id used on another hub")

	// Without an id (the client's skipNegotiation) a new connection is made.
	ws, _, err := dialRaw(t, s, "chat", "", token)
	require.NoError(t, err)
	c := &client{t: t, ws: ws}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next(), "handshake response")

	// Anything but a WebSocket is refused.
	req, _ := http.NewRequest("GET", s.URL+"/client/?hub=chat", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	r, err := httpClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, 400, r.StatusCode, "SSE request")
}

func TestNegotiatedTokenExpires(t *testing.T) {
	t.Parallel()
	// A timeout of 1ns has passed by the time the client connects.
	s := newServer(t, &emulator.Options{NegotiateTimeout: time.Nanosecond})
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	n := negotiate(t, s, "chat", token, 1)
	_, resp, err := dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token)
	require.Error(t, err, "stale id")
	assert.Equal(t, 404, resp.StatusCode, "stale id")
}

func TestShutdownSendsCloseAndRefusesNewConnections(t *testing.T) {
	t.Parallel()
	s := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer s.Close()
	c := connect(t, s, "chat", "")
	done := make(chan error, 1)
	go func() { done <- s.Emulator.Shutdown(context.Background()) }()
	m := c.nextMessage()
	assert.Equal(t, 7, m.Type, "a Close")
	assert.True(t, m.AllowReconnect)
	assert.Contains(t, m.Error, "shutting down")
	c.wantClosed()
	require.NoError(t, <-done, "Shutdown")
	require.ErrorIs(t, s.Emulator.Shutdown(context.Background()), emulator.ErrClosed, "second Shutdown")
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	ws, _, err := dialRaw(t, s, "chat", "", token)
	require.NoError(t, err, "connect after shutdown: want the socket accepted, then closed with 1001")
	c = &client{t: t, ws: ws}
	assert.Equal(t, websocket.StatusGoingAway, c.wantClosed(), "connect after shutdown")
}

func TestShutdownDeadlineClosesStuckSockets(t *testing.T) {
	t.Parallel()
	s := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer s.Close()
	c := connect(t, s, "chat", "")
	_ = c // never read: the close handshake cannot complete
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Emulator.Shutdown(ctx), context.DeadlineExceeded)
}

// A REST close reaches the client after what was sent to it before: the
// :execute example sends a message and then closes, and the message must
// not be dropped in favour of the Close.
func TestCloseComesAfterWhatWasSentBefore(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var clients []*client
	for range 20 {
		clients = append(clients, connect(t, s, "chat", "bob"))
	}
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:execute?api-version=2023-07-01",
		`[{"type":"SendMessage","message":{"target":"last","arguments":["words"]}},{"type":"CloseConnection","reason":"bye"}]`), 202, "")
	for _, c := range clients {
		m := c.nextMessage()
		require.Equal(t, 1, m.Type, "got %+v before the Close, want the message sent before it", m)
		require.Equal(t, "last", m.Target)
		m = c.nextMessage()
		require.Equal(t, 7, m.Type)
		require.Equal(t, "bye", m.Error)
	}
	// The same with separate calls: a send to the user, then a close of
	// the user's connections.
	clients = clients[:0]
	for range 20 {
		clients = append(clients, connect(t, s, "chat", "carol"))
	}
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/users/carol", sendBody("last", "words")), 202, "")
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/users/carol/:closeConnections?reason=bye", ""), 204, "")
	for _, c := range clients {
		m := c.nextMessage()
		require.Equal(t, 1, m.Type, "got %+v before the Close, want the message sent before it", m)
		m = c.nextMessage()
		require.Equal(t, 7, m.Type)
	}
}
