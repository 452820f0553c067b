package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/upstreamwire"
	"github.com/funcsignalr/signalr/signalrtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpClient keeps no idle connections, so no goroutine outlives a test.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// chatEnv is the example's app served on a real socket, in front of an
// emulator.
type chatEnv struct {
	t   *testing.T
	emu *emulator.Server
	srv *httptest.Server

	mu     sync.Mutex
	served []string // upstream requests answered: "<event> <connection id>"
}

// newChatEnv serves the app with the function.json bindings against a fresh
// emulator whose upstream is the app's hub, as `make run` does.
func newChatEnv(t *testing.T) *chatEnv {
	t.Helper()
	// The app's address comes first: the emulator's upstream points at it.
	srv := httptest.NewUnstartedServer(nil)
	emu := signalrtest.NewEmulator(t, &emulator.Options{
		Upstream:        []emulator.UpstreamTemplate{{URLTemplate: "http://" + srv.Listener.Addr().String() + signalr.DefaultUpstreamPath}},
		UpstreamTimeout: 5 * time.Second,
	})
	e := &chatEnv{t: t, emu: emu, srv: srv}
	a := newTestApp(t, emu.ConnectionString(), nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.ServeHTTP(w, r)
		if r.URL.Path == signalr.DefaultUpstreamPath {
			e.mu.Lock()
			e.served = append(e.served, r.Header.Get(upstreamwire.HeaderEvent)+" "+r.Header.Get(upstreamwire.HeaderConnectionID))
			e.mu.Unlock()
		}
	})
	srv.Start()
	t.Cleanup(srv.Close) // before the emulator's Close: cleanups run last first
	return e
}

// waitServed waits until the app has answered the upstream request of event
// for connection id.
func (e *chatEnv) waitServed(event, id string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		done := slices.Contains(e.served, event+" "+id)
		e.mu.Unlock()
		if done {
			return
		}
		require.False(e.t, time.Now().After(deadline), "the app did not get %s for %s", event, id)
		time.Sleep(5 * time.Millisecond)
	}
}

// serveApp serves the app with the function.json bindings, bound to
// connection string cs; clientOpts, when set, tune the Client its output
// bindings share.
func serveApp(t *testing.T, cs string, clientOpts *signalr.ClientOptions) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newTestApp(t, cs, clientOpts))
	t.Cleanup(srv.Close)
	return srv
}

// newTestApp builds the app with the function.json bindings, bound to cs.
func newTestApp(t *testing.T, cs string, clientOpts *signalr.ClientOptions) *app {
	t.Helper()
	parsed, err := signalr.ParseConnectionString(cs)
	require.NoError(t, err)
	b, err := loadBindings(functionsFS)
	require.NoError(t, err)
	cfg := appConfig{bindings: b, bind: &signalr.BindOptions{ConnectionString: parsed}, signalrJS: newSignalRJS(fakeSignalRJS(t))}
	if clientOpts != nil {
		client, err := signalr.NewClient(parsed, clientOpts)
		require.NoError(t, err)
		t.Cleanup(client.CloseIdleConnections)
		cfg.bind = &signalr.BindOptions{Client: client}
	}
	a, err := newApp(cfg)
	require.NoError(t, err)
	t.Cleanup(a.close)
	return a
}

// fakeSignalRJS writes a stand-in for signalr.min.js and its source map.
func fakeSignalRJS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "signalr.min.js")
	require.NoError(t, os.WriteFile(p, []byte("var signalR = {};\n"), 0o644))
	require.NoError(t, os.WriteFile(p+".map", []byte(`{"version":3}`), 0o644))
	return p
}

// call sends a request to the app and returns the status and body.
func (e *chatEnv) call(method, path, body string, header http.Header) (int, []byte) {
	e.t.Helper()
	return call(e.t, method, e.srv.URL+path, body, header)
}

func call(t *testing.T, method, url, body string, header http.Header) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// mustCall is call expecting status.
func (e *chatEnv) mustCall(method, path, body string, status int) []byte {
	e.t.Helper()
	got, data := e.call(method, path, body, nil)
	require.Equal(e.t, status, got, "%s %s = %d %s, want %d", method, path, got, data, status)
	return data
}

// hubClient is a SignalR client speaking the JSON hub protocol over a
// WebSocket, connected the way @microsoft/signalr connects: negotiate with
// the app, follow the redirect to the service, open the socket.
type hubClient struct {
	t       *testing.T
	user    string
	id      string // connection id
	ws      *websocket.Conn
	pending [][]byte
	held    []string // invocations read while waiting for a Completion
	nextID  int      // of the last invocation sent
}

