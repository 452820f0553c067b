package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/signalr/emulator"
)

// wire is one client transport, carrying frames of hub messages.
type wire interface {
	// send writes one frame (a WebSocket message, or a POST body).
	send(frame []byte) error
	// recv returns the next frame, io.EOF once the server ended the
	// transport cleanly.
	recv(timeout time.Duration) ([]byte, error)
}

// wsWire is the WebSockets transport.
type wsWire struct {
	ws     *websocket.Conn
	binary bool
}

func (w *wsWire) send(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ := websocket.MessageText
	if w.binary {
		typ = websocket.MessageBinary
	}
	return w.ws.Write(ctx, typ, frame)
}

func (w *wsWire) recv(timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, data, err := w.ws.Read(ctx)
	if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
		return nil, io.EOF
	}
	return data, err
}

// httpWire holds what SSE and Long Polling share: POST to send.
type httpWire struct {
	url   string // .../client/?hub=<hub>&id=<token>
	token string
}

func (h *httpWire) request(ctx context.Context, method string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	return httpClient.Do(req)
}

func (h *httpWire) send(frame []byte) error { return h.sendWithin(frame, 5*time.Second) }

func (h *httpWire) sendWithin(frame []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := h.request(ctx, http.MethodPost, frame)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("send: %d %s", resp.StatusCode, body)
	}
	return nil
}

// lpWire is Long Polling: recv polls.
type lpWire struct{ httpWire }

// poll makes one GET and returns its status and body.
func (l *lpWire) poll(timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.url+"&_="+fmt.Sprint(time.Now().UnixNano()), nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (l *lpWire) recv(timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for time.Until(deadline) > 0 {
		status, body, err := l.poll(time.Until(deadline))
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusNoContent:
			return nil, io.EOF
		case status != http.StatusOK:
			return nil, fmt.Errorf("poll: %d %s", status, body)
		case len(body) > 0:
			return body, nil
		}
	}
	return nil, context.DeadlineExceeded
}

// sseWire is Server-Sent Events: a reader goroutine parses the stream.
type sseWire struct {
	httpWire
	events chan []byte
	done   chan struct{} // closed when the stream ended
	err    error
	ctx    context.Context // ends with the test: the reader stops waiting
	cancel context.CancelFunc
}

func (s *sseWire) recv(timeout time.Duration) ([]byte, error) {
	select {
	case e := <-s.events:
		return e, nil
	case <-s.done:
		select {
		case e := <-s.events:
			return e, nil
		default:
		}
		return nil, s.err
	case <-time.After(timeout):
		return nil, context.DeadlineExceeded
	}
}

// readEvents reads data: lines, joining an event's lines with "\n".
func (s *sseWire) readEvents(body io.ReadCloser) {
	defer close(s.done)
	defer body.Close()
	r := bufio.NewReader(body)
	var event []byte
	lines := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.err = io.EOF
			if !errors.Is(err, io.EOF) {
				s.err = err
			}
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if lines > 0 {
				select {
				case s.events <- event:
				case <-s.ctx.Done():
					s.err = s.ctx.Err()
					return
				}
			}
			event, lines = nil, 0
		case strings.HasPrefix(line, "data: "):
			if lines > 0 {
				event = append(event, '\n')
			}
			event = append(event, strings.TrimPrefix(line, "data: ")...)
			lines++
		}
	}
}

// transportName values.
const (
	webSockets       = "WebSockets"
	serverSentEvents = "ServerSentEvents"
	longPolling      = "LongPolling"
)

var allTransportNames = []string{webSockets, serverSentEvents, longPolling}

