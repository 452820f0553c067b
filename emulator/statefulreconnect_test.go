package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// srClient is a hand-made stateful reconnect client speaking JSON over a
// WebSocket whose TCP connection the test can cut, as a network blip
// would. It counts the emulator's trackable messages as the official
// client does.
type srClient struct {
	t         testing.TB
	s         *emulator.Server
	hub, user string
	id, token string
	conn      net.Conn
	ws        *websocket.Conn
	pending   [][]byte
	received  uint64 // the emulator's trackable messages seen (ids 1..received)
	sent      uint64 // trackable messages sent
}

// srNegotiate negotiates as user, asking for stateful reconnect when ask is
// set, and returns the raw body.
func srNegotiate(t testing.TB, s *emulator.Server, hub, user, query string) map[string]any {
	t.Helper()
	token := mint(t, testKey, clientURL(s, hub), jwt.MapClaims{"asrs.s.uid": user})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub="+hub+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var raw map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	return raw
}

// srConnect negotiates stateful reconnect as user and connects with a
// version 2 handshake.
func srConnect(t testing.TB, s *emulator.Server, hub, user string) *srClient {
	t.Helper()
	raw := srNegotiate(t, s, hub, user, "&negotiateVersion=1&useStatefulReconnect=true")
	require.Equal(t, true, raw["useStatefulReconnect"], "negotiate grants stateful reconnect")
	c := &srClient{t: t, s: s, hub: hub, user: user, id: raw["connectionId"].(string), token: raw["connectionToken"].(string)}
	_, err := c.dial(user)
	require.NoError(t, err, "dial")
	c.sendRaw([]byte(`{"protocol":"json","version":2}` + "\x1e"))
	require.Equal(t, "{}", c.nextRecord(), "handshake response")
	return c
}

// dial opens a WebSocket with the connection token and a token of user.
func (c *srClient) dial(user string) (*http.Response, error) {
	var mu sync.Mutex
	var conn net.Conn
	hc := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			mu.Lock()
			conn = nc
			mu.Unlock()
			return nc, err
		},
	}}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+mint(c.t, testKey, clientURL(c.s, c.hub), jwt.MapClaims{"asrs.s.uid": user}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(c.s.URL, "http") + "/client/?hub=" + c.hub + "&id=" + c.token
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: hc})
	if err != nil {
		return resp, err
	}
	ws.SetReadLimit(-1)
	c.t.Cleanup(func() { _ = ws.CloseNow() })
	mu.Lock()
	c.conn, c.ws, c.pending = conn, ws, nil
	mu.Unlock()
	return resp, nil
}

// cut closes the TCP connection under the WebSocket, without a close
// handshake, and waits until the emulator notices: a dial before that
// finds the connection still connected (409).
func (c *srClient) cut() {
	c.t.Helper()
	_ = c.conn.Close()
	eventually(c.t, "the emulator notices the cut", func() bool {
		cs, ok := c.s.Emulator.Snapshot(c.hub).Connection(c.id)
		return !ok || cs.AwaitingReconnect
	})
}

// reconnect opens a new socket and sends Sequence{next}, as the official
// client does after a drop; it then expects the emulator's Sequence and
// rewinds its count of received messages to it.
func (c *srClient) reconnect(next uint64) {
	c.t.Helper()
	_, err := c.dial(c.user)
	require.NoError(c.t, err, "reconnect")
	c.sendRaw([]byte(`{"type":9,"sequenceId":` + itoa(int(next)) + "}\x1e"))
	m := c.nextNonPing()
	require.Equal(c.t, 9, m.Type, "the emulator's first message after a reconnect is Sequence, got %+v", m)
	require.LessOrEqual(c.t, m.SequenceID, c.received+1, "the emulator's Sequence is past what was received")
	c.received = m.SequenceID - 1
}

func (c *srClient) sendRaw(frame []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, frame))
}

// invoke sends a fire-and-forget Invocation of target, counted as sent.
func (c *srClient) invoke(target, arg string) {
	c.sent++
	c.sendRaw([]byte(`{"type":1,"target":"` + target + `","arguments":["` + arg + "\"]}\x1e"))
}

func (c *srClient) ack() {
	c.sendRaw([]byte(`{"type":8,"sequenceId":` + itoa(int(c.received)) + "}\x1e"))
}

func (c *srClient) read(timeout time.Duration) ([]byte, error) {
	for len(c.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, data, err := c.ws.Read(ctx)
		cancel()
		if err != nil {
			return nil, err
		}
		require.True(c.t, len(data) > 0 && data[len(data)-1] == 0x1e, "frame %q", data)
		c.pending = bytes.Split(data[:len(data)-1], []byte{0x1e})
	}
	r := c.pending[0]
	c.pending = c.pending[1:]
	return r, nil
}