// connect negotiates for user with ?userId= (or the App Service header when
// viaHeader) and completes the hub protocol handshake.
func (e *chatEnv) connect(user string, viaHeader bool) *hubClient {
	e.t.Helper()
	return connectTo(e.t, e.srv.URL, user, viaHeader)
}

// connectTo connects to the chat served at base (no trailing slash) as
// connect does.
func connectTo(t *testing.T, base, user string, viaHeader bool) *hubClient {
	t.Helper()
	path, h := "/api/negotiate?userId="+url.QueryEscape(user), http.Header(nil)
	if viaHeader {
		path, h = "/api/negotiate", http.Header{"X-Ms-Client-Principal-Id": {user}}
	}
	return connectWith(t, base, path, h, user)
}

// connectWith connects as user after negotiating at base+path with the
// headers h.
func connectWith(t *testing.T, base, path string, h http.Header, user string) *hubClient {
	t.Helper()
	status, data := call(t, "POST", base+path, "", h)
	require.Equal(t, http.StatusOK, status, "negotiate as %s = %d %s", user, status, data)
	var info signalr.ConnectionInfo
	require.NoError(t, json.Unmarshal(data, &info))

	// The client posts to the service's negotiate: "negotiate" spliced into
	// the redirect URL's path, the query kept, the token as a bearer.
	u, err := url.Parse(info.URL)
	require.NoError(t, err)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := u.Query()
	q.Set("negotiateVersion", "1")
	u.RawQuery = q.Encode()
	bearer := http.Header{"Authorization": {"Bearer " + info.AccessToken}}
	status, data = call(t, "POST", u.String(), "", bearer)
	require.Equal(t, http.StatusOK, status, "service negotiate = %d %s", status, data)
	var neg struct {
		ConnectionID    string `json:"connectionId"`
		ConnectionToken string `json:"connectionToken"`
	}
	require.NoError(t, json.Unmarshal(data, &neg))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(info.URL, "http") + "&id=" + url.QueryEscape(neg.ConnectionToken)
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: bearer, HTTPClient: httpClient})
	require.NoError(t, err, "dial")
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &hubClient{t: t, user: user, id: neg.ConnectionID, ws: ws}
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")))
	got := c.next()
	require.Equal(t, "{}", got, "handshake answer %s", got)
	return c
}

// answerGoodbye reads in the background until the connection ends, as a
// browser does: the emulator's Close message and close handshake are then
// answered at once, instead of the emulator waiting out its CloseTimeout
// for a client that stopped reading.
func (c *hubClient) answerGoodbye() {
	go func() {
		for {
			if _, _, err := c.ws.Read(context.Background()); err != nil {
				return
			}
		}
	}()
}

// next returns the next record, pings included.
func (c *hubClient) next() string {
	c.t.Helper()
	for len(c.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		typ, data, err := c.ws.Read(ctx)
		cancel()
		require.NoError(c.t, err, "%s: read", c.user)
		require.Equal(c.t, websocket.MessageText, typ, "%s: frame %q is not RS-terminated JSON text", c.user, data)
		require.NotEmpty(c.t, data, "%s: frame %q is not RS-terminated JSON text", c.user, data)
		require.Equal(c.t, byte(0x1e), data[len(data)-1], "%s: frame %q is not RS-terminated JSON text", c.user, data)
		c.pending = bytes.Split(data[:len(data)-1], []byte{0x1e})
	}
	r := c.pending[0]
	c.pending = c.pending[1:]
	return string(r)
}

// nextMessage returns the next invocation's target and arguments, skipping
// pings.
func (c *hubClient) nextMessage() (string, []json.RawMessage) {
	c.t.Helper()
	for {
		var r string
		if len(c.held) > 0 {
			r, c.held = c.held[0], c.held[1:]
		} else {
			r = c.next()
		}
		var m struct {
			Type      int               `json:"type"`
			Target    string            `json:"target"`
			Arguments []json.RawMessage `json:"arguments"`
		}
		require.NoError(c.t, json.Unmarshal([]byte(r), &m), "%s: record %q", c.user, r)
		switch m.Type {
		case 6: // ping
		case 1:
			return m.Target, m.Arguments
		default:
			require.FailNow(c.t, fmt.Sprintf("%s: unexpected record %s", c.user, r))
		}
	}
}

