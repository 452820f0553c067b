package customhandler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/funcsignalr/signalr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testServer is a Server for testdata/app with a handler per function, the
// way an app registers them, logging into logs.
func testServer(t *testing.T, logs *bytes.Buffer) *Server {
	t.Helper()
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	s, err := New(os.DirFS("testdata/app"), &Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	assert.Equal(t, []string{"echo", "group-add", "join-group", "messages", "negotiate"}, s.Functions())

	in, err := s.ConnectionInfo("negotiate", "connectionInfo")
	require.NoError(t, err)
	require.NoError(t, s.HandleHTTP("negotiate", signalr.NegotiateHandler(in)))

	msgs, err := s.Output("messages", "signalRMessages", nil)
	require.NoError(t, err)
	require.NoError(t, s.HandleHTTP("messages", signalr.WithOutputFunc(msgs, func(w http.ResponseWriter, r *http.Request, c *signalr.Collector) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, m := range []signalr.Message{{}, {UserID: "bob"}, {GroupName: "g1"}} {
			m.Target, m.Arguments = "newMessage", []any{json.RawMessage(body)}
			if err := c.AddMessage(m); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(http.StatusAccepted)
	})))

	groups, err := s.Output("group-add", "signalRGroupActions", nil)
	require.NoError(t, err)
	require.NoError(t, s.HandleHTTP("group-add", signalr.WithOutputFunc(groups, func(w http.ResponseWriter, r *http.Request, c *signalr.Collector) {
		err := errors.Join(
			c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: r.PathValue("userId"), GroupName: r.PathValue("group")}),
			c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionRemove, ConnectionID: "c9", GroupName: "g2"}))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))

	require.NoError(t, s.HandleTrigger("echo", signalr.TriggerHandlerFunc(func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
		x, ok := inv.Argument("x")
		if !ok {
			return nil, errors.New("no x")
		}
		return x, nil
	})))

	joins, err := s.Output("join-group", "signalRGroupActions", nil)
	require.NoError(t, err)
	require.NoError(t, s.HandleTrigger("join-group", signalr.TriggerHandlerFunc(func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		var group string
		a, _ := inv.Argument("group")
		if err := a.Decode(&group); err != nil {
			return nil, err
		}
		c := joins.NewCollector()
		if err := c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: inv.ConnectionID, GroupName: group}); err != nil {
			return nil, err
		}
		return nil, c.Flush(ctx)
	})))
	return s
}

// post sends body to the server at /function over a real listener and
// returns the status and the answer.
func post(t *testing.T, url, function string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/"+function, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

func serve(t *testing.T, s *Server) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// The golden payloads under testdata/golden were written by hand from the
// reference and the host's source (see the package doc): each request is
// what the host POSTs for one function, and the response what it must read
// back.
func TestGoldenPayloads(t *testing.T) {
	url := serve(t, testServer(t, nil))
	requests, err := filepath.Glob("testdata/golden/*.request.json")
	require.NoError(t, err)
	require.Len(t, requests, 8)
	for _, req := range requests {
		name := strings.TrimSuffix(filepath.Base(req), ".request.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(req)
			require.NoError(t, err)
			want, err := os.ReadFile(strings.TrimSuffix(req, ".request.json") + ".response.json")
			require.NoError(t, err)
			function, _, _ := strings.Cut(name, ".")
			status, got := post(t, url, function, body)
			require.Equal(t, http.StatusOK, status, "%s", got)
			assert.JSONEq(t, string(want), string(got))
		})
	}
}