func (c *srClient) nextRecord() string {
	c.t.Helper()
	r, err := c.read(5 * time.Second)
	require.NoError(c.t, err)
	return string(r)
}

type srMessage struct {
	Type       int               `json:"type"`
	Target     string            `json:"target"`
	Arguments  []json.RawMessage `json:"arguments"`
	SequenceID uint64            `json:"sequenceId"`
	Error      string            `json:"error"`
	ID         string            `json:"invocationId"`
}

func (c *srClient) nextNonPing() srMessage {
	c.t.Helper()
	for {
		var m srMessage
		r := c.nextRecord()
		require.NoError(c.t, json.Unmarshal([]byte(r), &m), r)
		if m.Type != 6 {
			return m
		}
	}
}

// nextArgument returns the argument of the next new Invocation, skipping
// pings, Acks and the duplicates a replay brings.
func (c *srClient) nextArgument() string {
	c.t.Helper()
	for {
		m := c.nextNonPing()
		if m.Type == 8 {
			continue
		}
		require.Equal(c.t, 1, m.Type, "got %+v", m)
		id := c.received + 1
		c.received = id
		var arg string
		require.NoError(c.t, json.Unmarshal(m.Arguments[0], &arg))
		return arg
	}
}

// upstreamRecorder is an upstream that records the events it gets.
type upstreamRecorder struct {
	mu     sync.Mutex
	events []string // "<event> <connection id> <body>"
}

func newUpstreamRecorder(t testing.TB) (*upstreamRecorder, *httptest.Server) {
	u := &upstreamRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.events = append(u.events, r.Header.Get("X-ASRS-Event")+" "+r.Header.Get("X-ASRS-Connection-Id")+" "+string(body))
		u.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return u, srv
}

func (u *upstreamRecorder) list() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.events...)
}