// nextChat returns the next invocation that is not a presence message.
func (c *hubClient) nextChat() (string, []json.RawMessage) {
	c.t.Helper()
	for {
		target, args := c.nextMessage()
		if target != presenceTarget {
			return target, args
		}
	}
}

// want reads the next invocation, presence messages aside, and checks it is
// newMessage(body).
func (c *hubClient) want(body string) {
	c.t.Helper()
	target, args := c.nextChat()
	require.Equal(c.t, "newMessage", target, "%s got %s(%s), want newMessage(%s)", c.user, target, args, body)
	require.Equal(c.t, 1, len(args), "%s got %s(%s), want newMessage(%s)", c.user, target, args, body)
	require.True(c.t, jsonEqual(c.t, args[0], body), "%s got %s(%s), want newMessage(%s)", c.user, target, args, body)
}

// wantChat reads the next invocation, presence messages aside, and checks it
// is a hub method's newMessage from from with text, to the audience to (nil:
// everyone), stamped with a time.
func (c *hubClient) wantChat(from, text string, to *audience) {
	c.t.Helper()
	target, args := c.nextChat()
	require.Equal(c.t, "newMessage", target, "%s got %s(%s), want newMessage from %s: %q", c.user, target, args, from, text)
	require.Len(c.t, args, 1, "%s got %s(%s)", c.user, target, args)
	var got chatMessage
	require.NoError(c.t, json.Unmarshal(args[0], &got), "%s got newMessage(%s)", c.user, args[0])
	require.False(c.t, got.SentAt.IsZero(), "%s got newMessage(%s) without sentAt", c.user, args[0])
	got.SentAt = time.Time{}
	require.Equal(c.t, chatMessage{From: from, Text: text, To: to}, got, "%s got newMessage(%s)", c.user, args[0])
}

// wantPresence reads the next invocation and checks it is
// presence({user, online}).
func (c *hubClient) wantPresence(user string, online bool) {
	c.t.Helper()
	target, args := c.nextMessage()
	require.Equal(c.t, presenceTarget, target, "%s got %s(%s), want presence of %s", c.user, target, args, user)
	require.Len(c.t, args, 1)
	require.True(c.t, jsonEqual(c.t, args[0], `{"user":"`+user+`","online":`+strconv.FormatBool(online)+`}`), "%s got presence(%s), want %s online=%v", c.user, args[0], user, online)
}

// completion is a Completion the hub sent a hubClient.
type completion struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// invoke calls a hub method, as connection.invoke does, and returns its
// Completion; invocations that arrive meanwhile are kept for nextMessage.
func (c *hubClient) invoke(target string, args ...any) completion {
	c.t.Helper()
	c.nextID++
	id := strconv.Itoa(c.nextID)
	if args == nil {
		args = []any{}
	}
	record, err := json.Marshal(map[string]any{"type": 1, "invocationId": id, "target": target, "arguments": args})
	require.NoError(c.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, append(record, 0x1e)), "%s: invoke %s", c.user, target)
	for {
		r := c.next()
		var m struct {
			Type         int    `json:"type"`
			InvocationID string `json:"invocationId"`
			completion
		}
		require.NoError(c.t, json.Unmarshal([]byte(r), &m), "%s: record %q", c.user, r)
		switch {
		case m.Type == 3 && m.InvocationID == id:
			return m.completion
		case m.Type == 1:
			c.held = append(c.held, r)
		case m.Type != 6:
			require.FailNow(c.t, fmt.Sprintf("%s: unexpected record %s while invoking %s", c.user, r, target))
		}
	}
}

// mustInvoke invokes and fails the test if the hub method failed.
func (c *hubClient) mustInvoke(target string, args ...any) json.RawMessage {
	c.t.Helper()
	got := c.invoke(target, args...)
	require.Equal(c.t, "", got.Error, "%s: %s%v failed", c.user, target, args)
	return got.Result
}

// TestNegotiateConnectsAsUser: the token from each negotiate path connects to
// the service as the right user.
func TestNegotiateConnectsAsUser(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice := e.connect("alice", true)
	bob := e.connect("bob", false)
	snap := e.emu.Emulator.Snapshot("chat")
	for _, c := range []*hubClient{alice, bob} {
		conn, ok := snap.Connection(c.id)
		require.True(t, ok, "connection %s: %+v (connected %v), want user %s", c.id, conn, ok, c.user)
		require.Equal(t, c.user, conn.UserID, "connection %s: %+v (connected %v), want user %s", c.id, conn, ok, c.user)
	}
	status, data := e.call("POST", "/api/negotiate", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, "anonymous negotiate = %d %s, want 401 with a JSON error", status, data)
	require.Contains(t, string(data), `"error"`, "anonymous negotiate = %d %s, want 401 with a JSON error", status, data)
}

