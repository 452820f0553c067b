package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/signalrtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePresence answers UserExists from a set of online users, or fails.
type fakePresence struct {
	mu     sync.Mutex
	online map[string]bool
	err    error
	asked  []string
}

func (p *fakePresence) UserExists(_ context.Context, hub, user string, _ *signalr.ExistsOptions) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, hub+"/"+user)
	return p.online[user], p.err
}

// fakeHub is the hub's upstream endpoint over a FakeSender (the hub's one
// Output) and a fakePresence.
type fakeHub struct {
	t        *testing.T
	handler  http.Handler
	fake     *signalrtest.FakeSender
	presence *fakePresence
	logs     *syncBuffer
}

// fixedNow is the time the fake hub stamps messages with.
var fixedNow = time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	require.NoError(t, err)
	b, err := loadBindings(functionsFS)
	require.NoError(t, err)
	f := &fakeHub{t: t, presence: &fakePresence{online: map[string]bool{}}, logs: &syncBuffer{}}
	var out *signalr.Output
	out, f.fake = signalrtest.NewOutput(hubName)
	h := &chatHub{presence: f.presence, now: func() time.Time { return fixedNow }}
	up, err := newUpstream(b, out, h, slog.New(slog.NewTextHandler(f.logs, nil)), &signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: cs}})
	require.NoError(t, err)
	f.handler = up
	return f
}

// do serves one upstream request.
func (f *fakeHub) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// invoke calls method as the connection conn of user and returns the
// Completion.
func (f *fakeHub) invoke(user, method string, args ...any) signalrtest.Completion {
	f.t.Helper()
	rec := f.do(signalrtest.UpstreamRequests{ConnectionID: "conn-" + user, UserID: user}.Invoke("7", method, args...))
	require.Equal(f.t, http.StatusOK, rec.Code, "%s%v: %d %s", method, args, rec.Code, rec.Body)
	c, err := signalrtest.ReadCompletion(rec.Body.Bytes())
	require.NoError(f.t, err, "%s%v: body %q", method, args, rec.Body)
	require.Equal(f.t, "7", c.InvocationID)
	return c
}

// calls lists every delivery.
func (f *fakeHub) calls() []signalrtest.Call { return f.fake.Calls() }

// sentAt is fixedNow as the JSON the service receives.
const sentAt = "2026-05-01T12:30:00Z"

// Each hub method sends exactly one item through its own output binding,
// to the right audience, with the caller's user id as the sender, and
// completes the invocation without a result.
func TestHubMethodsWithFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method   string
		args     []any
		function string
		want     signalrtest.Call
	}{
		{"broadcast", []any{"hello, all"}, fnBroadcast, signalrtest.Call{Hub: "chat", Message: &signalr.Message{Target: "newMessage",
			Arguments: []any{map[string]any{"from": "alice", "text": "hello, all", "sentAt": sentAt}}}}},
		{"sendToUser", []any{"bob", "psst"}, fnSendToUser, signalrtest.Call{Hub: "chat", Message: &signalr.Message{Target: "newMessage", UserID: "bob",
			Arguments: []any{map[string]any{"from": "alice", "text": "psst", "to": map[string]any{"user": "bob"}, "sentAt": sentAt}}}}},
		{"sendToGroup", []any{"team a/b", "hi team"}, fnSendToGroup, signalrtest.Call{Hub: "chat", Message: &signalr.Message{Target: "newMessage", GroupName: "team a/b",
			Arguments: []any{map[string]any{"from": "alice", "text": "hi team", "to": map[string]any{"group": "team a/b"}, "sentAt": sentAt}}}}},
		{"joinGroup", []any{"g1"}, fnJoinGroup, signalrtest.Call{Hub: "chat", GroupAction: &signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: "conn-alice", GroupName: "g1"}}},
		{"leaveGroup", []any{"g1"}, fnLeaveGroup, signalrtest.Call{Hub: "chat", GroupAction: &signalr.GroupAction{Action: signalr.GroupActionRemove, ConnectionID: "conn-alice", GroupName: "g1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			f := newFakeHub(t)
			f.presence.online["bob"] = true
			c := f.invoke("alice", tt.method, tt.args...)
			require.Equal(t, "", c.Error, "%s failed", tt.method)
			require.False(t, c.HasResult, "%s returned a result: %s", tt.method, c.Result.Raw())
			require.Equal(t, []signalrtest.Call{tt.want}, f.fake.Calls(), "%s delivered", tt.method)
			require.Len(t, f.calls(), 1, "only %s's output binding is used: %v", tt.function, f.calls())
		})
	}
}