// openWire negotiates and opens transport for user, without a handshake.
func openWire(t testing.TB, s *emulator.Server, hub, user, transport string) (w wire, connectionID, token string) {
	t.Helper()
	claims := jwt.MapClaims{}
	if user != "" {
		claims["asrs.s.uid"] = user
	}
	token = mint(t, testKey, clientURL(s, hub), claims)
	n := negotiate(t, s, hub, token, 1)
	base := s.URL + "/client/?hub=" + url.QueryEscape(hub) + "&id=" + n.ConnectionToken
	hw := httpWire{url: base, token: token}
	switch transport {
	case webSockets:
		ws, _, err := dialRaw(t, s, hub, "&id="+n.ConnectionToken, token)
		require.NoError(t, err)
		return &wsWire{ws: ws}, n.ConnectionID, token
	case longPolling:
		lp := &lpWire{hw}
		status, body, err := lp.poll(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "the first poll starts the connection")
		require.Empty(t, body)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if resp, err := lp.request(ctx, http.MethodDelete, nil); err == nil {
				resp.Body.Close()
			}
		})
		return lp, n.ConnectionID, token
	case serverSentEvents:
		ctx, cancel := context.WithCancel(context.Background())
		// The token goes in the query, as the official client sends it.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"&access_token="+url.QueryEscape(token), nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			cancel()
			require.NoError(t, err)
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		sw := &sseWire{httpWire: hw, events: make(chan []byte, 64), done: make(chan struct{}), ctx: ctx, cancel: cancel}
		go sw.readEvents(resp.Body)
		t.Cleanup(func() {
			cancel()
			<-sw.done
		})
		return sw, n.ConnectionID, token
	}
	require.FailNow(t, fmt.Sprintf("unknown transport %q", transport))
	return nil, "", ""
}

// hubMsg is a server message decoded from either protocol.
type hubMsg struct {
	Type           int
	Target         string
	Arguments      []any
	InvocationID   string
	Error          string
	AllowReconnect bool
	Result         any // a Completion's result (MessagePack only)
	ResultKind     int // a MessagePack Completion's: 1 error, 2 void, 3 result
}

// hubClient speaks a hub protocol over a wire.
type hubClient struct {
	t        testing.TB
	w        wire
	protocol string // "json" or "messagepack"
	id       string
	pending  [][]byte
	// lastInvocationID is the id of the last MessagePack Invocation read.
	lastInvocationID string
}

// handshake sends the handshake request (as text, as the official clients
// do) and returns the response record.
func (c *hubClient) handshake() (string, error) {
	if err := c.w.send([]byte(`{"protocol":"` + c.protocol + `","version":1}` + "\x1e")); err != nil {
		return "", err
	}
	frame, err := c.w.recv(5 * time.Second)
	if err != nil {
		return "", err
	}
	i := bytes.IndexByte(frame, 0x1e)
	require.GreaterOrEqual(c.t, i, 0, "handshake response %q has no separator", frame)
	if rest := frame[i+1:]; len(rest) > 0 {
		c.pending = append(c.pending, c.split(rest)...)
	}
	return string(frame[:i]), nil
}

// connectOn negotiates, opens transport and completes the handshake.
func connectOn(t testing.TB, s *emulator.Server, hub, user, transport, protocol string) *hubClient {
	t.Helper()
	w, id, _ := openWire(t, s, hub, user, transport)
	if ws, ok := w.(*wsWire); ok && protocol == "messagepack" {
		ws.binary = true
	}
	c := &hubClient{t: t, w: w, protocol: protocol, id: id}
	resp, err := c.handshake()
	require.NoError(t, err)
	require.Equal(t, "{}", resp, "handshake response")
	return c
}

// split cuts a frame into messages of the client's protocol.
func (c *hubClient) split(frame []byte) [][]byte {
	c.t.Helper()
	if c.protocol == "json" {
		require.True(c.t, len(frame) > 0 && frame[len(frame)-1] == 0x1e, "frame %q does not end with the record separator", frame)
		return bytes.Split(frame[:len(frame)-1], []byte{0x1e})
	}
	var out [][]byte
	for len(frame) > 0 {
		size, n := 0, 0
		for shift := 0; ; shift += 7 {
			require.Less(c.t, n, len(frame), "length prefix cut short")
			b := frame[n]
			n++
			size |= int(b&0x7f) << shift
			if b&0x80 == 0 {
				break
			}
		}
		require.LessOrEqual(c.t, n+size, len(frame), "message cut short: frames hold whole messages")
		out = append(out, frame[n:n+size])
		frame = frame[n+size:]
	}
	return out
}