// A broadcast reaches every connection, with the body as the argument.
func TestBroadcastReachesEveryone(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice, bob := e.connect("alice", false), e.connect("bob", false)
	body := `{"from":"bob","text":"hello, all"}`
	e.mustCall("POST", "/api/messages", body, http.StatusNoContent)
	alice.want(body)
	bob.want(body)
}

// A message to a user reaches only that user's connections, all of them.
func TestSendToUserReachesOnlyThatUser(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice1, alice2, bob := e.connect("alice", false), e.connect("alice", true), e.connect("bob", false)
	e.mustCall("POST", "/api/users/alice/messages", `{"text":"psst"}`, http.StatusNoContent)
	// Then a broadcast: bob's next message must be it, not the direct one.
	e.mustCall("POST", "/api/messages", `{"text":"marker"}`, http.StatusNoContent)
	alice1.want(`{"text":"psst"}`)
	alice2.want(`{"text":"psst"}`)
	bob.want(`{"text":"marker"}`)
}

// Group membership follows PUT and DELETE, and a group message reaches the
// members only.
func TestGroupsAddSendRemove(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice, bob := e.connect("alice", false), e.connect("bob", false)
	const group = "team a/b" // needs escaping in the path

	e.mustCall("PUT", "/api/groups/"+url.PathEscape(group)+"/users/alice", "", http.StatusNoContent)
	snap := e.emu.Emulator.Snapshot("chat")
	require.True(t, slices.Contains(snap.UserGroups["alice"], group), "after add: user groups %v, group members %v; want alice (%s) in %q", snap.UserGroups, snap.Groups, alice.id, group)
	require.True(t, slices.Equal(snap.Groups[group], []string{alice.id}), "after add: user groups %v, group members %v; want alice (%s) in %q", snap.UserGroups, snap.Groups, alice.id, group)

	e.mustCall("POST", "/api/groups/"+url.PathEscape(group)+"/messages", `{"text":"to the group"}`, http.StatusNoContent)
	e.mustCall("POST", "/api/messages", `{"text":"marker 1"}`, http.StatusNoContent)
	alice.want(`{"text":"to the group"}`)
	alice.want(`{"text":"marker 1"}`)
	bob.want(`{"text":"marker 1"}`)

	e.mustCall("DELETE", "/api/groups/"+url.PathEscape(group)+"/users/alice", "", http.StatusNoContent)
	snap = e.emu.Emulator.Snapshot("chat")
	require.Len(t, snap.UserGroups["alice"], 0, "after remove: user groups %v, groups %v", snap.UserGroups, snap.Groups)
	require.Len(t, snap.Groups[group], 0, "after remove: user groups %v, groups %v", snap.UserGroups, snap.Groups)
	e.mustCall("POST", "/api/groups/"+url.PathEscape(group)+"/messages", `{"text":"too late"}`, http.StatusNoContent)
	e.mustCall("POST", "/api/messages", `{"text":"marker 2"}`, http.StatusNoContent)
	alice.want(`{"text":"marker 2"}`)
	bob.want(`{"text":"marker 2"}`)

	// Membership belongs to the user: a connection opened later is in the
	// group too.
	e.mustCall("PUT", "/api/groups/g1/users/bob", "", http.StatusNoContent)
	bob2 := e.connect("bob", false)
	e.mustCall("POST", "/api/groups/g1/messages", `{"text":"g1"}`, http.StatusNoContent)
	bob.want(`{"text":"g1"}`)
	bob2.want(`{"text":"g1"}`)
}

