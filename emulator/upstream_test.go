package emulator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// upstreamCall is one request the fake upstream received.
type upstreamCall struct {
	Path   string
	Header http.Header
	Body   string
}

func (c upstreamCall) event() string {
	return c.Header.Get("X-ASRS-Category") + "/" + c.Header.Get("X-ASRS-Event")
}

// fakeUpstream is a real HTTP server that records every upstream request
// and answers with respond (200 with an empty body when nil).
type fakeUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []upstreamCall
	respond func(w http.ResponseWriter, call upstreamCall)
}

func newFakeUpstream(t *testing.T, respond func(w http.ResponseWriter, call upstreamCall)) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{respond: respond}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		call := upstreamCall{Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: string(body)}
		if r.Method != http.MethodPost {
			call.Body = "METHOD " + r.Method
		}
		f.mu.Lock()
		f.calls = append(f.calls, call)
		f.mu.Unlock()
		if f.respond != nil {
			f.respond(w, call)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeUpstream) snapshot() []upstreamCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamCall(nil), f.calls...)
}

// eventsOf lists category/event of the calls for connection id, in order.
func (f *fakeUpstream) eventsOf(id string) []string {
	var out []string
	for _, c := range f.snapshot() {
		if c.Header.Get("X-ASRS-Connection-Id") == id {
			out = append(out, c.event())
		}
	}
	return out
}

func everything(url string) []emulator.UpstreamTemplate {
	return []emulator.UpstreamTemplate{{URLTemplate: url}}
}

// connectClaims connects like connect, with extra token claims.
func connectClaims(t *testing.T, s *emulator.Server, hub string, claims jwt.MapClaims) *client {
	t.Helper()
	token := mint(t, testKey, clientURL(s, hub), claims)
	n := negotiate(t, s, hub, token, 1)
	ws, _, err := dialRaw(t, s, hub, "&id="+n.ConnectionToken+"&tag=x", token)
	require.NoError(t, err)
	c := &client{t: t, ws: ws, id: n.ConnectionID}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next())
	return c
}

// completion is a Completion record read by a client.
type completion struct {
	Type         int             `json:"type"`
	InvocationID string          `json:"invocationId"`
	Result       json.RawMessage `json:"result"`
	Error        *string         `json:"error"`
}

func (c *client) nextCompletion() completion {
	c.t.Helper()
	for {
		r := c.next()
		var m completion
		require.NoError(c.t, json.Unmarshal([]byte(r), &m), r)
		if m.Type == 6 {
			continue
		}
		require.Equal(c.t, 3, m.Type, "record %s", r)
		return m
	}
}

func hmacHex(key, data string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(data))
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