// read returns the next message, or the error that ended the transport.
func (c *hubClient) read(timeout time.Duration) (hubMsg, error) {
	for len(c.pending) == 0 {
		frame, err := c.w.recv(timeout)
		if err != nil {
			return hubMsg{}, err
		}
		c.pending = append(c.pending, c.split(frame)...)
	}
	raw := c.pending[0]
	c.pending = c.pending[1:]
	return c.decode(raw), nil
}

func (c *hubClient) decode(raw []byte) hubMsg {
	c.t.Helper()
	var m hubMsg
	if c.protocol == "json" {
		var j struct {
			Type           int    `json:"type"`
			Target         string `json:"target"`
			Arguments      []any  `json:"arguments"`
			InvocationID   string `json:"invocationId"`
			Error          string `json:"error"`
			AllowReconnect bool   `json:"allowReconnect"`
		}
		require.NoError(c.t, json.Unmarshal(raw, &j), "record %q", raw)
		return hubMsg{Type: j.Type, Target: j.Target, Arguments: j.Arguments, InvocationID: j.InvocationID, Error: j.Error, AllowReconnect: j.AllowReconnect}
	}
	var a []any
	require.NoError(c.t, msgpack.Unmarshal(raw, &a), "message %x", raw)
	require.NotEmpty(c.t, a)
	m.Type = int(toInt64(c.t, a[0]))
	switch m.Type {
	case 1:
		require.Len(c.t, a, 5, "Invocation [1, headers, id, target, arguments]")
		require.IsType(c.t, map[string]any{}, a[1], "headers")
		m.Target = a[3].(string)
		m.Arguments = a[4].([]any)
		if id, ok := a[2].(string); ok {
			m.InvocationID = id
			c.lastInvocationID = id
		}
	case 3:
		require.GreaterOrEqual(c.t, len(a), 4)
		m.InvocationID = a[2].(string)
		m.ResultKind = int(toInt64(c.t, a[3]))
		switch m.ResultKind {
		case 1:
			m.Error = a[4].(string)
		case 3:
			m.Result = a[4]
		}
	case 7:
		require.Len(c.t, a, 3, "Close [7, error, allowReconnect]")
		if a[1] != nil {
			m.Error = a[1].(string)
		}
		m.AllowReconnect = a[2].(bool)
	}
	return m
}

func toInt64(t testing.TB, v any) int64 {
	switch n := v.(type) {
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	}
	require.FailNow(t, fmt.Sprintf("%v (%T) is not an integer", v, v))
	return 0
}

// next returns the next message that is not a Ping.
func (c *hubClient) next() hubMsg {
	c.t.Helper()
	for {
		m, err := c.read(5 * time.Second)
		require.NoError(c.t, err, "read")
		if m.Type != 6 {
			return m
		}
	}
}

// sendMessage sends one message given as JSON, or its MessagePack form.
func (c *hubClient) sendMessage(jsonRecord string, msgpackArray []any) {
	c.t.Helper()
	if c.protocol == "json" {
		require.NoError(c.t, c.w.send([]byte(jsonRecord+"\x1e")))
		return
	}
	body, err := msgpack.Marshal(msgpackArray)
	require.NoError(c.t, err)
	require.NoError(c.t, c.w.send(append(varint(len(body)), body...)))
}

func varint(n int) []byte {
	var out []byte
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	return append(out, byte(n))
}

// wantEnded reads until the transport ends and fails unless it ended.
func (c *hubClient) wantEnded() {
	c.t.Helper()
	for {
		_, err := c.read(5 * time.Second)
		if err != nil {
			require.NotErrorIs(c.t, err, context.DeadlineExceeded, "the transport stayed open")
			return
		}
	}
}

// typedArgs is a REST send's arguments with every JSON type.
const typedArgs = `[42,-7,3.25,"héllo ✓ 😀",{"n":1,"nested":{"list":[1,"two",null,true]}},null,false,[]]`