// Bad bodies are refused before anything reaches the service.
func TestBadJSONIsBadRequest(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice := e.connect("alice", false)
	for _, target := range []string{"/api/messages", "/api/users/alice/messages", "/api/groups/g1/messages"} {
		for _, body := range []string{"", "{", "hi", `{"a":1} {"b":2}`} {
			status, data := e.call("POST", target, body, http.Header{"Content-Type": {"application/json"}})
			require.Equal(t, http.StatusBadRequest, status, "POST %s %q = %d %s, want 400 with a JSON error", target, body, status, data)
			require.True(t, json.Valid(data), "POST %s %q = %d %s, want 400 with a JSON error", target, body, status, data)
			require.Contains(t, string(data), `"error"`, "POST %s %q = %d %s, want 400 with a JSON error", target, body, status, data)
		}
	}
	e.mustCall("POST", "/api/messages", `{"text":"marker"}`, http.StatusNoContent)
	alice.want(`{"text":"marker"}`)
}

// failure is the 502 body WithOutput writes.
type failure struct {
	Error    string `json:"error"`
	Failures []struct {
		Item       string `json:"item"`
		StatusCode int    `json:"statusCode"`
		Reason     string `json:"reason"`
	} `json:"failures"`
}

// A service that refuses the request gives 502 with its status and reason.
func TestServiceRefusalIsBadGateway(t *testing.T) {
	t.Parallel()
	// The emulator checks tokens with another key than the app signs with.
	emu := signalrtest.NewEmulator(t, &emulator.Options{AccessKey: "a-different-key-0123456789abcdefghijklmnopq"})
	srv := serveApp(t, emulator.ConnectionString("http://127.0.0.1", emu.Port(), emulator.DefaultAccessKey), nil)
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/api/messages", `{"text":"hi"}`},
		{"POST", "/api/users/alice/messages", `{"text":"hi"}`},
		{"POST", "/api/groups/g1/messages", `{"text":"hi"}`},
		{"PUT", "/api/groups/g1/users/alice", ""},
		{"DELETE", "/api/groups/g1/users/alice", ""},
	} {
		status, data := call(t, tt.method, srv.URL+tt.path, tt.body, nil)
		var f failure
		require.NoError(t, json.Unmarshal(data, &f))
		require.Equal(t, http.StatusBadGateway, status, "%s %s = %d %s, want 502 with the service's 401 and reason", tt.method, tt.path, status, data)
		require.Len(t, f.Failures, 1, "%s %s = %d %s, want 502 with the service's 401 and reason", tt.method, tt.path, status, data)
		require.Equal(t, http.StatusUnauthorized, f.Failures[0].StatusCode, "%s %s = %d %s, want 502 with the service's 401 and reason", tt.method, tt.path, status, data)
		require.NotEqual(t, "", f.Failures[0].Reason, "%s %s = %d %s, want 502 with the service's 401 and reason", tt.method, tt.path, status, data)
	}
}

// A service that cannot be reached gives 502 with the transport error.
func TestUnreachableServiceIsBadGateway(t *testing.T) {
	t.Parallel()
	emu := emulator.NewServer(nil)
	cs := emu.ConnectionString()
	emu.Close() // nothing listens there any more
	srv := serveApp(t, cs, &signalr.ClientOptions{Retry: signalr.RetryOptions{MaxRetries: -1}})
	status, data := call(t, "POST", srv.URL+"/api/messages", `{"text":"hi"}`, nil)
	var f failure
	require.NoError(t, json.Unmarshal(data, &f))
	require.Equal(t, http.StatusBadGateway, status, "= %d %s, want 502 saying the connection was refused", status, data)
	require.Len(t, f.Failures, 1, "= %d %s, want 502 saying the connection was refused", status, data)
	require.Contains(t, f.Failures[0].Reason, "refused", "= %d %s, want 502 saying the connection was refused", status, data)
}

// The API answers CORS preflights, so a page on another origin can use it
// (without credentials: no origins are listed); the page itself is not an API.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/api/groups/g1/users/alice", nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	req.Header.Set("Access-Control-Request-Headers", "x-ms-client-principal-id")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://elsewhere.example" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "x-ms-client-principal-id") {
		require.FailNow(t, fmt.Sprintf("preflight = %d %v", resp.StatusCode, resp.Header))
	}

	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/api/negotiate?userId=carol", nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	resp, err = httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "cross-origin negotiate = %d %v", resp.StatusCode, resp.Header)
	require.Equal(t, "https://elsewhere.example", resp.Header.Get("Access-Control-Allow-Origin"), "cross-origin negotiate = %d %v", resp.StatusCode, resp.Header)
}

