package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"

	"github.com/stretchr/testify/require"
)

// fakeAPI is the API handler over FakeSenders: one per function, as each
// function has its own output binding.
type fakeAPI struct {
	handler http.Handler
	fakes   map[string]*signalrtest.FakeSender
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	require.NoError(t, err)
	b := declaredBindings()
	opts := &signalr.BindOptions{ConnectionString: cs}
	byHeader, err := b.Negotiate.Bind(opts)
	require.NoError(t, err)
	byQuery, err := b.NegotiateFromQuery.Bind(opts)
	require.NoError(t, err)
	f := &fakeAPI{fakes: map[string]*signalrtest.FakeSender{}}
	outputs := map[string]*signalr.Output{}
	for _, fn := range []string{fnMessages, fnUserMessages, fnGroupMessages, fnConnectionMessages, fnGroupAdd, fnGroupRemove} {
		outputs[fn], f.fakes[fn] = signalrtest.NewOutput(hubName)
	}
	f.handler = apiHandler(byHeader, byQuery, outputs, nil)
	return f
}

// do serves one request and returns the recorder.
func (f *fakeAPI) do(method, target, body string, header http.Header) *httptest.ResponseRecorder {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// calls counts the deliveries of every fake.
func (f *fakeAPI) calls() int {
	n := 0
	for _, fake := range f.fakes {
		n += len(fake.Calls())
	}
	return n
}

// jsonError decodes a {"error": ...} body, failing if it is not one.
func jsonError(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	ct := rec.Header().Get("Content-Type")
	require.True(t, strings.HasPrefix(ct, "application/json"), "Content-Type %q, want JSON; body %s", ct, rec.Body)
	var body struct {
		Error string `json:"error"`
	}
	err := json.Unmarshal(rec.Body.Bytes(), &body)
	require.NoError(t, err, "body %s is not a JSON error (%v)", rec.Body, err)
	require.NotEqual(t, "", body.Error, "body %s is not a JSON error (%v)", rec.Body, err)
	return body.Error
}

// Each send function sends exactly one newMessage to its audience, with the
// body as the only argument, and answers 204.
func TestSendHandlersWithFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		function, target string
		want             signalr.Message
	}{
		{fnMessages, "/api/messages", signalr.Message{}},
		{fnUserMessages, "/api/users/alice/messages", signalr.Message{UserID: "alice"}},
		{fnUserMessages, "/api/users/d%C3%A9j%C3%A0%20vu%2Fx/messages", signalr.Message{UserID: "déjà vu/x"}},
		{fnGroupMessages, "/api/groups/g1/messages", signalr.Message{GroupName: "g1"}},
		{fnGroupMessages, "/api/groups/team%20a%2Fb/messages", signalr.Message{GroupName: "team a/b"}},
		{fnConnectionMessages, "/api/connections/c-1/messages", signalr.Message{ConnectionID: "c-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			api := newFakeAPI(t)
			body := `{"from": "bob", "text": "hi <b>there</b>", "n": 12345678901234567890}`
			rec := api.do("POST", tt.target, body, nil)
			require.Equal(t, http.StatusNoContent, rec.Code, "status %d body %q, want 204 and no body", rec.Code, rec.Body)
			require.Equal(t, 0, rec.Body.Len(), "status %d body %q, want 204 and no body", rec.Code, rec.Body)
			msgs := api.fakes[tt.function].Messages()
			require.Len(t, msgs, 1, "%d messages on %s, %d calls in all; want one", len(msgs), tt.function, api.calls())
			require.Equal(t, 1, api.calls(), "%d messages on %s, %d calls in all; want one", len(msgs), tt.function, api.calls())
			got := msgs[0]
			require.Equal(t, "newMessage", got.Target, "message %+v, want newMessage to %+v", got, tt.want)
			require.Equal(t, tt.want.UserID, got.UserID, "message %+v, want newMessage to %+v", got, tt.want)
			require.Equal(t, tt.want.GroupName, got.GroupName, "message %+v, want newMessage to %+v", got, tt.want)
			require.Equal(t, tt.want.ConnectionID, got.ConnectionID, "message %+v, want newMessage to %+v", got, tt.want)
			args, err := json.Marshal(got.Arguments)
			require.NoError(t, err)
			// The body goes through unchanged: every digit kept.
			want := `[{"from":"bob","text":"hi <b>there</b>","n":12345678901234567890}]`
			require.True(t, jsonEqual(t, args, want), "arguments %s, want %s", args, want)
		})
	}
}