// wantTypedArgs checks typedArgs arrived with each value's type: JSON
// numbers decode as float64, MessagePack integers as integers.
func (c *hubClient) wantTypedArgs(args []any) {
	c.t.Helper()
	require.Len(c.t, args, 8)
	if c.protocol == "json" {
		assert.Equal(c.t, 42.0, args[0])
		assert.Equal(c.t, -7.0, args[1])
	} else {
		assert.Equal(c.t, int64(42), toInt64(c.t, args[0]), "an integer stays an integer")
		assert.Equal(c.t, int64(-7), toInt64(c.t, args[1]))
		nested := args[4].(map[string]any)
		assert.Equal(c.t, int64(1), toInt64(c.t, nested["n"]))
		args[4] = map[string]any{"n": 1.0, "nested": map[string]any{"list": []any{1.0, "two", nil, true}}}
		list := nested["nested"].(map[string]any)["list"].([]any)
		assert.Equal(c.t, int64(1), toInt64(c.t, list[0]))
	}
	assert.Equal(c.t, 3.25, args[2], "a float stays a float")
	assert.Equal(c.t, "héllo ✓ 😀", args[3])
	assert.Equal(c.t, map[string]any{"n": 1.0, "nested": map[string]any{"list": []any{1.0, "two", nil, true}}}, args[4])
	assert.Nil(c.t, args[5])
	assert.Equal(c.t, false, args[6])
	assert.Equal(c.t, []any{}, args[7])
}

// TestEveryTransportAndProtocol runs the same conversation over each
// transport with each protocol: handshake, a broadcast, a user and a group
// message with typed arguments, an invocation answered with an error,
// Pings, and a REST close with its reason. Server-Sent Events with
// MessagePack is refused at the handshake (the client refuses it first,
// from negotiate).
func TestEveryTransportAndProtocol(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{KeepAliveInterval: 200 * time.Millisecond})
	for _, transport := range allTransportNames {
		for _, protocol := range []string{"json", "messagepack"} {
			t.Run(transport+"/"+protocol, func(t *testing.T) {
				hub := strings.ToLower("h" + transport + protocol)
				if transport == serverSentEvents && protocol == "messagepack" {
					w, _, _ := openWire(t, s, hub, "u", transport)
					c := &hubClient{t: t, w: w, protocol: protocol}
					resp, err := c.handshake()
					require.NoError(t, err)
					assert.Contains(t, resp, "does not support 'Binary' transfer format")
					c.wantEnded()
					assert.Empty(t, s.Emulator.Snapshot(hub).Connections)
					return
				}
				c := connectOn(t, s, hub, "alice", transport, protocol)
				other := connectOn(t, s, hub, "bob", transport, protocol)
				eventually(t, "both are connected", func() bool { return len(s.Emulator.Snapshot(hub).Connections) == 2 })

				body := `{"target":"newMessage","arguments":` + typedArgs + `}`
				wantStatus(t, rest(t, s, "POST", "/api/hubs/"+hub+"/:send", body), 202, "")
				for _, cl := range []*hubClient{c, other} {
					m := cl.next()
					require.Equal(t, 1, m.Type)
					assert.Equal(t, "newMessage", m.Target)
					cl.wantTypedArgs(m.Arguments)
				}

				wantStatus(t, rest(t, s, "POST", "/api/hubs/"+hub+"/users/alice/:send", sendBody("toUser", "for alice")), 202, "")
				m := c.next()
				assert.Equal(t, "toUser", m.Target)
				assert.Equal(t, []any{"for alice"}, m.Arguments)

				wantStatus(t, rest(t, s, "PUT", "/api/hubs/"+hub+"/groups/g1/connections/"+c.id, ""), 200, "")
				wantStatus(t, rest(t, s, "POST", "/api/hubs/"+hub+"/groups/g1/:send", sendBody("toGroup", "for g1")), 202, "")
				m = c.next()
				assert.Equal(t, "toGroup", m.Target)
				assert.Equal(t, []any{"for g1"}, m.Arguments)

				c.sendMessage(`{"type":1,"invocationId":"9","target":"echo","arguments":["x"]}`,
					[]any{1, map[string]any{}, "9", "echo", []any{"x"}})
				m = c.next()
				assert.Equal(t, 3, m.Type, "a Completion")
				assert.Equal(t, "9", m.InvocationID)
				assert.Contains(t, m.Error, "no upstream")

				if transport != longPolling {
					// Pings arrive on the persistent transports; Long
					// Polling has none, as the clients expect.
					p, err := c.read(2 * time.Second)
					require.NoError(t, err)
					assert.Equal(t, 6, p.Type, "a Ping")
				}

				wantStatus(t, rest(t, s, "DELETE", "/api/hubs/"+hub+"/connections/"+c.id+"?reason=kicked+out", ""), 200, "")
				m = c.next()
				assert.Equal(t, 7, m.Type, "a Close")
				assert.Equal(t, "kicked out", m.Error)
				assert.True(t, m.AllowReconnect)
				c.wantEnded()
				eventually(t, "alice is gone", func() bool { return len(s.Emulator.Snapshot(hub).Connections) == 1 })

				// bob's own Close ends his connection.
				other.sendMessage(`{"type":7}`, []any{7, nil})
				other.wantEnded()
				eventually(t, "bob is gone", func() bool { return len(s.Emulator.Snapshot(hub).Connections) == 0 })
			})
		}
	}
}