func restToConnection(t testing.TB, s *emulator.Server, hub, id, arg string) {
	t.Helper()
	resp := rest(t, s, "POST", "/api/hubs/"+hub+"/connections/"+id+"/:send", sendBody("newMessage", arg))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

func TestStatefulReconnectNegotiate(t *testing.T) {
	s := newServer(t, nil)
	assert.NotContains(t, srNegotiate(t, s, "chat", "u", "&negotiateVersion=1"), "useStatefulReconnect", "not asked for")
	assert.NotContains(t, srNegotiate(t, s, "chat", "u", "&negotiateVersion=1&useStatefulReconnect=false"), "useStatefulReconnect")
	assert.NotContains(t, srNegotiate(t, s, "chat", "u", "&useStatefulReconnect=true"), "useStatefulReconnect",
		"negotiate version 0: the token is the public connection id")
	assert.Equal(t, true, srNegotiate(t, s, "chat", "u", "&negotiateVersion=1&useStatefulReconnect=true")["useStatefulReconnect"])

	off := newServer(t, &emulator.Options{DisableStatefulReconnect: true})
	assert.NotContains(t, srNegotiate(t, off, "chat", "u", "&negotiateVersion=1&useStatefulReconnect=true"), "useStatefulReconnect")
}

// A client that was granted stateful reconnect but handshakes with version
// 1 is a classic connection: no Acks, and a dropped socket ends it.
func TestStatefulReconnectNeedsVersion2Handshake(t *testing.T) {
	up, upSrv := newUpstreamRecorder(t)
	s := newServer(t, &emulator.Options{Upstream: []emulator.UpstreamTemplate{{URLTemplate: upSrv.URL}}})
	raw := srNegotiate(t, s, "chat", "u", "&negotiateVersion=1&useStatefulReconnect=true")
	c := &srClient{t: t, s: s, hub: "chat", user: "u", id: raw["connectionId"].(string), token: raw["connectionToken"].(string)}
	_, err := c.dial("u")
	require.NoError(t, err)
	c.sendRaw([]byte(`{"protocol":"json","version":1}` + "\x1e"))
	require.Equal(t, "{}", c.nextRecord())
	c.cut()
	eventually(t, "disconnected at once", func() bool { return len(up.list()) == 2 })
	resp, err := c.dial("u")
	require.Error(t, err, "no resume for a classic connection")
	require.NotNil(t, resp, "%v", err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestStatefulReconnectResumesWithoutLoss(t *testing.T) {
	up, upSrv := newUpstreamRecorder(t)
	s := newServer(t, &emulator.Options{Upstream: []emulator.UpstreamTemplate{{URLTemplate: upSrv.URL}}})
	c := srConnect(t, s, "chat", "ada")
	rest(t, s, "PUT", "/api/hubs/chat/groups/g/connections/"+c.id, "")

	restToConnection(t, s, "chat", c.id, "before-1")
	resp := rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("newMessage", "before-2"))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, "before-1", c.nextArgument())
	assert.Equal(t, "before-2", c.nextArgument())
	c.invoke("note", "first")
	eventually(t, "the invocation reached the upstream", func() bool { return len(up.list()) == 2 })

	// The emulator acknowledges what it received within about a second.
	for {
		m := c.nextNonPing()
		if m.Type == 8 {
			assert.Equal(t, uint64(1), m.SequenceID)
			break
		}
	}

	c.cut()
	restToConnection(t, s, "chat", c.id, "during-1")
	resp = rest(t, s, "POST", "/api/hubs/chat/groups/g/:send", sendBody("newMessage", "during-2"))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	// The client replays everything since its first unacknowledged message:
	// "first" was acknowledged, so it sends Sequence 2 and a new message;
	// it also never acknowledged before-1 and before-2, which come again.
	c.reconnect(1)
	assert.Equal(t, "before-1", c.nextArgument())
	assert.Equal(t, "before-2", c.nextArgument())
	assert.Equal(t, "during-1", c.nextArgument())
	assert.Equal(t, "during-2", c.nextArgument())
	// A replayed copy of "first" (id 1) is dropped; "second" is new.
	c.sendRaw([]byte(`{"type":1,"target":"note","arguments":["first"]}` + "\x1e" + `{"type":1,"target":"note","arguments":["second"]}` + "\x1e"))
	restToConnection(t, s, "chat", c.id, "after")
	assert.Equal(t, "after", c.nextArgument())

	eventually(t, "the second invocation reached the upstream", func() bool { return len(up.list()) >= 3 })
	snap := s.Emulator.Snapshot("chat")
	require.Len(t, snap.Connections, 1)
	assert.Equal(t, c.id, snap.Connections[0].ID, "same connection id")
	assert.Equal(t, []string{"g"}, snap.Connections[0].Groups, "groups kept")
	events := up.list()
	assert.Equal(t, []string{
		"connected " + c.id + ` {"type":10}`,
		"note " + c.id + ` {"type":1,"target":"note","arguments":["first"]}`,
		"note " + c.id + ` {"type":1,"target":"note","arguments":["second"]}`,
	}, events, "no disconnected/connected pair, each invocation once")
}

func TestStatefulReconnectRefusesOthers(t *testing.T) {
	up, upSrv := newUpstreamRecorder(t)
	s := newServer(t, &emulator.Options{
		StatefulReconnectWindow: 300 * time.Millisecond,
		Upstream:                []emulator.UpstreamTemplate{{URLTemplate: upSrv.URL}},
	})
	c := srConnect(t, s, "chat", "ada")
	// The checks do not depend on the socket being gone (a reconnect may
	// come before the emulator notices a drop), so they run first, clear
	// of the short window.
	wrong := *c
	wrong.token = "not-a-token"
	resp, err := wrong.dial("ada")
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "wrong token")

	resp, err = c.dial("mallory")
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another user's token")
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), "belongs to another user")
	restToConnection(t, s, "chat", c.id, "untouched")
	assert.Equal(t, "untouched", c.nextArgument(), "a refused reconnect leaves the connection alone")

	c.cut()
	// After the window the connection is gone, with one disconnected event.
	eventually(t, "the window ends", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })
	resp, err = c.dial("ada")
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "expired token")
	eventually(t, "disconnected", func() bool { return len(up.list()) == 2 })
	// A later connection's event is the barrier: by the time it arrives, a
	// second disconnected event for c would have too.
	other := srConnect(t, s, "chat", "bob")
	eventually(t, "the next connection's event", func() bool { return len(up.list()) >= 3 })
	events := up.list()
	require.Len(t, events, 3, "one disconnected event, then the next connection's")
	assert.True(t, strings.HasPrefix(events[1], "disconnected "+c.id+` {"Type":11,"Error":"Connection closed with an error: the client did not reconnect within the stateful reconnect window`), events[1])
	assert.Equal(t, "connected "+other.id+` {"type":10}`, events[2])
}