func TestUpstreamEventsCarryHeadersAndSignature(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		if call.Header.Get("X-ASRS-Event") == "greet" {
			_, _ = io.WriteString(w, "{\"type\":3,\"invocationId\":\"1\",\"result\":\"hello ada\"}\x1e")
		}
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL + "/runtime/webhooks/signalr?code=secret")})
	c := connectClaims(t, s, "Chat", jwt.MapClaims{"asrs.s.uid": "ada", "name": "Ada L", "role": []any{"a", "b"}})

	c.send(`{"type":1,"invocationId":"1","target":"greet","arguments":["ada",{"n":1}]}`)
	m := c.nextCompletion()
	assert.Equal(t, "1", m.InvocationID)
	assert.JSONEq(t, `"hello ada"`, string(m.Result))
	assert.Nil(t, m.Error)

	c.send(`{"type":1,"target":"Broadcast","arguments":[]}`)
	require.NoError(t, c.ws.CloseNow())
	eventually(t, "disconnected reaches the upstream", func() bool { return len(up.eventsOf(c.id)) == 4 })

	calls := up.snapshot()
	assert.Equal(t, []string{"connections/connected", "messages/greet", "messages/Broadcast", "connections/disconnected"}, up.eventsOf(c.id))
	for _, call := range calls {
		h := call.Header
		assert.Equal(t, "/runtime/webhooks/signalr", call.Path)
		assert.Equal(t, c.id, h.Get("X-ASRS-Connection-Id"))
		assert.Equal(t, "chat", h.Get("X-ASRS-Hub"))
		assert.Equal(t, "ada", h.Get("X-ASRS-User-Id"))
		assert.Equal(t, "asrs.s.uid: ada, name: Ada L, role: a, role: b", h.Get("X-ASRS-User-Claims"))
		assert.True(t, strings.HasPrefix(h.Get("X-ASRS-Client-Query"), "?hub=Chat&id="), h.Get("X-ASRS-Client-Query"))
		assert.Contains(t, h.Get("X-ASRS-Client-Query"), "&tag=x")
		assert.Equal(t, "sha256="+hmacHex(testKey, c.id), h.Get("X-ASRS-Signature"))
		assert.Equal(t, "application/json", h.Get("Content-Type"))
	}
	assert.JSONEq(t, `{"type":10}`, calls[0].Body)
	assert.JSONEq(t, `{"type":1,"invocationId":"1","target":"greet","arguments":["ada",{"n":1}]}`, calls[1].Body)
	assert.False(t, strings.HasSuffix(calls[1].Body, "\x1e"), "no record separator upstream")
	assert.JSONEq(t, `{"type":1,"target":"Broadcast","arguments":[]}`, calls[2].Body)
	// The disconnected body uses the PascalCase keys of the service.
	var closed struct {
		Type  int
		Error string
	}
	require.NoError(t, json.Unmarshal([]byte(calls[3].Body), &closed))
	assert.Equal(t, 11, closed.Type)
	assert.Contains(t, calls[3].Body, `"Type":11`)

	// An anonymous connection has no user header, and a clean close no Error.
	anon := connect(t, s, "chat", "")
	anon.send(`{"type":7}`)
	eventually(t, "anonymous disconnected", func() bool { return len(up.eventsOf(anon.id)) == 2 })
	for _, call := range up.snapshot() {
		if call.Header.Get("X-ASRS-Connection-Id") == anon.id {
			_, has := call.Header["X-Asrs-User-Id"]
			assert.False(t, has, "no X-ASRS-User-Id for an anonymous connection")
			if call.event() == "connections/disconnected" {
				assert.JSONEq(t, `{"Type":11}`, call.Body)
			}
		}
	}
}

func TestUpstreamCompletionRelayRules(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		var inv struct {
			InvocationID string `json:"invocationId"`
		}
		_ = json.Unmarshal([]byte(call.Body), &inv)
		switch call.Header.Get("X-ASRS-Event") {
		case "framed":
			_, _ = fmt.Fprintf(w, "{\"type\":3,\"invocationId\":%q,\"result\":{\"a\":1}}\x1e", inv.InvocationID)
		case "unframed":
			_, _ = fmt.Fprintf(w, `{"type":3,"invocationId":%q,"result":2}`, inv.InvocationID)
		case "appError":
			_, _ = fmt.Fprintf(w, "{\"type\":3,\"invocationId\":%q,\"error\":\"no such room\"}\x1e", inv.InvocationID)
		case "empty200":
			w.Header().Set("Content-Length", "0")
		case "chunkedEmpty":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
		case "noContent":
			w.WriteHeader(http.StatusNoContent)
		case "notFound":
			http.Error(w, `{"error":"no handler"}`, http.StatusNotFound)
		case "boom":
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL)})
	c := connect(t, s, "chat", "u1")
	tests := []struct {
		target string
		result string
		err    string
	}{
		{"framed", `{"a":1}`, ""},
		{"unframed", `2`, ""},
		{"appError", "", "no such room"},
		{"empty200", "", ""},
		{"chunkedEmpty", "", ""},
		{"noContent", "", ""},
		{"notFound", "", "Invocation failed, status code 404"},
		{"boom", "", "Invocation failed, status code 500"},
	}
	for i, tt := range tests {
		id := fmt.Sprint(i + 1)
		c.send(fmt.Sprintf(`{"type":1,"invocationId":%q,"target":%q,"arguments":[]}`, id, tt.target))
		m := c.nextCompletion()
		assert.Equal(t, id, m.InvocationID, tt.target)
		if tt.err != "" {
			require.NotNil(t, m.Error, tt.target)
			assert.Equal(t, tt.err, *m.Error, tt.target)
			continue
		}
		assert.Nil(t, m.Error, tt.target)
		if tt.result == "" {
			assert.Nil(t, m.Result, tt.target)
		} else {
			assert.JSONEq(t, tt.result, string(m.Result), tt.target)
		}
	}
	// A send's failure reaches nobody, and the connection carries on.
	c.send(`{"type":1,"target":"boom","arguments":[]}`, `{"type":1,"invocationId":"x","target":"framed","arguments":[]}`)
	assert.Equal(t, "x", c.nextCompletion().InvocationID)
}