// A trigger handler's request, as the handler sees it: what the chat's
// handlers read in plain mode.
func TestHTTPTriggerRequest(t *testing.T) {
	s, err := New(os.DirFS("testdata/app"), &Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	var got *http.Request
	var body []byte
	require.NoError(t, s.HandleHTTP("group-add", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Add("X-A", "1")
		w.Header().Add("X-A", "2")
		_, _ = io.WriteString(w, "done")
	})))
	url := serve(t, s)
	status, answer := post(t, url, "group-add", []byte(`{"Data":{"req":{
		"Url":"https://app.example/api/groups/g%201/users/al?x=1&x=2","Method":"PUT",
		"Query":{"x":"1,2"},"Headers":{"Content-Type":["text/plain"],"X-Two":["a","b"],"Host":["app.example"]},
		"Params":{"group":"g 1","userId":"al","n":7},"Body":"hello"}}}`))
	require.Equal(t, http.StatusOK, status, "%s", answer)
	require.NotNil(t, got)
	assert.Equal(t, "PUT", got.Method)
	assert.Equal(t, "/api/groups/g 1/users/al", got.URL.Path)
	assert.Equal(t, []string{"1", "2"}, got.URL.Query()["x"], "the query comes from the URL")
	assert.Equal(t, "app.example", got.Host)
	assert.Empty(t, got.Header.Get("Host"), "net/http moves Host out of the headers")
	assert.Equal(t, "/api/groups/g%201/users/al?x=1&x=2", got.RequestURI)
	assert.Equal(t, []string{"a", "b"}, got.Header.Values("X-Two"))
	assert.Equal(t, "g 1", got.PathValue("group"))
	assert.Equal(t, "al", got.PathValue("userId"))
	assert.Equal(t, "7", got.PathValue("n"))
	assert.Equal(t, "hello", string(body))
	assert.JSONEq(t, `{"Outputs":{"res":{"statusCode":200,"headers":{"X-A":"1, 2"},"body":"done"}}}`, string(answer))

	// A body the http output cannot carry fails the invocation rather than
	// reaching the client changed.
	binary, err := New(os.DirFS("testdata/app"), &Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, binary.HandleHTTP("negotiate", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte{0xff, 0xfe})
	})))
	status, answer = post(t, serve(t, binary), "negotiate", []byte(`{"Data":{"req":{"Url":"http://h/api/negotiate","Method":"POST"},"connectionInfo":null}}`))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(answer), `binding \"res\": the response body is not UTF-8 text`)

	cookies, err := New(os.DirFS("testdata/app"), &Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, cookies.HandleHTTP("negotiate", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
		w.Header().Add("Set-Cookie", "b=2")
	})))
	status, answer = post(t, serve(t, cookies), "negotiate", []byte(`{"Data":{"req":{"Url":"http://h/api/negotiate","Method":"POST"},"connectionInfo":null}}`))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(answer), "sets 2 cookies")

	// An octet-stream body comes as base64.
	status, answer = post(t, url, "group-add", []byte(`{"Data":{"req":{"Url":"http://h/api/groups/g/users/u","Method":"PUT",
		"Headers":{"Content-Type":["application/octet-stream"]},"Body":"AAEC/w=="}}}`))
	require.Equal(t, http.StatusOK, status, "%s", answer)
	assert.Equal(t, []byte{0, 1, 2, 255}, body)
}

// The connection info may be null: the host's token validator refused the
// request. Resolve says so and the negotiate handler answers an error.
func TestConnectionInfoNull(t *testing.T) {
	for _, v := range []string{`null`, `"null"`} {
		status, answer := post(t, serve(t, testServer(t, nil)), "negotiate", []byte(`{"Data":{"req":{"Url":"http://h/api/negotiate","Method":"POST"},"connectionInfo":`+v+`}}`))
		require.Equal(t, http.StatusOK, status, "%s", answer)
		var resp struct {
			Outputs struct {
				Res httpOutput `json:"res"`
			}
		}
		require.NoError(t, json.Unmarshal(answer, &resp))
		assert.Equal(t, http.StatusInternalServerError, resp.Outputs.Res.StatusCode)
		assert.Contains(t, resp.Outputs.Res.Body, "resolved no connection info")
	}
}