// The ask route needs something that can invoke a client: over a fake
// sender it answers 501, saying so, and a bad body is a 400 before
// anything is asked.
func TestAskHandlerWithoutClient(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	rec := api.do("POST", "/api/connections/c-1/ask", `{"q":1}`, nil)
	require.Equal(t, http.StatusNotImplemented, rec.Code, "%s", rec.Body)
	require.Contains(t, jsonError(t, rec), "needs a signalr.Client")
	asked := &fakeInvoker{answer: json.RawMessage(`{"a":2}`)}
	h := askHandler(asked)
	for _, tt := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"q":1}`, http.StatusOK, `{"answer":{"a":2}}`},
		{`nope`, http.StatusBadRequest, ""},
	} {
		req := httptest.NewRequest("POST", "/api/connections/c-1/ask", strings.NewReader(tt.body))
		req.SetPathValue("connectionId", "c-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, tt.status, rec.Code, "body %q: %s", tt.body, rec.Body)
		if tt.want != "" {
			require.JSONEq(t, tt.want, rec.Body.String())
		}
	}
	require.Equal(t, []string{"chat c-1 ask [{\"q\":1}]"}, asked.calls)
	asked.err = &signalr.ResponseError{StatusCode: http.StatusNotFound}
	req := httptest.NewRequest("POST", "/api/connections/c-2/ask", strings.NewReader(`1`))
	req.SetPathValue("connectionId", "c-2")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNotFound, rec.Code, "%s", rec.Body)
	require.Equal(t, "no connection c-2", jsonError(t, rec))
}

// fakeInvoker records Invoke calls and answers with answer or err.
type fakeInvoker struct {
	answer json.RawMessage
	err    error
	calls  []string
}

func (f *fakeInvoker) Invoke(_ context.Context, hub, connectionID, target string, args []any, _ *signalr.InvokeOptions) (json.RawMessage, error) {
	a, _ := json.Marshal(args)
	f.calls = append(f.calls, hub+" "+connectionID+" "+target+" "+string(a))
	return f.answer, f.err
}

// jsonEqual compares two JSON texts, keeping numbers exact.
func jsonEqual(t *testing.T, a []byte, b string) bool {
	t.Helper()
	decode := func(data []byte) any {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var v any
		require.NoError(t, dec.Decode(&v), "%s", data)
		return v
	}
	return reflect.DeepEqual(decode(a), decode([]byte(b)))
}

// Any JSON value is a valid message body, not only objects.
func TestSendHandlersAcceptAnyJSONValue(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`"just text"`, `42`, `[1, "two", null]`, `null`, `true`, " \n{\"a\":[]}\n "} {
		api := newFakeAPI(t)
		rec := api.do("POST", "/api/messages", body, nil)
		require.Equal(t, http.StatusNoContent, rec.Code, "body %q: status %d %s", body, rec.Code, rec.Body)
		args, _ := json.Marshal(api.fakes[fnMessages].Messages()[0].Arguments)
		require.True(t, jsonEqual(t, args, "["+body+"]"), "body %q sent as arguments %s", body, args)
	}
}

// A body that is not exactly one JSON value is a 400 with a JSON error, and
// nothing is sent.
func TestSendHandlersRejectBadBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
		status           int
	}{
		{"empty", "", "empty", http.StatusBadRequest},
		{"white space", "  \n", "empty", http.StatusBadRequest},
		{"truncated", `{"text":`, "not a JSON value", http.StatusBadRequest},
		{"not JSON", `hello`, "not a JSON value", http.StatusBadRequest},
		{"trailing garbage", `{"text":"hi"} x`, "more after its JSON value", http.StatusBadRequest},
		{"two values", `{"a":1}{"b":2}`, "more than one JSON value", http.StatusBadRequest},
		{"too large", `"` + strings.Repeat("x", maxBodyBytes) + `"`, "larger than", http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		for _, target := range []string{"/api/messages", "/api/users/alice/messages", "/api/groups/g1/messages"} {
			t.Run(tt.name+" "+target, func(t *testing.T) {
				api := newFakeAPI(t)
				rec := api.do("POST", target, tt.body, nil)
				require.Equal(t, tt.status, rec.Code, "status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
				msg := jsonError(t, rec)
				require.Contains(t, msg, tt.want, "error %q does not say %q", msg, tt.want)
				n := api.calls()
				require.Equal(t, 0, n, "%d deliveries for a rejected body", n)
			})
		}
	}
}

// A group name the service would refuse is a 400 before any I/O.
func TestInvalidGroupNameIsBadRequest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ method, target, body string }{
		{"POST", "/api/groups/%20%20/messages", `{}`},
		{"PUT", "/api/groups/%09/users/alice", ""},
		{"DELETE", "/api/groups/%20/users/alice", ""},
	} {
		api := newFakeAPI(t)
		rec := api.do(tt.method, tt.target, tt.body, nil)
		require.Equal(t, http.StatusBadRequest, rec.Code, "%s %s: status %d %s", tt.method, tt.target, rec.Code, rec.Body)
		msg := jsonError(t, rec)
		require.Contains(t, msg, "group name", "%s %s: error %q does not mention the group name", tt.method, tt.target, msg)
		require.Equal(t, 0, api.calls(), "%s %s: delivered anyway", tt.method, tt.target)
	}
}

// PUT adds the user to the group, DELETE removes it: one group action each.
func TestGroupActionHandlersWithFake(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	rec := api.do("PUT", "/api/groups/team%20a%2Fb/users/alice", "", nil)
	require.Equal(t, http.StatusNoContent, rec.Code, "PUT: %d %s", rec.Code, rec.Body)
	rec = api.do("DELETE", "/api/groups/g1/users/bob", "", nil)
	require.Equal(t, http.StatusNoContent, rec.Code, "DELETE: %d %s", rec.Code, rec.Body)
	add := api.fakes[fnGroupAdd].GroupActions()
	remove := api.fakes[fnGroupRemove].GroupActions()
	wantAdd := signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "alice", GroupName: "team a/b"}
	wantRemove := signalr.GroupAction{Action: signalr.GroupActionRemove, UserID: "bob", GroupName: "g1"}
	require.Len(t, add, 1, "add %+v remove %+v (%d calls), want %+v and %+v", add, remove, api.calls(), wantAdd, wantRemove)
	require.Equal(t, wantAdd, add[0], "add %+v remove %+v (%d calls), want %+v and %+v", add, remove, api.calls(), wantAdd, wantRemove)
	require.Len(t, remove, 1, "add %+v remove %+v (%d calls), want %+v and %+v", add, remove, api.calls(), wantAdd, wantRemove)
	require.Equal(t, wantRemove, remove[0], "add %+v remove %+v (%d calls), want %+v and %+v", add, remove, api.calls(), wantAdd, wantRemove)
	require.Equal(t, 2, api.calls(), "add %+v remove %+v (%d calls), want %+v and %+v", add, remove, api.calls(), wantAdd, wantRemove)
	// Other methods are not routes.
	rec = api.do("POST", "/api/groups/g1/users/bob", "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code, "POST on a membership: %d", rec.Code)
}

// A delivery the service refuses becomes a 502 naming the item and the reason.
func TestDeliveryFailureWithFake(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ function, method, target, body string }{
		{fnMessages, "POST", "/api/messages", `{"text":"hi"}`},
		{fnUserMessages, "POST", "/api/users/alice/messages", `{"text":"hi"}`},
		{fnGroupMessages, "POST", "/api/groups/g1/messages", `{"text":"hi"}`},
		{fnGroupAdd, "PUT", "/api/groups/g1/users/alice", ""},
		{fnGroupRemove, "DELETE", "/api/groups/g1/users/alice", ""},
	} {
		api := newFakeAPI(t)
		api.fakes[tt.function].FailNext(errors.New("service says no"))
		rec := api.do(tt.method, tt.target, tt.body, nil)
		require.Equal(t, http.StatusBadGateway, rec.Code, "%s %s: status %d %s, want 502", tt.method, tt.target, rec.Code, rec.Body)
		var body struct {
			Error    string `json:"error"`
			Failures []struct {
				Reason string `json:"reason"`
			} `json:"failures"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.NotEqual(t, "", body.Error, "%s %s: body %s", tt.method, tt.target, rec.Body)
		require.Len(t, body.Failures, 1, "%s %s: body %s", tt.method, tt.target, rec.Body)
		require.Contains(t, body.Failures[0].Reason, "service says no", "%s %s: body %s", tt.method, tt.target, rec.Body)
	}
}