func TestUpstreamResponseTooLarge(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		_, _ = fmt.Fprintf(w, "{\"type\":3,\"invocationId\":\"1\",\"result\":%q}\x1e", strings.Repeat("x", 20000))
	})
	// The send queue holds 8 KiB, so a 20 KB Completion cannot be relayed.
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), MaxMessageSize: 4096, SendQueueBytes: 8192})
	c := connect(t, s, "chat", "")
	c.send(`{"type":1,"invocationId":"1","target":"big","arguments":[]}`)
	m := c.nextCompletion()
	require.NotNil(t, m.Error)
	assert.Equal(t, "Invocation failed, response too large.", *m.Error)
	// The connection is still open.
	c.send(`{"type":6}`, `{"type":1,"invocationId":"2","target":"big","arguments":[]}`)
	assert.Equal(t, "2", c.nextCompletion().InvocationID)
}

func TestUpstreamUnreachableAndSlow(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	release := make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		switch call.Header.Get("X-ASRS-Event") {
		case "slow":
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		case "fast":
			_, _ = io.WriteString(w, "{\"type\":3,\"invocationId\":\"f\",\"result\":\"quick\"}\x1e")
		}
	})
	t.Cleanup(func() { close(release) })
	s := newServer(t, &emulator.Options{
		UpstreamTimeout: 300 * time.Millisecond,
		Upstream: []emulator.UpstreamTemplate{
			{URLTemplate: dead, EventPattern: "unreachable"},
			{URLTemplate: up.URL},
		},
	})
	a := connect(t, s, "chat", "a")

	a.send(`{"type":1,"invocationId":"u","target":"unreachable","arguments":[]}`)
	m := a.nextCompletion()
	require.NotNil(t, m.Error)
	assert.Equal(t, "Invocation failed, the upstream could not be reached (status code 500).", *m.Error)
	assert.NotContains(t, *m.Error, l.Addr().String(), "the URL is not disclosed")

	a.send(`{"type":1,"invocationId":"s","target":"slow","arguments":[]}`)
	m = a.nextCompletion()
	assert.Equal(t, "s", m.InvocationID)
	require.NotNil(t, m.Error)
	assert.Equal(t, "Invocation failed, the upstream did not answer within 300ms.", *m.Error)

	// The connection carries on after a timeout.
	a.send(`{"type":1,"invocationId":"f","target":"fast","arguments":[]}`)
	assert.JSONEq(t, `"quick"`, string(a.nextCompletion().Result))
}

func TestUpstreamHeldCallBlocksNoOtherConnection(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		switch call.Header.Get("X-ASRS-Event") {
		case "held":
			<-release
			_, _ = io.WriteString(w, "{\"type\":3,\"invocationId\":\"h\",\"result\":\"released\"}\x1e")
		case "fast":
			_, _ = io.WriteString(w, "{\"type\":3,\"invocationId\":\"f\",\"result\":\"quick\"}\x1e")
		}
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), UpstreamTimeout: time.Minute})
	a := connect(t, s, "chat", "a")
	b := connect(t, s, "chat", "b")

	a.send(`{"type":1,"invocationId":"h","target":"held","arguments":[]}`)
	eventually(t, "a's call reaches the upstream", func() bool { return len(up.eventsOf(a.id)) == 2 })
	// a's call is held by the upstream until release; b's calls, REST
	// sends to a, and b's own events all go through meanwhile.
	for i := 0; i < 3; i++ {
		b.send(`{"type":1,"invocationId":"f","target":"fast","arguments":[]}`)
		assert.JSONEq(t, `"quick"`, string(b.nextCompletion().Result))
	}
	resp := rest(t, s, "POST", "/api/v1/hubs/chat/users/a", sendBody("note", "while held"))
	wantStatus(t, resp, http.StatusAccepted, "")
	a.wantInvocation("note", "while held")

	releaseOnce.Do(func() { close(release) })
	m := a.nextCompletion()
	assert.Equal(t, "h", m.InvocationID)
	assert.JSONEq(t, `"released"`, string(m.Result))
}

func TestUpstreamKeepsOrderPerConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	delay := 3 * time.Millisecond
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		// Alternate slow and fast answers: without per-connection order
		// the fast ones would overtake.
		mu.Lock()
		delay = 3*time.Millisecond - delay
		d := delay
		mu.Unlock()
		time.Sleep(d)
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL)})
	var clients []*client
	for i := 0; i < 3; i++ {
		clients = append(clients, connect(t, s, "chat", ""))
	}
	want := []string{"connections/connected"}
	for i := 0; i < 20; i++ {
		want = append(want, fmt.Sprintf("messages/m%d", i))
	}
	want = append(want, "connections/disconnected")
	for i := 0; i < 20; i++ {
		for _, c := range clients {
			c.send(fmt.Sprintf(`{"type":1,"target":"m%d","arguments":[]}`, i))
		}
	}
	for _, c := range clients {
		c.send(`{"type":7}`)
	}
	for _, c := range clients {
		eventually(t, "all events of "+c.id, func() bool { return len(up.eventsOf(c.id)) == len(want) })
		assert.Equal(t, want, up.eventsOf(c.id))
	}
}

func TestUpstreamTemplatesMatchInOrderAndEscape(t *testing.T) {
	t.Parallel()
	first := newFakeUpstream(t, nil)
	second := newFakeUpstream(t, nil)
	s := newServer(t, &emulator.Options{Upstream: []emulator.UpstreamTemplate{
		{URLTemplate: first.URL + "/{hub}/api/{category}/{event}", HubPattern: "Chat, game", CategoryPattern: "messages", EventPattern: " say , a b/c?d "},
		{URLTemplate: second.URL + "/all/{event}", EventPattern: "*"},
		{URLTemplate: first.URL + "/never"},
	}})
	c := connect(t, s, "chat", "")
	c.send(`{"type":1,"target":"a b/c?d","arguments":[]}`, `{"type":1,"target":"say","arguments":[]}`, `{"type":1,"target":"Say","arguments":[]}`, `{"type":7}`)
	eventually(t, "every event arrived", func() bool { return len(second.eventsOf(c.id)) == 3 && len(first.eventsOf(c.id)) == 2 })
	var paths []string
	for _, call := range first.snapshot() {
		paths = append(paths, call.Path)
	}
	assert.Equal(t, []string{"/chat/api/messages/a%20b%2Fc%3Fd", "/chat/api/messages/say"}, paths)
	paths = nil
	for _, call := range second.snapshot() {
		paths = append(paths, call.Path)
	}
	assert.Equal(t, []string{"/all/connected", "/all/Say", "/all/disconnected"}, paths, "patterns are case-sensitive for events")
}

func TestUpstreamNoMatchAndStreamInvocations(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	s := newServer(t, &emulator.Options{Upstream: []emulator.UpstreamTemplate{{URLTemplate: up.URL, HubPattern: "other"}}})
	c := connect(t, s, "chat", "")
	c.send(`{"type":1,"invocationId":"1","target":"echo","arguments":[]}`)
	m := c.nextCompletion()
	require.NotNil(t, m.Error)
	assert.Contains(t, *m.Error, "no upstream configured")

	s2 := newServer(t, &emulator.Options{Upstream: everything(up.URL)})
	c2 := connect(t, s2, "chat", "")
	c2.send(`{"type":4,"invocationId":"9","target":"counter","arguments":[]}`, `{"type":5,"invocationId":"9"}`, `{"type":2,"invocationId":"9","item":1}`)
	m = c2.nextCompletion()
	assert.Equal(t, "9", m.InvocationID)
	require.NotNil(t, m.Error)
	assert.Contains(t, *m.Error, "Stream invocations are not forwarded")
	c2.send(`{"type":7}`)
	eventually(t, "disconnected", func() bool { return len(up.eventsOf(c2.id)) == 2 })
	assert.Equal(t, []string{"connections/connected", "connections/disconnected"}, up.eventsOf(c2.id), "stream invocation, cancel and stream items are not forwarded")
	assert.Empty(t, up.eventsOf(c.id), "hub chat matches no template")
}

func TestUpstreamShutdownWithCallInFlight(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		if call.Header.Get("X-ASRS-Event") == "hang" {
			select {
			case <-stuck:
			case <-time.After(10 * time.Second):
			}
		}
	})
	t.Cleanup(func() { close(stuck) })
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), UpstreamTimeout: time.Minute})
	c := connect(t, s, "chat", "")
	c.send(`{"type":1,"invocationId":"1","target":"hang","arguments":[]}`)
	eventually(t, "the call is in flight", func() bool { return len(up.eventsOf(c.id)) == 2 })
	ctx, cancel := contextWithTimeout(200 * time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Emulator.Shutdown(ctx)
	assert.Error(t, err, "the grace period ended")
	assert.Less(t, time.Since(start), 3*time.Second, "shutdown aborted the stuck upstream call")
}