// The replay buffer holds StatefulReconnectBufferSize bytes: past that,
// nothing more is written until the client acknowledges; and what it holds
// counts toward SendQueueBytes, so a client that never acknowledges is
// closed as too slow.
func TestStatefulReconnectReplayBufferBoundInBytes(t *testing.T) {
	const limit = 1000
	s := newServer(t, &emulator.Options{StatefulReconnectBufferSize: limit, MaxMessageSize: 1024, SendQueueBytes: 4096})
	c := srConnect(t, s, "chat", "ada")
	arg := strings.Repeat("x", 60)
	record := len(`{"type":1,"target":"newMessage","arguments":["` + arg + `"]}` + "\x1e")
	written := 0
	for written < limit {
		restToConnection(t, s, "chat", c.id, arg)
		assert.Equal(t, arg, c.nextArgument())
		written += record
	}
	// The buffer holds written >= limit bytes: the next message waits.
	restToConnection(t, s, "chat", c.id, "held")
	got := make(chan string, 1)
	go func() {
		r, _ := c.read(5 * time.Second) // a Read that times out closes the socket
		got <- string(r)
	}()
	select {
	case r := <-got:
		t.Fatalf("%q was written past the replay buffer's bound", r)
	case <-time.After(300 * time.Millisecond):
	}
	c.ack()
	assert.Contains(t, <-got, `"held"`, "an Ack releases it")
	c.received++

	// Never acknowledging: held plus queued bytes reach SendQueueBytes.
	for i := 0; i < 200; i++ {
		resp := rest(t, s, "POST", "/api/hubs/chat/connections/"+c.id+"/:send", sendBody("newMessage", arg))
		resp.Body.Close()
	}
	for {
		if _, err := c.read(5 * time.Second); err != nil {
			assert.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "closed as too slow: %v", err)
			break
		}
	}
}

// A flood of reconnects to one connection neither multiplies its
// goroutines nor grows the heap: each new socket replaces the last.
func TestStatefulReconnectFloodIsBounded(t *testing.T) {
	s := newServer(t, nil)
	c := srConnect(t, s, "chat", "ada")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	for i := 0; i < 300; i++ {
		c.cut()
		c.reconnect(1)
	}
	restToConnection(t, s, "chat", c.id, "still here")
	assert.Equal(t, "still here", c.nextArgument())
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutines+8, "goroutines grew with the reconnects")
	assert.Less(t, int64(after.HeapInuse)-int64(before.HeapInuse), int64(8<<20), "heap grew with the reconnects")
	assert.Len(t, s.Emulator.Snapshot("chat").Connections, 1)
}

// MessagePack clients get Sequence and Acks in MessagePack.
func TestStatefulReconnectMessagePack(t *testing.T) {
	s := newServer(t, nil)
	raw := srNegotiate(t, s, "chat", "u", "&negotiateVersion=1&useStatefulReconnect=true")
	c := &srClient{t: t, s: s, hub: "chat", user: "u", id: raw["connectionId"].(string), token: raw["connectionToken"].(string)}
	_, err := c.dial("u")
	require.NoError(t, err)
	c.sendRaw([]byte(`{"protocol":"messagepack","version":2}` + "\x1e"))
	readBinary := func() []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			_, data, err := c.ws.Read(ctx)
			require.NoError(t, err)
			if !bytes.Equal(data, []byte{0x02, 0x91, 0x06}) { // not a Ping
				return data
			}
		}
	}
	require.Equal(t, []byte("{}\x1e"), readBinary())
	// [1, {}, nil, "note", []] as a fire-and-forget invocation.
	inv := []byte{0x0a, 0x95, 0x01, 0x80, 0xc0, 0xa4, 'n', 'o', 't', 'e', 0x90}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageBinary, inv))
	assert.Equal(t, []byte{0x03, 0x92, 0x08, 0x01}, readBinary(), "Ack 1")
	c.cut()
	_, err = c.dial("u")
	require.NoError(t, err)
	require.NoError(t, c.ws.Write(ctx, websocket.MessageBinary, []byte{0x03, 0x92, 0x09, 0x02}))
	assert.Equal(t, []byte{0x03, 0x92, 0x09, 0x01}, readBinary(), "Sequence 1: nothing sent yet")
}

// A REST :invoke made while the socket is down waits for the connection,
// reaches the client once it is back, and gets its Completion.
func TestStatefulReconnectKeepsInvokeWaits(t *testing.T) {
	s := newServer(t, nil)
	c := srConnect(t, s, "chat", "ada")
	c.cut()
	path := "/api/hubs/chat/connections/" + c.id + "/:invoke"
	token := mint(t, testKey, s.URL+path, nil)
	result := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+path+"?api-version=2024-12-01", strings.NewReader(sendBody("ask", "?")))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			result <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		result <- itoa(resp.StatusCode) + " " + string(body)
	}()
	eventually(t, "the invocation waits in the connection's queue", func() bool { return s.Emulator.QueuedRecords("chat", c.id) == 1 })
	c.reconnect(1)
	m := c.nextNonPing()
	require.Equal(t, 1, m.Type, "%+v", m)
	require.Equal(t, "ask", m.Target)
	require.NotEmpty(t, m.ID)
	c.sendRaw([]byte(`{"type":3,"invocationId":"` + m.ID + `","result":"yes"}` + "\x1e"))
	select {
	case r := <-result:
		assert.Equal(t, `200 {"result":"yes"}`, r)
	case <-time.After(10 * time.Second):
		t.Fatal(":invoke did not complete")
	}
}