// Method names match case-insensitively, as in Azure Functions, and a
// fire-and-forget send runs the method too, answering 200 with no body.
func TestHubMethodNamesAndSend(t *testing.T) {
	t.Parallel()
	f := newFakeHub(t)
	c := f.invoke("alice", "BROADCAST", "loud")
	require.Equal(t, "", c.Error)
	rec := f.do(signalrtest.UpstreamRequests{UserID: "alice"}.Send("broadcast", "quiet"))
	require.Equal(t, http.StatusOK, rec.Code, "send: %d %s", rec.Code, rec.Body)
	require.Equal(t, 0, rec.Body.Len(), "send answered a body: %q", rec.Body)
	msgs := f.fake.Messages()
	require.Len(t, msgs, 2)
	for i, text := range []string{"loud", "quiet"} {
		assert.Equal(t, text, msgs[i].Arguments[0].(map[string]any)["text"])
	}
}

// echo returns its argument as the result, in the client's protocol.
func TestEchoReturnsItsArgument(t *testing.T) {
	t.Parallel()
	f := newFakeHub(t)
	value := map[string]any{"text": "héllo", "n": []any{1.0, 2.5, nil, true}}
	c := f.invoke("alice", "echo", value)
	require.Equal(t, "", c.Error)
	require.True(t, c.HasResult)
	var got any
	require.NoError(t, c.Result.Decode(&got))
	require.Equal(t, value, got)

	// A MessagePack client gets a MessagePack Completion with the value.
	rec := f.do(signalrtest.UpstreamRequests{MessagePack: true}.Invoke("8", "echo", "packed"))
	require.Equal(t, http.StatusOK, rec.Code, "%d %s", rec.Code, rec.Body)
	require.Equal(t, hubproto.ContentTypeMessagePack, rec.Header().Get("Content-Type"))
	mc, err := signalrtest.ReadCompletion(rec.Body.Bytes())
	require.NoError(t, err)
	require.True(t, mc.Result.IsMessagePack())
	var s string
	require.NoError(t, mc.Result.Decode(&s))
	require.Equal(t, "packed", s)
	require.Empty(t, f.calls(), "echo sends nothing")
}

// Bad arguments fail the invocation with an error that names the method and
// the argument, and nothing is sent.
func TestHubMethodArgumentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		user, method string
		args         []any
		want         string
	}{
		{"alice", "broadcast", nil, "broadcast: invalid arguments: it takes 1 argument(s) (a string), the client sent 0"},
		{"alice", "broadcast", []any{"a", "b"}, "broadcast: invalid arguments: it takes 1 argument(s) (a string), the client sent 2"},
		{"alice", "broadcast", []any{42}, "broadcast: invalid arguments: argument 1 must be a string: the client sent a number"},
		{"alice", "broadcast", []any{nil}, "broadcast: text is empty"},
		{"alice", "broadcast", []any{" \t "}, "broadcast: text is empty"},
		{"alice", "broadcast", []any{strings.Repeat("é", maxTextLength+1)}, "broadcast: text has 2001 characters; the limit is 2000"},
		{"", "broadcast", []any{"hi"}, "broadcast: this connection has no user id"},
		{"alice", "sendToUser", []any{"", "hi"}, "sendToUser: user is empty"},
		{"alice", "sendToUser", []any{"bob"}, "sendToUser: invalid arguments: it takes 2 argument(s) (a string, a string), the client sent 1"},
		{"alice", "sendToGroup", []any{[]string{"g1"}, "hi"}, "sendToGroup: invalid arguments: argument 1 must be a string: the client sent an array"},
		{"alice", "sendToGroup", []any{"a\nb", "hi"}, "line break"},
		{"alice", "joinGroup", []any{" "}, "joinGroup: group is empty"},
		{"alice", "joinGroup", []any{strings.Repeat("g", 1025)}, "group name is 1025 bytes long"},
		{"alice", "leaveGroup", []any{}, "leaveGroup: invalid arguments: it takes 1 argument(s) (a string), the client sent 0"},
		{"alice", "echo", []any{1, 2}, "echo: invalid arguments: it takes 1 argument(s) (any value), the client sent 2"},
	}
	for _, tt := range tests {
		f := newFakeHub(t)
		f.presence.online["bob"] = true
		c := f.invoke(tt.user, tt.method, tt.args...)
		assert.Contains(t, c.Error, tt.want, "%s%v as %q", tt.method, tt.args, tt.user)
		assert.Empty(t, f.calls(), "%s%v as %q sent something", tt.method, tt.args, tt.user)
	}
}

// A direct message to a user with no connection is not sent, and the
// invocation says so; when the check fails, the message is sent anyway.
func TestSendToUserChecksPresence(t *testing.T) {
	t.Parallel()
	f := newFakeHub(t)
	c := f.invoke("alice", "sendToUser", "dave", "are you there?")
	require.Equal(t, "nobody named dave is online", c.Error)
	require.Empty(t, f.calls())
	require.Equal(t, []string{"chat/dave"}, f.presence.asked)

	f.presence.err = errors.New("service unavailable")
	c = f.invoke("alice", "sendToUser", "dave", "are you there now?")
	require.Equal(t, "", c.Error)
	require.Len(t, f.fake.Messages(), 1)
}