func TestParseSettings(t *testing.T) {
	t.Parallel()
	s, err := emulator.ParseSettings([]byte(`{"upstreamsettings":{"templates":[
		{"urltemplate":"http://localhost:7071/runtime/webhooks/signalr","eventpattern":"*","HubPattern":"chat","categoryPattern":"messages"}]},
		"Logging":{"LogLevel":{"Default":"Warning"}}}`))
	require.NoError(t, err)
	assert.Equal(t, []emulator.UpstreamTemplate{{URLTemplate: "http://localhost:7071/runtime/webhooks/signalr", EventPattern: "*", HubPattern: "chat", CategoryPattern: "messages"}}, s.UpstreamSettings.Templates)

	for doc, says := range map[string]string{
		`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://x","HubPattern":null}]}}`: "Templates[0].HubPattern is null",
		`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"/relative"}]}}`:                  `Templates[0]: UrlTemplate "/relative" is not an absolute`,
		`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"ftp://x/{event}"}]}}`:            "http://",
		`{"UpstreamSettings":{"Templates":[{"HubPattern":"*"}]}}`:                           "UrlTemplate is empty",
		`{"UpstreamSettings":`: "not valid JSON",
	} {
		_, err := emulator.ParseSettings([]byte(doc))
		assert.ErrorContains(t, err, says, doc)
	}
	err = emulator.UpstreamTemplate{URLTemplate: "nope?code=secret"}.Validate()
	assert.NotContains(t, err.Error(), "secret", "a key in the query is not echoed")

	path := filepath.Join(t.TempDir(), "settings.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://h/{hub}"}]}}`), 0o600))
	s, err = emulator.LoadSettings(path)
	require.NoError(t, err)
	assert.Len(t, s.UpstreamSettings.Templates, 1)
	_, err = emulator.LoadSettings(filepath.Join(t.TempDir(), "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	assert.Contains(t, emulator.Options{Upstream: everything("http://x")}.String(), "Upstream: 1 template(s)")
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// TestNewRejectsBadOptions: New refuses options it cannot serve with an
// error that names the field and the fix, instead of failing at run time.
func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	for _, tt := range []struct {
		opts emulator.Options
		says []string
	}{
		{emulator.Options{Upstream: []emulator.UpstreamTemplate{{URLTemplate: "http://ok"}, {URLTemplate: "not a url?code=secret"}}},
			[]string{"Options.Upstream[1]", "UrlTemplate", "absolute http:// or https:// URL"}},
		{emulator.Options{Upstream: []emulator.UpstreamTemplate{{URLTemplate: " "}}}, []string{"Options.Upstream[0]", "UrlTemplate is empty; set it"}},
		{emulator.Options{KeepAliveInterval: -time.Second}, []string{"Options.KeepAliveInterval is -1s", "0 for the default"}},
		{emulator.Options{CloseTimeout: -1}, []string{"Options.CloseTimeout"}},
		{emulator.Options{PollTimeout: 2 * time.Minute}, []string{"Options.PollTimeout is 2m0s", "100s"}},
		{emulator.Options{SendQueueSize: -1}, []string{"Options.SendQueueSize is -1"}},
		{emulator.Options{MaxMessageSize: -5}, []string{"Options.MaxMessageSize is -5"}},
		{emulator.Options{Identity: &emulator.IdentityOptions{IssuerKey: p384}}, []string{"Options.Identity.IssuerKey is not a P-256 key"}},
	} {
		e, err := emulator.New(&tt.opts)
		require.ErrorIs(t, err, emulator.ErrInvalidOptions, "%v", tt.opts)
		assert.Nil(t, e)
		for _, want := range tt.says {
			assert.Contains(t, err.Error(), want)
		}
		assert.NotContains(t, err.Error(), "secret", "the query may hold a key")
	}
	e, err := emulator.New(nil)
	require.NoError(t, err, "nil means every default")
	require.NoError(t, e.Close())
	assert.Panics(t, func() { emulator.NewServer(&emulator.Options{SendQueueSize: -1}) }, "NewServer panics as httptest does")
}
