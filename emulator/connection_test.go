package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/funcsignalr/signalr/emulator"
)

// dialNoHandshake opens a negotiated WebSocket without sending the handshake.
func dialNoHandshake(t *testing.T, s *emulator.Server, hub string) *client {
	t.Helper()
	token := mint(t, testKey, clientURL(s, hub), nil)
	n := negotiate(t, s, hub, token, 1)
	ws, _, err := dialRaw(t, s, hub, "&id="+n.ConnectionToken, token)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, ws: ws, id: n.ConnectionID}
}

// wantClosed reads until the socket ends and returns its close status.
func (c *client) wantClosed() websocket.StatusCode {
	c.t.Helper()
	for {
		_, err := c.read(5 * time.Second)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatal("the socket stayed open")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func TestHandshakeErrors(t *testing.T) {
	cases := []struct {
		request string
		want    string
	}{
		{`{"protocol":"messagepack","version":1}`, "messagepack"},
		{`{"protocol":"json","version":2}`, "version 2"},
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
			if err := json.Unmarshal([]byte(c.next()), &resp); err != nil || !strings.Contains(resp.Error, tc.want) {
				t.Fatalf("handshake response error %q (%v), want one naming %q", resp.Error, err, tc.want)
			}
			c.wantClosed()
			if n := len(s.Snapshot("chat").Connections); n != 0 {
				t.Fatalf("%d connections registered after a failed handshake", n)
			}
		})
	}
}

func TestHandshakeMayArriveInPiecesAndWithMessages(t *testing.T) {
	s := newServer(t, nil)
	c := dialNoHandshake(t, s, "chat")
	ctx := context.Background()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json",`)); err != nil {
		t.Fatal(err)
	}
	// The rest of the handshake, then an invocation, in one frame.
	if err := c.ws.Write(ctx, websocket.MessageText, []byte("\"version\":1}\x1e{\"type\":1,\"invocationId\":\"7\",\"target\":\"echo\",\"arguments\":[]}\x1e")); err != nil {
		t.Fatal(err)
	}
	if got := c.next(); got != "{}" {
		t.Fatalf("handshake response %q", got)
	}
	if m := c.nextMessage(); m.Type != 3 || m.InvocationID != "7" || !strings.Contains(m.Error, "no upstream") {
		t.Fatalf("got %+v, want a Completion error for invocation 7", m)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s := newServer(t, &emulator.Options{HandshakeTimeout: 50 * time.Millisecond})
	c := dialNoHandshake(t, s, "chat")
	if got := c.next(); !strings.Contains(got, "Handshake was canceled") {
		t.Fatalf("got %q, want a handshake error", got)
	}
	c.wantClosed()
}

func TestPingsWhenIdleAndClosesSilentClients(t *testing.T) {
	s := newServer(t, &emulator.Options{KeepAliveInterval: 20 * time.Millisecond, ClientTimeout: 300 * time.Millisecond})
	c := connect(t, s, "chat", "")
	// Nothing is sent to the client, so what comes is a ping...
	if got := c.next(); got != `{"type":6}` {
		t.Fatalf("got %q, want a ping", got)
	}
	// ...and, since the client says nothing, eventually a Close.
	m := c.nextMessage()
	if m.Type != 7 || !strings.Contains(m.Error, "timeout") || m.AllowReconnect {
		t.Fatalf("got %+v, want Close with a timeout error", m)
	}
	if status := c.wantClosed(); status != websocket.StatusNormalClosure {
		t.Fatalf("close status %v, want 1000", status)
	}
}

func TestClientPingsKeepTheConnection(t *testing.T) {
	// The client answers every ping for three client timeouts. The timeout
	// is wide so a loaded machine's scheduling pauses cannot fake silence.
	s := newServer(t, &emulator.Options{KeepAliveInterval: 10 * time.Millisecond, ClientTimeout: time.Second})
	c := connect(t, s, "chat", "")
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		c.send(`{"type":6}`)
		if got := c.next(); got != `{"type":6}` {
			t.Fatalf("got %q, want only pings while the client pings", got)
		}
	}
	if _, ok := s.Snapshot("chat").Connection(c.id); !ok {
		t.Fatal("a pinging client was dropped")
	}
}

func TestInvocations(t *testing.T) {
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
		if m.Type != 3 || m.InvocationID != id || !strings.Contains(m.Error, "no upstream configured") {
			t.Fatalf("got %+v, want a Completion error for %s", m, id)
		}
	}
	// A Close from the client ends the connection cleanly.
	c.send(`{"type":7}`)
	c.wantClosed()
	eventually(t, "the connection leaves the hub", func() bool { return len(s.Snapshot("chat").Connections) == 0 })
}

func TestInvalidMessageClosesWithError(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s, "chat", "")
	c.send(`{"type":`)
	if m := c.nextMessage(); m.Type != 7 || m.Error == "" {
		t.Fatalf("got %+v, want a Close with an error", m)
	}
	c.wantClosed()
}