// Bad payloads answer 500 with a message that names the function and the
// binding, in the body's Logs and in the process's log.
func TestBadPayloads(t *testing.T) {
	var logs bytes.Buffer
	url := serve(t, testServer(t, &logs))
	cases := []struct {
		name, function, body string
		want                 []string
	}{
		{"not JSON", "messages", `hello`, []string{`function "messages"`, "not a JSON object"}},
		{"no Data", "messages", `{"Metadata":{}}`, []string{`function "messages"`, `no "Data"`}},
		{"Data not an object", "messages", `{"Data":[1]}`, []string{`function "messages"`, "invocation JSON"}},
		{"undeclared binding", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST"},"extra":{}}}`, []string{`function "messages", binding "extra"`, "does not declare", `"req"`}},
		{"binding twice", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST"},"REQ":{}}}`, []string{`function "messages", binding "`, "twice"}},
		{"missing trigger", "messages", `{"Data":{}}`, []string{`function "messages", binding "req"`, "no value"}},
		{"req a number", "messages", `{"Data":{"req":42}}`, []string{`binding "req"`, "JSON object", "a number"}},
		{"req without method", "messages", `{"Data":{"req":{"Url":"http://h/"}}}`, []string{`binding "req"`, `"Method" is missing`}},
		{"relative URL", "messages", `{"Data":{"req":{"Url":"/api/x","Method":"POST"}}}`, []string{`binding "req"`, "absolute"}},
		{"header an object", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST","Headers":{"A":{"b":1}}}}}`, []string{`binding "req"`, `"Headers" "A"`}},
		{"body a number", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST","Body":5}}}`, []string{`binding "req"`, `"Body" must be a string`}},
		{"bad base64", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":"%%"}}}`, []string{`binding "req"`, "base64"}},
		{"query an array", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST","Query":[1]}}}`, []string{`binding "req"`, `"Query"`}},
		{"params an object value", "messages", `{"Data":{"req":{"Url":"http://h/","Method":"POST","Params":{"p":{}}}}}`, []string{`"Params" "p"`}},
		{"connection info an array", "negotiate", `{"Data":{"req":{"Url":"http://h/","Method":"POST"},"connectionInfo":[1]}}`, []string{`function "negotiate", binding "connectionInfo"`, "url"}},
		{"connection info without url", "negotiate", `{"Data":{"req":{"Url":"http://h/","Method":"POST"},"connectionInfo":{"accessToken":"secret-token"}}}`, []string{`binding "connectionInfo"`, `"url" is missing`}},
		{"connection info wrong types", "negotiate", `{"Data":{"req":{"Url":"http://h/","Method":"POST"},"connectionInfo":{"url":1,"accessToken":"secret-token"}}}`, []string{`binding "connectionInfo"`, `"url" must not be a JSON number`}},
		{"invocation a string of junk", "echo", `{"Data":{"invocation":"nope"}}`, []string{`function "echo", binding "invocation"`, "a string"}},
		{"invocation arguments an object", "echo", `{"Data":{"invocation":{"Arguments":{},"ConnectionId":"c","Category":"messages","Event":"echo"}}}`, []string{`binding "invocation"`, `"Arguments" must not be a JSON object`}},
		{"invocation headers not strings", "echo", `{"Data":{"invocation":{"Arguments":[],"ConnectionId":"c","Category":"messages","Event":"echo","Headers":{"a":1}}}}`, []string{`binding "invocation"`, `"Headers" must not be a JSON number`}},
		{"invocation without connection", "echo", `{"Data":{"invocation":{"Arguments":[1],"Category":"messages","Event":"echo"}}}`, []string{`binding "invocation"`, "ConnectionId"}},
		{"too deep", "echo", `{"Data":{"invocation":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, []string{`function "echo"`, "deep"}},
		{"handler error", "echo", `{"Data":{"invocation":{"Arguments":[],"ConnectionId":"c","Category":"messages","Event":"echo"}}}`, []string{`function "echo" failed`, "no x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			status, answer := post(t, url, c.function, []byte(c.body))
			require.Equal(t, http.StatusInternalServerError, status, "%s", answer)
			var resp invocationResponse
			require.NoError(t, json.Unmarshal(answer, &resp), "%s", answer)
			require.Len(t, resp.Logs, 1)
			for _, w := range c.want {
				assert.Contains(t, resp.Logs[0], w)
			}
			assert.Contains(t, logs.String(), "custom handler invocation failed")
			assert.NotContains(t, resp.Logs[0], "secret-token")
			assert.NotContains(t, logs.String(), "secret-token")
		})
	}
}

// The size bound, unknown functions, methods, the host's readiness ping, a
// function without a handler and a panicking handler.
func TestServerEdges(t *testing.T) {
	s, err := New(os.DirFS("testdata/app"), &Options{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 100})
	require.NoError(t, err)
	require.NoError(t, s.HandleTrigger("echo", signalr.TriggerHandlerFunc(func(context.Context, *signalr.InvocationContext) (any, error) {
		panic("boom")
	})))
	url := serve(t, s)

	status, answer := post(t, url, "echo", bytes.Repeat([]byte(" "), 101))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(answer), "larger than 100 bytes")

	status, answer = post(t, url, "nope", []byte(`{"Data":{}}`))
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, string(answer), `no such function (have echo, group-add`)

	status, answer = post(t, url, "echo", []byte(`{"Data":{"invocation":{"ConnectionId":"c","Category":"messages","Event":"echo"}}}`))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(answer), "panicked: boom")

	status, answer = post(t, url, "messages", []byte(`{"Data":{"req":{"Url":"http://h/","Method":"POST"}}}`))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(answer), `function \"messages\" has no handler; register one with HandleHTTP`)

	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the host's readiness ping")
	resp, err = http.Get(url + "/echo")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// Registration errors name the function and what is wrong.
func TestRegistrationErrors(t *testing.T) {
	s, err := New(os.DirFS("testdata/app"), nil)
	require.NoError(t, err)
	h := http.NotFoundHandler()
	assert.ErrorContains(t, s.HandleHTTP("nope", h), `no function "nope" (have echo`)
	assert.ErrorContains(t, s.HandleHTTP("echo", h), "no httpTrigger")
	assert.ErrorContains(t, s.HandleTrigger("messages", signalr.TriggerHandlerFunc(nil)), "no signalRTrigger")
	require.NoError(t, s.HandleHTTP("messages", h))
	assert.ErrorContains(t, s.HandleHTTP("messages", h), "already has a handler")
	_, err = s.Output("messages", "other", nil)
	assert.ErrorContains(t, err, `no signalR output binding named "other"`)
	_, err = s.ConnectionInfo("messages", "connectionInfo")
	assert.ErrorContains(t, err, "no signalRConnectionInfo binding")
	_, err = New(os.DirFS("testdata/golden"), nil)
	assert.ErrorContains(t, err, "no <name>/function.json")
	_, err = New(nil, nil)
	assert.Error(t, err)
}

// Items the Functions extension cannot carry are refused, not dropped, and
// an Output works only in its own function's invocations.
func TestOutputRefusals(t *testing.T) {
	s := testServer(t, nil)
	out, err := s.Output("messages", "signalRMessages", nil)
	require.NoError(t, err)
	c := out.NewCollector()
	require.NoError(t, c.AddMessage(signalr.Message{Target: "t"}))
	err = c.Flush(context.Background())
	assert.ErrorIs(t, err, errNotInvocation)

	fnMessages := s.functions["messages"]
	inv := &invocation{fn: fnMessages, outputs: map[string][]json.RawMessage{}}
	ctx := context.WithValue(context.Background(), invocationKey{}, inv)
	c = out.NewCollector()
	require.NoError(t, c.AddMessage(signalr.Message{Target: "t", Excluded: []string{"c1"}}))
	assert.ErrorContains(t, c.Flush(ctx), "no excluded list")

	groups, err := s.Output("group-add", "signalRGroupActions", nil)
	require.NoError(t, err)
	c = groups.NewCollector()
	require.NoError(t, c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "u", GroupName: "g"}))
	assert.ErrorContains(t, c.Flush(ctx), `flushed by function "messages"`)

	inv2 := &invocation{fn: s.functions["group-add"], outputs: map[string][]json.RawMessage{}}
	ctx2 := context.WithValue(context.Background(), invocationKey{}, inv2)
	c = groups.NewCollector()
	require.NoError(t, c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionRemoveAll, ConnectionID: "c1"}))
	require.NoError(t, c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "u", GroupName: "g", TTL: 1e9}))
	err = c.Flush(ctx2)
	assert.ErrorContains(t, err, "ignores removeAll for a connectionId")
	assert.ErrorContains(t, err, "has no ttl")
	assert.Empty(t, inv2.takeOutputs())

	inv2.finish()
	c = groups.NewCollector()
	require.NoError(t, c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "u", GroupName: "g"}))
	assert.ErrorContains(t, c.Flush(ctx2), "already answered")
}