// tokenUser returns the user id claim of a ConnectionInfo's token.
func tokenUser(t *testing.T, info signalr.ConnectionInfo) string {
	t.Helper()
	parts := strings.Split(info.AccessToken, ".")
	require.Len(t, parts, 3, "token with %d parts", len(parts))
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	user, _ := claims["asrs.s.uid"].(string)
	return user
}

// Negotiate takes the user from the App Service header, else from ?userId=,
// and refuses a caller with neither.
func TestNegotiateUserID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		target   string
		header   string
		status   int
		wantUser string
	}{
		{"header", "/api/negotiate", "alice", http.StatusOK, "alice"},
		{"query", "/api/negotiate?userId=bob&negotiateVersion=1", "", http.StatusOK, "bob"},
		{"header wins over query", "/api/negotiate?userId=mallory", "alice", http.StatusOK, "alice"},
		{"escaped query", "/api/negotiate?userId=d%C3%A9j%C3%A0+vu", "", http.StatusOK, "déjà vu"},
		{"blank header falls back to query", "/api/negotiate?userId=bob", "  ", http.StatusOK, "bob"},
		{"neither", "/api/negotiate", "", http.StatusUnauthorized, ""},
		{"empty query", "/api/negotiate?userId=", "", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			h := http.Header{}
			if tt.header != "" {
				h.Set("X-MS-CLIENT-PRINCIPAL-ID", tt.header)
			}
			rec := api.do("POST", tt.target, "", h)
			require.Equal(t, tt.status, rec.Code, "status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			if tt.status != http.StatusOK {
				msg := jsonError(t, rec)
				require.Contains(t, msg, "x-ms-client-principal-id", "error %q does not say how to give a user id", msg)
				require.Contains(t, msg, "userId", "error %q does not say how to give a user id", msg)
				return
			}
			var info signalr.ConnectionInfo
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
			require.Equal(t, "http://localhost:8888/client/?hub=chat", info.URL, "url %q", info.URL)
			got := tokenUser(t, info)
			require.Equal(t, tt.wantUser, got, "token for user %q, want %q", got, tt.wantUser)
		})
	}
	rec := newFakeAPI(t).do("GET", "/api/negotiate?userId=bob", "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code, "GET negotiate: %d, want 405 (the seed's trigger takes POST)", rec.Code)
}