// TestOversizedMessageClosedWithReason: on every transport and protocol,
// a message over MaxMessageSize ends the connection with a Close that says
// why.
func TestOversizedMessageClosedWithReason(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{MaxMessageSize: 1024})
	for _, transport := range allTransportNames {
		for _, protocol := range []string{"json", "messagepack"} {
			if transport == serverSentEvents && protocol == "messagepack" {
				continue
			}
			t.Run(transport+"/"+protocol, func(t *testing.T) {
				c := connectOn(t, s, "big", "", transport, protocol)
				big := strings.Repeat("x", 2000)
				c.sendMessage(`{"type":1,"target":"t","arguments":["`+big+`"]}`, []any{1, map[string]any{}, nil, "t", []any{big}})
				m := c.next()
				assert.Equal(t, 7, m.Type, "a Close")
				assert.Contains(t, m.Error, "message too large")
				c.wantEnded()
			})
		}
	}
}

// TestMessagePackPrefixOverLimitRefusedEarly: a length prefix announcing
// more than MaxMessageSize closes the connection before the body arrives.
func TestMessagePackPrefixOverLimitRefusedEarly(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{MaxMessageSize: 1024})
	c := connectOn(t, s, "big", "", webSockets, "messagepack")
	require.NoError(t, c.w.send(varint(1<<20)))
	m := c.next()
	assert.Equal(t, 7, m.Type)
	assert.Contains(t, m.Error, "message too large")
}

// TestMessagePackHandshakeFollowedByMessages: the handshake request and
// MessagePack messages in one frame, and a message split across frames.
func TestMessagePackHandshakeFollowedByMessages(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	w, _, _ := openWire(t, s, "chat", "", webSockets)
	ws := w.(*wsWire)
	ws.binary = true
	c := &hubClient{t: t, w: w, protocol: "messagepack"}
	inv, _ := msgpack.Marshal([]any{1, map[string]any{}, "1", "echo", []any{}})
	frame := append([]byte(`{"protocol":"messagepack","version":1}`+"\x1e"), varint(len(inv))...)
	frame = append(frame, inv[:3]...)
	require.NoError(t, w.send(frame))
	require.NoError(t, w.send(inv[3:]))
	resp, err := w.recv(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "{}\x1e", string(resp))
	m := c.next()
	assert.Equal(t, 3, m.Type)
	assert.Equal(t, "1", m.InvocationID)
}