// The page, its script and style, and the vendored client are served; the
// page forbids inline script.
func TestPageAndAssets(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	resp, err := httpClient.Get(e.srv.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"), "GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'", "CSP %q", csp)
	require.NotContains(t, csp, "unsafe-inline", "CSP %q", csp)
	for _, want := range []string{`name="viewport"`, `src="vendor/signalr.min.js"`, `src="app.js"`, `href="style.css"`} {
		assert.Contains(t, string(page), want, "the page lacks %s", want)
	}
	for path, ctype := range map[string]string{
		"/app.js":                    "text/javascript",
		"/style.css":                 "text/css",
		"/vendor/signalr.min.js":     "text/javascript",
		"/vendor/signalr.min.js.map": "",
	} {
		resp, err := httpClient.Get(e.srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.False(t, resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype), "GET %s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/nothing.js", "/vendor/other.js", "/vendor/../main.go"} {
		status, _ := e.call("GET", path, "", nil)
		assert.Equal(t, http.StatusNotFound, status, "GET %s = %d, want 404", path, status)
	}
}

// Without the npm package, the client's URL is a 404 that says what to run.
func TestMissingSignalRJSSaysHowToInstall(t *testing.T) {
	t.Parallel()
	js := newSignalRJS(filepath.Join(t.TempDir(), "signalr.min.js"))
	rec := httptest.NewRecorder()
	js.ServeHTTP(rec, httptest.NewRequest("GET", "/vendor/signalr.min.js", nil))
	require.Equal(t, http.StatusNotFound, rec.Code, "= %d %q", rec.Code, rec.Body)
	require.Contains(t, rec.Body.String(), "cd js && npm ci", "= %d %q", rec.Code, rec.Body)
}

// newSignalRJS without an override looks where npm installs the package,
// below the working directory and the source tree.
func TestSignalRJSCandidates(t *testing.T) {
	t.Parallel()
	js := newSignalRJS("")
	wd, err := os.Getwd()
	require.NoError(t, err)
	want := []string{
		filepath.Join(wd, "js/node_modules/@microsoft/signalr/dist/browser/signalr.min.js"),
		filepath.Join(wd, "../../js/node_modules/@microsoft/signalr/dist/browser/signalr.min.js"),
	}
	for _, w := range want {
		assert.True(t, slices.Contains(js.candidates, filepath.Clean(w)), "candidates %q lack %q", js.candidates, w)
	}
}

// A direct message to a user with no connection is not sent: the answer says
// nobody of that name is online. Once the user connects, it goes through.
func TestSendToOfflineUserSaysSo(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice := e.connect("alice", false)
	status, data := e.call("POST", "/api/users/carol/messages", `{"text":"anyone there?"}`, nil)
	var answer struct {
		Error string `json:"error"`
	}
	require.Equal(t, http.StatusNotFound, status, "= %d %s, want 404 saying nobody named carol is online", status, data)
	require.NoError(t, json.Unmarshal(data, &answer), "body %s", data)
	require.Equal(t, "nobody named carol is online", answer.Error)
	carol := e.connect("carol", false)
	e.mustCall("POST", "/api/users/carol/messages", `{"text":"there you are"}`, http.StatusNoContent)
	carol.want(`{"text":"there you are"}`)
	// alice got neither.
	e.mustCall("POST", "/api/messages", `{"text":"marker"}`, http.StatusNoContent)
	alice.want(`{"text":"marker"}`)
}

// A 502 is logged at the default level with the service's status and
// reason, and without the user or group names of the path.
func TestBadGatewayIsLogged(t *testing.T) {
	t.Parallel()
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"code":"Forbidden","message":"the hub is closed for maintenance"}`)
	}))
	defer service.Close()
	u, _ := url.Parse(service.URL)
	port, _ := strconv.Atoi(u.Port())
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://127.0.0.1", port, emulator.DefaultAccessKey))
	require.NoError(t, err)
	b, err := loadBindings(functionsFS)
	require.NoError(t, err)
	var logs syncBuffer
	a, err := newApp(appConfig{bindings: b, bind: &signalr.BindOptions{ConnectionString: cs}, signalrJS: newSignalRJS(fakeSignalRJS(t)),
		logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(a)
	defer func() {
		srv.Close()
		a.close()
	}()

	status, data := call(t, "POST", srv.URL+"/api/groups/secret-group/messages", `{"text":"hi"}`, nil)
	require.Equal(t, http.StatusBadGateway, status, "= %d %s, want 502", status, data)
	got := logs.String()
	for _, want := range []string{"level=ERROR", `route="POST /api/groups/{group}/messages"`, `serviceStatus="403 Forbidden"`, "the hub is closed for maintenance"} {
		assert.Contains(t, got, want, "log lacks %s", want)
	}
	assert.NotContains(t, got, "secret-group", "the log names the group")
}

// The hub methods, invoked by clients through the emulator's upstream,
// reach exactly the right connections: each step ends with a broadcast
// marker, so a message that went astray would arrive before it.
func TestHubMethodsReachTheRightClients(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice, bob, carol := e.connect("alice", false), e.connect("bob", false), e.connect("carol", true)
	alice2 := e.connect("alice", false) // alice's second tab

	alice.mustInvoke("broadcast", "hello, all")
	for _, c := range []*hubClient{alice, bob, carol, alice2} {
		c.wantChat("alice", "hello, all", nil)
	}

	// To a user: every connection of that user, nobody else.
	bob.mustInvoke("sendToUser", "alice", "psst")
	carol.mustInvoke("broadcast", "marker 1")
	for _, c := range []*hubClient{alice, alice2} {
		c.wantChat("bob", "psst", &audience{User: "alice"})
		c.wantChat("carol", "marker 1", nil)
	}
	bob.wantChat("carol", "marker 1", nil)
	carol.wantChat("carol", "marker 1", nil)

	// joinGroup adds the calling connection, not the user's others.
	alice.mustInvoke("joinGroup", "team a/b")
	snap := e.emu.Emulator.Snapshot("chat")
	require.Equal(t, []string{alice.id}, snap.Groups["team a/b"], "groups %v", snap.Groups)
	carol.mustInvoke("sendToGroup", "team a/b", "hi, team") // carol is not a member
	bob.mustInvoke("broadcast", "marker 2")
	alice.wantChat("carol", "hi, team", &audience{Group: "team a/b"})
	for _, c := range []*hubClient{alice, alice2, bob, carol} {
		c.wantChat("bob", "marker 2", nil)
	}

	// leaveGroup removes it again.
	alice.mustInvoke("leaveGroup", "team a/b")
	carol.mustInvoke("sendToGroup", "team a/b", "too late")
	bob.mustInvoke("broadcast", "marker 3")
	for _, c := range []*hubClient{alice, alice2, bob, carol} {
		c.wantChat("bob", "marker 3", nil)
	}
}

// echo's result, a hub method the app lacks and a hub function's error come
// back to the caller as Completions.
func TestHubInvocationResults(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice := e.connect("alice", false)
	got := alice.mustInvoke("echo", map[string]any{"a": []any{1, "x", nil}})
	require.JSONEq(t, `{"a":[1,"x",null]}`, string(got))
	require.JSONEq(t, `"just text"`, string(alice.mustInvoke("echo", "just text")))

	require.Equal(t, completion{Error: "Invocation failed, status code 404"}, alice.invoke("noSuchMethod", 1))
	require.Equal(t, completion{Error: "nobody named dave is online"}, alice.invoke("sendToUser", "dave", "hi"))
	require.Equal(t, completion{Error: "broadcast: invalid arguments: it takes 1 argument(s) (a string), the client sent 0"}, alice.invoke("broadcast"))
	// A typed result.
	require.JSONEq(t, `{"user":"alice","connectionId":"`+alice.id+`","anonymous":false}`, string(alice.mustInvoke("whoAmI")))
	// The connection is still usable.
	require.JSONEq(t, `42`, string(alice.mustInvoke("echo", 42)))
}

// Everyone hears when a user's first connection opens and last one closes.
func TestPresenceReachesEveryone(t *testing.T) {
	t.Parallel()
	e := newChatEnv(t)
	alice := e.connect("alice", false)
	alice.wantPresence("alice", true) // her own, first
	bob := e.connect("bob", false)
	alice.wantPresence("bob", true)
	bob.wantPresence("bob", true)

	// bob's second tab: online again; closing it leaves him online, so
	// nothing is announced before the marker.
	bob2 := e.connect("bob", true)
	alice.wantPresence("bob", true)
	require.NoError(t, bob2.ws.Close(websocket.StatusNormalClosure, ""))
	e.waitServed("disconnected", bob2.id)
	alice.mustInvoke("broadcast", "marker")
	target, args := alice.nextMessage()
	require.Equal(t, "newMessage", target, "alice got %s(%s), want the marker", target, args)

	require.NoError(t, bob.ws.Close(websocket.StatusNormalClosure, ""))
	alice.wantPresence("bob", false)
}