// connected announces the user to everyone; disconnected announces the
// user's last connection closing, not one of several.
func TestPresenceWithFake(t *testing.T) {
	t.Parallel()
	f := newFakeHub(t)
	req := signalrtest.UpstreamRequests{ConnectionID: "c1", UserID: "alice"}
	rec := f.do(req.Connected())
	require.Equal(t, http.StatusOK, rec.Code, "connected: %d %s", rec.Code, rec.Body)
	want := signalrtest.Call{Hub: "chat", Message: &signalr.Message{Target: "presence", Arguments: []any{map[string]any{"user": "alice", "online": true}}}}
	require.Equal(t, []signalrtest.Call{want}, f.fake.Calls())
	f.fake.Reset()

	// alice still has another connection: nothing to announce.
	f.presence.online["alice"] = true
	rec = f.do(req.Disconnected(""))
	require.Equal(t, http.StatusOK, rec.Code, "disconnected: %d %s", rec.Code, rec.Body)
	require.Empty(t, f.fake.Calls())

	// Her last connection closes, with an error or not.
	delete(f.presence.online, "alice")
	rec = f.do(req.Disconnected("Connection closed with an error."))
	require.Equal(t, http.StatusOK, rec.Code, "disconnected: %d %s", rec.Code, rec.Body)
	want = signalrtest.Call{Hub: "chat", Message: &signalr.Message{Target: "presence", Arguments: []any{map[string]any{"user": "alice", "online": false}}}}
	require.Equal(t, []signalrtest.Call{want}, f.fake.Calls())

	// An anonymous connection is not announced.
	anon := signalrtest.UpstreamRequests{ConnectionID: "c2"}
	require.Equal(t, http.StatusOK, f.do(anon.Connected()).Code)
	require.Equal(t, http.StatusOK, f.do(anon.Disconnected("")).Code)
	require.Len(t, f.calls(), 1)
}

// A delivery the service refuses fails the invocation with the service's
// status and reason, and is logged without the group's name; a failed
// presence announcement does not reject the connection.
func TestHubDeliveryFailureWithFake(t *testing.T) {
	t.Parallel()
	f := newFakeHub(t)
	refusal := &signalr.ResponseError{Method: "POST", URL: "http://localhost:8888/api/hubs/chat/groups/secret-group/:send",
		StatusCode: http.StatusForbidden, Message: "the hub is closed for maintenance"}
	f.fake.FailNext(refusal)
	c := f.invoke("alice", "sendToGroup", "secret-group", "hi")
	require.Equal(t, "not delivered: SignalR Service answered 403 Forbidden: the hub is closed for maintenance", c.Error)
	logs := f.logs.String()
	for _, want := range []string{"level=ERROR", "method=sendToGroup", `serviceStatus="403 Forbidden"`, "the hub is closed for maintenance"} {
		assert.Contains(t, logs, want)
	}
	assert.NotContains(t, logs, "secret-group", "the log names the group")

	f.fake.FailNext(refusal)
	rec := f.do(signalrtest.UpstreamRequests{UserID: "alice"}.Connected())
	require.Equal(t, http.StatusOK, rec.Code, "connected: %d %s", rec.Code, rec.Body)
	assert.Contains(t, f.logs.String(), "method=connected")
}

// The app serves the hub at the Functions upstream path, and only for
// requests signed with its access key.
func TestAppServesUpstream(t *testing.T) {
	t.Parallel()
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	require.NoError(t, err)
	b, err := loadBindings(functionsFS)
	require.NoError(t, err)
	fake := signalrtest.NewFakeSender()
	a, err := newApp(appConfig{bindings: b, bind: &signalr.BindOptions{ConnectionString: cs}, sender: fake, signalrJS: newSignalRJS(fakeSignalRJS(t))})
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, signalrtest.UpstreamRequests{UserID: "alice"}.Invoke("1", "broadcast", "hi"))
	require.Equal(t, http.StatusOK, rec.Code, "%d %s", rec.Code, rec.Body)
	c, err := signalrtest.ReadCompletion(rec.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, "", c.Error)
	require.Len(t, fake.Messages(), 1)

	for name, keys := range map[string][]string{"unsigned": {}, "another key": {"not-the-key-0123456789abcdefghijklmnopqrstuv"}} {
		rec = httptest.NewRecorder()
		a.ServeHTTP(rec, signalrtest.UpstreamRequests{UserID: "alice", AccessKeys: keys}.Invoke("2", "broadcast", "forged"))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %d %s", name, rec.Code, rec.Body)
	}
	require.Len(t, fake.Messages(), 1, "a forged request sent something")

	// GET is not an upstream request; the page's routes are unaffected.
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, signalr.DefaultUpstreamPath, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, bytes.Contains(rec.Body.Bytes(), []byte("app.js")))
}