// TestMessagePackFramesAreBinary: a MessagePack connection gets binary
// WebSocket messages, the handshake response included; JSON gets text.
func TestMessagePackFramesAreBinary(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for protocol, want := range map[string]websocket.MessageType{"json": websocket.MessageText, "messagepack": websocket.MessageBinary} {
		token := mint(t, testKey, clientURL(s, "chat"), nil)
		n := negotiate(t, s, "chat", token, 1)
		ws, _, err := dialRaw(t, s, "chat", "&id="+n.ConnectionToken, token)
		require.NoError(t, err)
		ctx := context.Background()
		require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"`+protocol+`","version":1}`+"\x1e")))
		typ, _, err := ws.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, typ, protocol+" handshake response")
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+n.ConnectionID+"/:send", sendBody("m", "x")), 202, "")
		typ, _, err = ws.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, typ, protocol+" message")
	}
}

// TestTransportsCheckTokens: every request of SSE and Long Polling is
// authorized, and belongs to the connection's user.
func TestTransportsCheckTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	w, _, token := openWire(t, s, "chat", "alice", longPolling)
	lp := w.(*lpWire)
	do := func(method, u, bearer string) int {
		req, _ := http.NewRequest(method, u, strings.NewReader("{}\x1e"))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	mallory := mint(t, testKey, clientURL(s, "chat"), jwt.MapClaims{"asrs.s.uid": "mallory"})
	wrongKey := mint(t, "another-key-0123456789abcdefghijklmnopqrstu", clientURL(s, "chat"), jwt.MapClaims{"asrs.s.uid": "alice"})
	for _, method := range []string{"GET", "POST", "DELETE"} {
		assert.Equal(t, 401, do(method, lp.url, ""), "%s without a token", method)
		assert.Equal(t, 401, do(method, lp.url, wrongKey), "%s with a token of another key", method)
		assert.Equal(t, 403, do(method, lp.url, mallory), "%s as another user", method)
		assert.Equal(t, 404, do(method, s.URL+"/client/?hub=chat&id=unknown", token), "%s with an unknown id", method)
		assert.Equal(t, 400, do(method, s.URL+"/client/?hub=chat", token), "%s without an id", method)
		assert.Equal(t, 404, do(method, strings.Replace(lp.url, "hub=chat", "hub=other", 1), mint(t, testKey, clientURL(s, "other"), jwt.MapClaims{"asrs.s.uid": "alice"})), "%s on another hub", method)
	}
	// The token of a connection that is connected cannot open another.
	assert.Equal(t, 409, func() int {
		req, _ := http.NewRequest("GET", strings.Replace(lp.url, "hub=chat", "hub=chat", 1), nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}())
	// SSE takes the token from the query only on the event stream: a
	// POST must carry the header.
	sw, _, sseToken := openWire(t, s, "chat", "", serverSentEvents)
	assert.Equal(t, 401, do("POST", sw.(*sseWire).url+"&access_token="+url.QueryEscape(sseToken), ""))
}

// TestLongPollingSecondPollEndsFirst: one poll at a time; a second ends
// the first with 204, and the second gets the messages.
func TestLongPollingSecondPollEndsFirst(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connectOn(t, s, "chat", "", longPolling, "json")
	lp := c.w.(*lpWire)
	type polled struct {
		status int
		body   []byte
	}
	startPoll := func() chan polled {
		done := make(chan polled, 1)
		go func() {
			status, body, _ := lp.poll(10 * time.Second)
			done <- polled{status, body}
		}()
		return done
	}
	// Which of two polls started together reaches the emulator first is
	// up to the scheduler, so no pause orders them: whichever arrives
	// first must be ended with 204 by the other.
	first, second := startPoll(), startPoll()
	var waiting chan polled
	select {
	case p := <-first:
		assert.Equal(t, http.StatusNoContent, p.status, "the first poll ends when the second arrives")
		waiting = second
	case p := <-second:
		// The second arrived first and was ended by the first, which is
		// therefore waiting now: a third poll must end it.
		assert.Equal(t, http.StatusNoContent, p.status, "the earlier poll ends when a later one arrives")
		third := startPoll()
		select {
		case p := <-first:
			assert.Equal(t, http.StatusNoContent, p.status, "the waiting poll ends when the next arrives")
		case <-time.After(5 * time.Second):
			require.FailNow(t, "the waiting poll was not ended by the next one")
		}
		waiting = third
	case <-time.After(5 * time.Second):
		require.FailNow(t, "neither poll was ended by the other")
	}
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+c.id+"/:send", sendBody("m", "for the second poll")), 202, "")
	assert.Contains(t, string((<-waiting).body), "for the second poll")
	assert.Len(t, s.Emulator.Snapshot("chat").Connections, 1, "the connection lives on")
}

// TestLongPollingPollTimeout: a poll with nothing to return ends empty
// with 200 after PollTimeout, and the client polls again.
func TestLongPollingPollTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{PollTimeout: 100 * time.Millisecond})
	c := connectOn(t, s, "chat", "", longPolling, "json")
	status, body, err := c.w.(*lpWire).poll(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, body)
}

// TestLongPollingDropsClientThatStopsPolling: with no poll for
// ClientTimeout, the connection is dropped, even with messages waiting.
func TestLongPollingDropsClientThatStopsPolling(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{ClientTimeout: 300 * time.Millisecond})
	c := connectOn(t, s, "chat", "", longPolling, "json")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+c.id+"/:send", sendBody("m", "never polled")), 202, "")
	eventually(t, "the connection is dropped", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })
	status, _, err := c.w.(*lpWire).poll(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, status, "a poll of the ended connection says it is closed")
}

// TestLongPollingDelete: DELETE ends the connection and the waiting poll
// gets 204.
func TestLongPollingDelete(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connectOn(t, s, "chat", "", longPolling, "messagepack")
	lp := c.w.(*lpWire)
	polled := make(chan int, 1)
	go func() {
		status, _, _ := lp.poll(10 * time.Second)
		polled <- status
	}()
	eventually(t, "the poll waits on the emulator", func() bool { return s.Emulator.PollWaiting("chat", c.id) })
	resp, err := lp.request(context.Background(), http.MethodDelete, nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, http.StatusNoContent, <-polled)
	eventually(t, "the connection is gone", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })
}

// TestLongPollingSlowClientDoesNotStallBroadcast: a Long Polling client
// that stops polling is dropped when its queue overflows, while the
// others keep receiving.
func TestLongPollingSlowClientDoesNotStallBroadcast(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{SendQueueSize: 16, ClientTimeout: time.Minute, WriteTimeout: time.Minute})
	// Twice what fills the stuck client's 64 KiB poll buffer and its queue
	// of 16.
	const broadcasts = 60
	stuck := connectOn(t, s, "chat", "stuck", longPolling, "json")
	reader := connectOn(t, s, "chat", "reader", webSockets, "json")
	var wg sync.WaitGroup
	wg.Add(1)
	got := 0
	go func() {
		defer wg.Done()
		for got < broadcasts {
			m, err := reader.read(5 * time.Second)
			if err != nil {
				return
			}
			if m.Type == 1 {
				got++
			}
		}
	}()
	big := strings.Repeat("y", 8<<10)
	for i := 0; i < broadcasts; i++ {
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", big)), 202, "")
	}
	wg.Wait()
	assert.Equal(t, broadcasts, got, "the reading client got every broadcast")
	eventually(t, "the client that stopped polling is dropped", func() bool {
		for _, conn := range s.Emulator.Snapshot("chat").Connections {
			if conn.ID == stuck.id {
				return false
			}
		}
		return true
	})
}

// TestServerSentEventsConcurrentSendGets409OrOK: sends on SSE are POSTs;
// the stream carries what the emulator sends as data: lines.
func TestServerSentEventsMultilineFrame(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connectOn(t, s, "chat", "", serverSentEvents, "json")
	// A send whose argument holds a newline is escaped by JSON, so the
	// event has one line; the reader checks the record comes back whole.
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "line one\nline two")), 202, "")
	m := c.next()
	assert.Equal(t, []any{"line one\nline two"}, m.Arguments)
}

// TestShutdownEndsEveryTransport: Shutdown sends each client its Close
// message and ends SSE streams and Long Polling connections too.
func TestShutdownEndsEveryTransport(t *testing.T) {
	t.Parallel()
	s := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer s.Close()
	var clients []*hubClient
	for _, transport := range allTransportNames {
		clients = append(clients, connectOn(t, s, "chat", "", transport, "json"))
	}
	clients = append(clients, connectOn(t, s, "chat", "", longPolling, "messagepack"))
	done := make(chan error, 1)
	go func() { done <- s.Emulator.Shutdown(context.Background()) }()
	for _, c := range clients {
		m := c.next()
		assert.Equal(t, 7, m.Type)
		assert.Contains(t, m.Error, "shutting down")
		c.wantEnded()
	}
	require.NoError(t, <-done)
}

// TestConcurrentSendGets409: SSE and Long Polling take one POST at a time;
// one that arrives while another waits gets 409 and the connection stays.
// The connection is kept busy by writes to a Long Polling client that does
// not poll, so the POSTs queue up.
func TestConcurrentSendGets409(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{WriteTimeout: time.Minute})
	c := connectOn(t, s, "chat", "", longPolling, "json")
	lp := c.w.(*lpWire)
	// More than a poll holds: the connection's writer waits for a poll.
	for range 3 {
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+c.id+"/:send", sendBody("m", strings.Repeat("z", 40<<10))), 202, "")
	}
	ping := []byte("{\"type\":6}\x1e")
	// Once the connection is busy, one send is taken by its reader, which
	// then waits; the next holds the connection's one send slot; a third
	// is refused. Each try starts a send that may hold the slot, then
	// makes a short one once a send holds the slot.
	holders := make(chan error, 1000)
	started := 0
	require.Eventually(t, func() bool {
		started++
		go func() { holders <- lp.sendWithin(ping, 10*time.Second) }()
		held := assert.Eventually(noT{}, func() bool { return s.Emulator.SendInProgress("chat", c.id) }, 2*time.Second, time.Millisecond)
		if !held {
			return false
		}
		err := lp.sendWithin(ping, 300*time.Millisecond)
		return err != nil && strings.Contains(err.Error(), "409")
	}, 10*time.Second, 20*time.Millisecond, "a concurrent send was not refused with 409")
	// Polling frees the writer; the waiting sends then complete.
	for range 3 {
		_, err := c.read(5 * time.Second)
		require.NoError(t, err)
	}
	for range started {
		<-holders
	}
	assert.Len(t, s.Emulator.Snapshot("chat").Connections, 1, "the connection lives on")
}

// TestNegotiateVersion0OnEveryTransport: a version 0 client has no
// connectionToken and connects with the connectionId, on every transport;
// a version 1 connection id is not a token.
func TestNegotiateVersion0OnEveryTransport(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	for _, transport := range allTransportNames {
		t.Run(transport, func(t *testing.T) {
			v1 := negotiate(t, s, "chat", token, 1)
			u := s.URL + "/client/?hub=chat&id=" + v1.ConnectionID
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if transport == serverSentEvents {
				req.Header.Set("Accept", "text/event-stream")
			}
			if transport == webSockets {
				_, resp, err := dialRaw(t, s, "chat", "&id="+v1.ConnectionID, token)
				require.Error(t, err)
				assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a v1 connection id is not a token")
			} else {
				resp, err := httpClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a v1 connection id is not a token")
			}

			v0 := negotiate(t, s, "chat", token, 0)
			require.Empty(t, v0.ConnectionToken)
			hw := httpWire{url: s.URL + "/client/?hub=chat&id=" + v0.ConnectionID, token: token}
			var w wire
			switch transport {
			case webSockets:
				ws, _, err := dialRaw(t, s, "chat", "&id="+v0.ConnectionID, token)
				require.NoError(t, err)
				w = &wsWire{ws: ws}
			case longPolling:
				lp := &lpWire{hw}
				status, _, err := lp.poll(5 * time.Second)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, status)
				w = lp
			case serverSentEvents:
				req, _ := http.NewRequest(http.MethodGet, hw.url+"&access_token="+token, nil)
				req.Header.Set("Accept", "text/event-stream")
				ctx, cancel := context.WithCancel(context.Background())
				resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req.WithContext(ctx))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				sw := &sseWire{httpWire: hw, events: make(chan []byte, 8), done: make(chan struct{}), ctx: ctx, cancel: cancel}
				go sw.readEvents(resp.Body)
				t.Cleanup(func() { cancel(); <-sw.done })
				w = sw
			}
			c := &hubClient{t: t, w: w, protocol: "json", id: v0.ConnectionID}
			resp, err := c.handshake()
			require.NoError(t, err)
			require.Equal(t, "{}", resp)
			wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+v0.ConnectionID+"/:send", sendBody("m", "v0")), 202, "")
			assert.Equal(t, []any{"v0"}, c.next().Arguments)
			c.sendMessage(`{"type":7}`, nil)
			c.wantEnded()
		})
	}
}

// noT is an assert.TestingT that records nothing, for a wait inside
// require.Eventually whose failure only means "try again".
type noT struct{}

func (noT) Errorf(string, ...any) {}