// A client Sequence past what the emulator received means lost messages:
// the connection closes with the official client's words for it.
func TestStatefulReconnectSequenceAheadCloses(t *testing.T) {
	s := newServer(t, nil)
	c := srConnect(t, s, "chat", "ada")
	c.invoke("note", "one") // id 1; no upstream, dropped
	c.cut()
	_, err := c.dial("ada")
	require.NoError(t, err)
	c.sendRaw([]byte(`{"type":9,"sequenceId":5}` + "\x1e"))
	for {
		m := c.nextNonPing()
		if m.Type == 7 {
			assert.Contains(t, m.Error, "Sequence ID greater than amount of messages we've received.")
			break
		}
	}
	eventually(t, "the connection ends", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })
}

// Long Polling and Server-Sent Events clients that ask get the grant (the
// clients then turn it off on those transports, and send a version 1
// handshake): their connections are classic, and ending them ends them.
func TestStatefulReconnectNotOnHTTPTransports(t *testing.T) {
	s := newServer(t, nil)
	raw := srNegotiate(t, s, "chat", "u", "&negotiateVersion=1&useStatefulReconnect=true")
	token := raw["connectionToken"].(string)
	auth := "Bearer " + mint(t, testKey, clientURL(s, "chat"), jwt.MapClaims{"asrs.s.uid": "u"})
	do := func(method, body string) *http.Response {
		req, _ := http.NewRequest(method, s.URL+"/client/?hub=chat&id="+token, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	require.Equal(t, http.StatusOK, do(http.MethodGet, "").StatusCode, "first poll")
	require.Equal(t, http.StatusOK, do(http.MethodPost, `{"protocol":"json","version":2}`+"\x1e").StatusCode, "handshake")
	eventually(t, "connected", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 1 })
	require.Equal(t, http.StatusAccepted, do(http.MethodDelete, "").StatusCode, "DELETE ends it")
	eventually(t, "gone at once, no window", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })
	_, err := (&srClient{t: t, s: s, hub: "chat", token: token}).dial("u")
	require.Error(t, err, "no WebSocket resume of a Long Polling connection")
}

// Shutdown does not wait out the window of a connection whose socket is
// gone: it ends at once, with its disconnected event.
func TestStatefulReconnectShutdownEndsWaitingConnections(t *testing.T) {
	up, upSrv := newUpstreamRecorder(t)
	s := emulator.NewServer(&emulator.Options{
		AccessKey:               testKey,
		StatefulReconnectWindow: time.Hour,
		Upstream:                []emulator.UpstreamTemplate{{URLTemplate: upSrv.URL}},
	})
	defer s.Close()
	c := srConnect(t, s, "chat", "ada")
	c.invoke("note", "x")
	eventually(t, "the note", func() bool { return len(up.list()) == 2 })
	c.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Emulator.Shutdown(ctx), "Shutdown waited for the reconnect window")
	events := up.list()
	require.Len(t, events, 3)
	assert.Equal(t, "disconnected "+c.id+` {"Type":11}`, events[2], "a clean disconnected event")
}

// A client that replays its latest message never saw the Ack for it: the
// emulator acknowledges it again rather than leave the client's buffer
// full.
func TestStatefulReconnectAcksAgainAReplayedLatestMessage(t *testing.T) {
	s := newServer(t, nil)
	c := srConnect(t, s, "chat", "ada")
	c.invoke("note", "one")
	m := c.nextNonPing()
	require.Equal(t, 8, m.Type, "%+v", m)
	require.Equal(t, uint64(1), m.SequenceID)
	c.cut()
	_, err := c.dial("ada")
	require.NoError(t, err)
	c.sendRaw([]byte(`{"type":9,"sequenceId":1}` + "\x1e" + `{"type":1,"target":"note","arguments":["one"]}` + "\x1e"))
	seq := c.nextNonPing()
	require.Equal(t, 9, seq.Type, "%+v", seq)
	m = c.nextNonPing()
	require.Equal(t, 8, m.Type, "%+v", m)
	assert.Equal(t, uint64(1), m.SequenceID)
}