func TestPort(t *testing.T) {
	env := map[string]string{PortEnv: " 4321 "}
	p, ok := Port(func(k string) string { return env[k] })
	assert.True(t, ok)
	assert.Equal(t, "4321", p)
	_, ok = Port(func(string) string { return "" })
	assert.False(t, ok)
}

// A response the host cannot receive, because function.json declares no
// http output binding, is reported in the log.
func TestHTTPResponseWithoutOutputBindingIsReported(t *testing.T) {
	var logs bytes.Buffer
	fsys := fstest.MapFS{"hook/function.json": {Data: []byte(`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["post"]}]}`)}}
	s, err := New(fsys, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, s.HandleHTTP("hook", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})))
	status, answer := post(t, serve(t, s), "hook", []byte(`{"Data":{"req":{"Url":"http://h/api/hook","Method":"POST"}}}`))
	require.Equal(t, http.StatusOK, status, "%s", answer)
	assert.JSONEq(t, `{"Outputs":{}}`, string(answer))
	assert.Contains(t, logs.String(), "declares no http output binding")
	assert.Contains(t, logs.String(), "function=hook status=418")
}

// A hubName that names an app setting is resolved as the host resolves it,
// and one that names a missing setting is an error at Output.
func TestOutputHubFromSetting(t *testing.T) {
	fsys := fstest.MapFS{"send/function.json": {Data: []byte(`{"bindings":[
		{"type":"httpTrigger","direction":"in","name":"req"},
		{"type":"signalR","direction":"out","name":"a","hubName":"%HUB%"},
		{"type":"signalR","direction":"out","name":"b","hubName":"%NOPE%"},
		{"type":"signalR","direction":"out","name":"c","hubName":"x%HUB"}]}`)}}
	settings := signalr.SettingsFunc(func(name string) (string, bool) { return "chat", name == "HUB" })
	s, err := New(fsys, &Options{Settings: settings})
	require.NoError(t, err)
	out, err := s.Output("send", "a", nil)
	require.NoError(t, err)
	assert.Equal(t, "chat", out.Hub())
	_, err = s.Output("send", "b", nil)
	assert.ErrorContains(t, err, `function "send", binding "b": hubName: the app setting %NOPE% is not set`)
	_, err = s.Output("send", "c", nil)
	assert.ErrorContains(t, err, "no closing '%'")
}