func TestNegotiate(t *testing.T) {
	s := newServer(t, nil)
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

	v1 := negotiate(t, s, "Chat", token, 1)
	if v1.NegotiateVersion != 1 || !urlSafe.MatchString(v1.ConnectionToken) || !urlSafe.MatchString(v1.ConnectionID) || v1.ConnectionID == v1.ConnectionToken {
		t.Fatalf("version 1 response %+v", v1)
	}
	if len(v1.AvailableTransports) != 1 || v1.AvailableTransports[0].Transport != "WebSockets" {
		t.Fatalf("transports %+v, want only WebSockets", v1.AvailableTransports)
	}

	v0 := negotiate(t, s, "chat", token, 0)
	if v0.NegotiateVersion != 0 || v0.ConnectionToken != "" {
		t.Fatalf("version 0 response %+v, want no connectionToken", v0)
	}
	// Version 0 clients connect with the connection id.
	ws, _, err := dialRaw(t, s, "chat", "&id="+v0.ConnectionID, token)
	if err != nil {
		t.Fatalf("version 0 connect: %v", err)
	}
	ws.CloseNow()

	// The raw body has no useStatefulReconnect, even when asked.
	req, _ := http.NewRequest("POST", s.URL+"/client//negotiate?hub=chat&negotiateVersion=1&useStatefulReconnect=true", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if _, ok := raw["useStatefulReconnect"]; ok || resp.StatusCode != 200 {
		t.Fatalf("negotiate = %d %v", resp.StatusCode, raw)
	}

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
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("%s %s = %d, want %d", tc.method, tc.url, resp.StatusCode, tc.status)
		}
	}
}

func TestConnectIDs(t *testing.T) {
	s := newServer(t, nil)
	token := mint(t, testKey, clientURL(s, "chat"), nil)

	_, resp, err := dialRaw(t, s, "chat", "&id=unknown", token)
	if err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown id: %v %v, want 404", err, resp)
	}
	n := negotiate(t, s, "chat", token, 1)
	if _, _, err := dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token); err != nil {
		t.Fatal(err)
	}
	_, resp, err = dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token)
	if err == nil || resp.StatusCode != 409 {
		t.Fatalf("second socket for one id: %v %v, want 409", err, resp)
	}
	otherHubToken := mint(t, testKey, clientURL(s, "other"), nil)
	n = negotiate(t, s, "chat", token, 1)
	if _, resp, err = dialRaw(t, s, "other", "&id="+n.ConnectionToken, otherHubToken); err == nil || resp.StatusCode != 404 {
		t.Fatalf("id used on another hub: %v %v, want 404", err, resp)
	}

	// Without an id (the client's skipNegotiation) a new connection is made.
	ws, _, err := dialRaw(t, s, "chat", "", token)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ws: ws}
	c.send(`{"protocol":"json","version":1}`)
	if c.next() != "{}" {
		t.Fatal("no handshake response")
	}

	// Anything but a WebSocket is refused.
	req, _ := http.NewRequest("GET", s.URL+"/client/?hub=chat", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	r, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 400 {
		t.Fatalf("SSE request = %d, want 400", r.StatusCode)
	}
}

func TestNegotiatedTokenExpires(t *testing.T) {
	// A timeout of 1ns has passed by the time the client connects.
	s := newServer(t, &emulator.Options{NegotiateTimeout: time.Nanosecond})
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	n := negotiate(t, s, "chat", token, 1)
	if _, resp, err := dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token); err == nil || resp.StatusCode != 404 {
		t.Fatalf("stale id: %v, want 404", err)
	}
}

func TestShutdownSendsCloseAndRefusesNewConnections(t *testing.T) {
	s := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer s.Close()
	c := connect(t, s, "chat", "")
	done := make(chan error, 1)
	go func() { done <- s.Emulator.Shutdown(context.Background()) }()
	m := c.nextMessage()
	if m.Type != 7 || !m.AllowReconnect || !strings.Contains(m.Error, "shutting down") {
		t.Fatalf("got %+v, want Close allowing reconnect", m)
	}
	c.wantClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Emulator.Shutdown(context.Background()); !errors.Is(err, emulator.ErrClosed) {
		t.Fatalf("second Shutdown = %v, want ErrClosed", err)
	}
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	ws, _, err := dialRaw(t, s, "chat", "", token)
	if err != nil {
		t.Fatalf("connect after shutdown: %v; want the socket accepted, then closed with 1001", err)
	}
	c = &client{t: t, ws: ws}
	if status := c.wantClosed(); status != websocket.StatusGoingAway {
		t.Fatalf("connect after shutdown: close status %v, want 1001", status)
	}
}

func TestShutdownDeadlineClosesStuckSockets(t *testing.T) {
	s := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer s.Close()
	c := connect(t, s, "chat", "")
	_ = c // never read: the close handshake cannot complete
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Emulator.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline error", err)
	}
}
