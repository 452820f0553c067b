package signalr_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/upstreamwire"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secondaryKey = "secondary-key"

func mustCS(t testing.TB, key string) *signalr.ConnectionString {
	t.Helper()
	cs, err := signalr.ParseConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=" + key + ";Version=1.0;")
	require.NoError(t, err)
	return cs
}

// newUpstream returns an Upstream keyed with the emulator key, and with
// extra keys as further connection strings.
func newUpstream(t testing.TB, extra ...string) *signalr.Upstream {
	t.Helper()
	opts := &signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: mustCS(t, emulator.DefaultAccessKey)}}
	for _, k := range extra {
		opts.ConnectionStrings = append(opts.ConnectionStrings, mustCS(t, k))
	}
	up, err := signalr.NewUpstream(opts)
	require.NoError(t, err)
	return up
}

func serve(up http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	up.ServeHTTP(rec, r)
	return rec
}

// errorBody returns the "error" of a JSON error response, failing if the
// body is not one.
func errorBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	assert.Contains(t, rec.Header().Get("Content-Type"), "application/json")
	var body struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "body %q", rec.Body.String())
	require.NotEmpty(t, body.Error)
	return body.Error
}

func TestUpstreamDispatchCaseInsensitive(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	var got []string
	record := func(name string) func(context.Context, *signalr.InvocationContext) (any, error) {
		return func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			got = append(got, name+":"+inv.Hub+"/"+inv.Category+"/"+inv.Event)
			return nil, nil
		}
	}
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "Chat", Category: "messages", Event: "Broadcast"}, record("broadcast")))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "Connections", Event: "connected"}, record("connected")))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "other", Category: "messages", Event: "broadcast"}, record("other")))

	assert.Equal(t, 200, serve(up, signalrtest.UpstreamRequests{Hub: "CHAT"}.Send("broadcast", "hi")).Code)
	assert.Equal(t, 200, serve(up, signalrtest.UpstreamRequests{Hub: "chat"}.Send("BROADCAST", "hi")).Code)
	assert.Equal(t, 200, serve(up, signalrtest.UpstreamRequests{Hub: "chat"}.Connected()).Code)
	assert.Equal(t, 200, serve(up, signalrtest.UpstreamRequests{Hub: "other"}.Send("broadcast")).Code)
	assert.Equal(t, []string{
		"broadcast:CHAT/messages/broadcast",
		"broadcast:chat/messages/BROADCAST",
		"connected:chat/connections/connected",
		"other:other/messages/broadcast",
	}, got)

	rec := serve(up, signalrtest.UpstreamRequests{Hub: "chat"}.Send("nope"))
	assert.Equal(t, 404, rec.Code)
	assert.Contains(t, errorBody(t, rec), `event "nope"`)
	assert.Len(t, got, 4, "no handler ran for the unknown event")

	err := up.HandleFunc(signalr.TriggerBinding{HubName: "CHAT", Category: "MESSAGES", Event: "broadcast"}, record("dup"))
	assert.ErrorIs(t, err, signalr.ErrInvalidBinding)
	assert.ErrorContains(t, err, "duplicated key")
}

func TestUpstreamHandleRejectsBadBindings(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	h := func(context.Context, *signalr.InvocationContext) (any, error) { return nil, nil }
	for _, tt := range []struct {
		b    signalr.TriggerBinding
		says string
	}{
		{signalr.TriggerBinding{Category: "messages", Event: "x"}, "needs a hubName"},
		{signalr.TriggerBinding{HubName: "9chat", Category: "messages", Event: "x"}, "hubName"},
		{signalr.TriggerBinding{HubName: "chat", Event: "x"}, "needs a category"},
		{signalr.TriggerBinding{HubName: "chat", Category: "calls", Event: "x"}, `category "calls" is not supported`},
		{signalr.TriggerBinding{HubName: "chat", Category: "connections", Event: "x"}, `event "x" is not supported in connections`},
		{signalr.TriggerBinding{HubName: "chat", Category: "messages"}, "needs an event"},
		{signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "x", ParameterNames: []string{"a", "A"}}, "repeated"},
		{signalr.TriggerBinding{HubName: "chat", Category: "connections", Event: "connected", ParameterNames: []string{"a"}}, "only to category messages"},
	} {
		err := up.HandleFunc(tt.b, h)
		assert.ErrorContains(t, err, tt.says)
	}
	assert.ErrorIs(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "x"}, nil), signalr.ErrInvalidBinding)

	// The connection string comes from the setting the binding names.
	up2, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{Settings: signalr.SettingsFunc(func(string) (string, bool) { return "", false })}})
	require.NoError(t, err)
	err = up2.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "x", ConnectionStringSetting: "MySignalR"}, h)
	assert.ErrorIs(t, err, signalr.ErrMissingSetting)
	assert.ErrorContains(t, err, "MySignalR")

	_, err = signalr.NewUpstream(&signalr.UpstreamOptions{ConnectionStrings: []*signalr.ConnectionString{nil}})
	assert.ErrorContains(t, err, "ConnectionStrings[0]")
	_, err = signalr.NewUpstream(&signalr.UpstreamOptions{MaxBodySize: -1})
	assert.ErrorContains(t, err, "MaxBodySize")
	assert.ErrorIs(t, err, signalr.ErrInvalidArgument)

	// With a shared Client, its connection string signs.
	client, err := signalr.NewClient(mustCS(t, "client-key"), nil)
	require.NoError(t, err)
	up3, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{Client: client, Settings: signalr.SettingsFunc(func(string) (string, bool) { return "", false })}})
	require.NoError(t, err)
	require.NoError(t, up3.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "x"}, h))
	assert.Equal(t, 200, serve(up3, signalrtest.UpstreamRequests{AccessKeys: []string{"client-key"}}.Send("x")).Code)
	assert.Equal(t, 401, serve(up3, signalrtest.UpstreamRequests{}.Send("x")).Code)
}

func TestUpstreamSignature(t *testing.T) {
	t.Parallel()
	// The reference vector: the emulator key over a connection id.
	const id = "IuNnVj3N7qRmQxEaOyNL3wAl4YXrEX1"
	const want = "sha256=62A9FBCA2CCC22661D349F62F51C60B1F8202B12F7F87F206B47FF66BA9959E0"
	require.Equal(t, want, signalrtest.Signature(id, emulator.DefaultAccessKey))
	require.Equal(t, want+",sha256=C82C4258C0935B7FABE737001B9A8FF297918376FF07640672B951FA543D3343",
		signalrtest.Signature(id, emulator.DefaultAccessKey, secondaryKey))

	up := newUpstream(t, secondaryKey)
	var runs atomic.Int32
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo"},
		func(context.Context, *signalr.InvocationContext) (any, error) { runs.Add(1); return nil, nil }))
	req := func(signature string) *http.Request {
		r := signalrtest.UpstreamRequests{ConnectionID: id, AccessKeys: []string{}}.Send("echo")
		if signature != "" {
			r.Header.Set(upstreamwire.HeaderSignature, signature)
		}
		return r
	}
	good := []string{
		want,
		strings.ToLower(want),
		"sha256=" + strings.ToLower(want[7:39]) + want[39:], // mixed case
		signalrtest.Signature(id, "old-key", emulator.DefaultAccessKey),
		signalrtest.Signature(id, "wrong", secondaryKey), // the second key
		"sha256=00, " + want,      // ", " separator, as .NET HttpClient writes it
		" " + want + " ,sha256=x", // spaces around entries
		"SHA256=" + want[7:],
	}
	for _, sig := range good {
		rec := serve(up, req(sig))
		assert.Equal(t, 200, rec.Code, "signature %q: %s", sig, rec.Body)
	}
	assert.Equal(t, int32(len(good)), runs.Load())

	bad := map[string]string{
		"missing":     "",
		"wrong key":   signalrtest.Signature(id, "wrong-key"),
		"other id":    signalrtest.Signature("other", emulator.DefaultAccessKey),
		"no prefix":   want[7:],
		"md5 prefix":  "md5=" + want[7:],
		"short":       want[:40],
		"not hex":     "sha256=" + strings.Repeat("zz", 32),
		"empty parts": ",,",
	}
	for name, sig := range bad {
		rec := serve(up, req(sig))
		assert.Equal(t, 401, rec.Code, name)
		msg := errorBody(t, rec)
		assert.Contains(t, msg, upstreamwire.HeaderSignature, name)
		assert.NotContains(t, msg, emulator.DefaultAccessKey)
		assert.NotContains(t, strings.ToUpper(msg), want[7:], "the expected value is not disclosed")
	}
	assert.Equal(t, int32(len(good)), runs.Load(), "no handler ran for a bad signature")

	// A signature over an empty connection id is refused too.
	r := signalrtest.UpstreamRequests{}.Send("echo")
	r.Header.Set(upstreamwire.HeaderConnectionID, "")
	r.Header.Set(upstreamwire.HeaderSignature, signalrtest.Signature("", emulator.DefaultAccessKey))
	rec := serve(up, r)
	assert.Equal(t, 401, rec.Code)
	assert.Contains(t, errorBody(t, rec), upstreamwire.HeaderConnectionID)
}

func TestUpstreamStatuses(t *testing.T) {
	up := newUpstream(t)
	var runs atomic.Int32
	ok := func(context.Context, *signalr.InvocationContext) (any, error) { runs.Add(1); return nil, nil }
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo"}, ok))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "connections", Event: "connected"},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			if inv.UserID == "" {
				return nil, errors.New("sign in first")
			}
			return nil, nil
		}))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "connections", Event: "disconnected"},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			if inv.Error == "fail" {
				return nil, errors.New("cleanup failed")
			}
			return nil, nil
		}))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "fails"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return nil, errors.New("boom") }))

	u := signalrtest.UpstreamRequests{}
	with := func(r *http.Request, f func(*http.Request)) *http.Request { f(r); return r }
	tests := []struct {
		name   string
		req    *http.Request
		status int
		says   string
	}{
		{"GET", with(u.Send("echo"), func(r *http.Request) { r.Method = http.MethodGet }), 405, "POST"},
		{"text/plain", with(u.Send("echo"), func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), 415, `"text/plain"`},
		{"no content type", with(u.Send("echo"), func(r *http.Request) { r.Header.Del("Content-Type") }), 415, "application/json"},
		{"no hub", with(u.Send("echo"), func(r *http.Request) { r.Header.Del(upstreamwire.HeaderHub) }), 400, upstreamwire.HeaderHub},
		{"empty category", with(u.Send("echo"), func(r *http.Request) { r.Header.Set(upstreamwire.HeaderCategory, "") }), 400, upstreamwire.HeaderCategory},
		{"empty event", with(u.Send("echo"), func(r *http.Request) { r.Header.Set(upstreamwire.HeaderEvent, "") }), 400, upstreamwire.HeaderEvent},
		{"unknown hub", signalrtest.UpstreamRequests{Hub: "game"}.Send("echo"), 404, `hub "game"`},
		{"unknown event", u.Send("missing"), 404, `"missing"`},
		{"bad signature", with(u.Send("echo"), func(r *http.Request) { r.Header.Set(upstreamwire.HeaderSignature, "sha256=00") }), 401, upstreamwire.HeaderSignature},
		{"connected rejected", u.Connected(), 403, "sign in first"},
		{"disconnected fails", u.Disconnected("fail"), 500, "cleanup failed"},
		{"send fails", u.Send("fails"), 500, "boom"},
		{"target mismatch", with(u.Send("echo"), func(r *http.Request) { r.Header.Set(upstreamwire.HeaderEvent, "fails") }), 500, `target "echo" does not match`},
		{"not JSON", with(u.Send("echo"), func(r *http.Request) { r.Body = http.NoBody; r.ContentLength = 0 }), 500, "not a JSON object"},
		{"connected body on messages", func() *http.Request {
			r := u.Connected()
			r.Header.Set(upstreamwire.HeaderCategory, "messages")
			r.Header.Set(upstreamwire.HeaderEvent, "echo")
			return r
		}(), 500, "message type 10"},
		{"bad msgpack", with(u.Send("echo"), func(r *http.Request) { r.Header.Set("Content-Type", "application/x-msgpack") }), 500, "MessagePack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runs.Load()
			rec := serve(up, tt.req)
			assert.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Contains(t, errorBody(t, rec), tt.says)
			assert.Equal(t, before, runs.Load(), "the echo handler did not run")
		})
	}

	// Success statuses: 200 with an empty body for events and sends.
	for _, r := range []*http.Request{
		signalrtest.UpstreamRequests{UserID: "ada"}.Connected(),
		u.Disconnected(""),
		u.Send("echo", 1),
		with(u.Send("echo"), func(r *http.Request) { r.Header.Set("Content-Type", "Application/JSON; charset=utf-8") }),
	} {
		rec := serve(up, r)
		assert.Equal(t, 200, rec.Code, rec.Body.String())
		assert.Empty(t, rec.Body.Bytes())
	}

	// A body over the limit is 413.
	small, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: mustCS(t, emulator.DefaultAccessKey)}, MaxBodySize: 64})
	require.NoError(t, err)
	require.NoError(t, small.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo"}, ok))
	rec := serve(small, u.Send("echo", strings.Repeat("x", 100)))
	assert.Equal(t, 413, rec.Code)
	assert.Contains(t, errorBody(t, rec), "64 bytes")

	// The zero Upstream is usable, and a nil one answers without panicking.
	var zero signalr.Upstream
	rec = serve(&zero, u.Send("echo"))
	assert.Equal(t, 404, rec.Code)
	t.Setenv("UpstreamTestConnectionString", "Endpoint=http://localhost;Port=8888;AccessKey="+emulator.DefaultAccessKey+";Version=1.0;")
	require.NoError(t, zero.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo", ConnectionStringSetting: "UpstreamTestConnectionString"}, ok), "the zero value reads the environment")
	assert.Equal(t, 200, serve(&zero, u.Send("echo")).Code)
	var nilUp *signalr.Upstream
	rec = serve(nilUp, u.Send("echo"))
	assert.Equal(t, 500, rec.Code)
	assert.Contains(t, errorBody(t, rec), "NewUpstream")
}

func TestUpstreamInvocationContext(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	var got *signalr.InvocationContext
	capture := func(_ context.Context, inv *signalr.InvocationContext) (any, error) { got = inv; return nil, nil }
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "connections", Event: "disconnected"}, capture))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "say"}, capture))

	u := signalrtest.UpstreamRequests{
		ConnectionID: "c-42",
		UserID:       "ada",
		Claims:       map[string]string{"asrs.s.uid": "ada", "name": "Ada"},
		Query:        "?hub=chat&id=tok&tag=a&tag=b",
	}
	require.Equal(t, 200, serve(up, u.Disconnected("Connection closed with an error.")).Code)
	require.NotNil(t, got)
	assert.Equal(t, "Connection closed with an error.", got.Error)
	assert.Equal(t, "connections", got.Category)
	assert.Equal(t, "disconnected", got.Event)
	assert.Equal(t, "chat", got.Hub)
	assert.Equal(t, "c-42", got.ConnectionID)
	assert.Equal(t, "ada", got.UserID)
	assert.Equal(t, map[string]string{"asrs.s.uid": "ada", "name": "Ada"}, got.Claims)
	assert.Equal(t, "chat", got.Query.Get("hub"))
	assert.Equal(t, []string{"a", "b"}, got.Query["tag"])
	assert.Equal(t, "c-42", got.Headers.Get("x-asrs-connection-id"))
	assert.Empty(t, got.Arguments)

	got = nil
	r := u.Send("say", "hi")
	r.Header.Set(upstreamwire.HeaderUserClaims, "role: admin, role: user,  name: Bob, broken")
	require.Equal(t, 200, serve(up, r).Code)
	assert.Equal(t, map[string]string{"role": "admin", "name": "Bob"}, got.Claims, "first value wins, keys trimmed")
	assert.Empty(t, got.InvocationID)
	assert.Empty(t, got.Error)

	// The disconnected body's keys are read case-insensitively.
	got = nil
	r = u.Disconnected("")
	r.Body = http.NoBody
	r = httptest.NewRequest("POST", "/runtime/webhooks/signalr", strings.NewReader(`{"type":11,"error":"lower"}`))
	for k, v := range u.Disconnected("").Header {
		r.Header[k] = v
	}
	require.Equal(t, 200, serve(up, r).Code)
	assert.Equal(t, "lower", got.Error)
}

type point struct {
	X int    `json:"x"`
	Y int    `json:"y"`
	L string `json:"label,omitempty"`
}

func TestUpstreamArgumentsAndCompletion(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "move", ParameterNames: []string{"who", "to"}},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			var who string
			var to point
			if err := inv.DecodeArguments(&who, &to); err != nil {
				return nil, err
			}
			named, ok := inv.Argument("TO")
			if !ok {
				return nil, errors.New("no argument named to")
			}
			var again point
			if err := named.Decode(&again); err != nil {
				return nil, err
			}
			if again != to {
				return nil, errors.New("named and positional arguments differ")
			}
			return map[string]any{"who": who, "at": point{to.X + 1, to.Y + 1, "moved"}}, nil
		}))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo"},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			if len(inv.Arguments) != 1 {
				return nil, errors.New("echo takes one argument")
			}
			return inv.Arguments[0], nil
		}))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "void"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return nil, nil }))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "silent"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return nil, errors.New("") }))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "unencodable"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return func() {}, nil }))

	for _, mp := range []bool{false, true} {
		name := "json"
		if mp {
			name = "msgpack"
		}
		t.Run(name, func(t *testing.T) {
			u := signalrtest.UpstreamRequests{MessagePack: mp}
			wantType := "application/json"
			if mp {
				wantType = "application/x-msgpack"
			}
			call := func(r *http.Request) signalrtest.Completion {
				t.Helper()
				rec := serve(up, r)
				require.Equal(t, 200, rec.Code, rec.Body.String())
				assert.Equal(t, wantType, rec.Header().Get("Content-Type"))
				c, err := signalrtest.ReadCompletion(rec.Body.Bytes())
				require.NoError(t, err)
				return c
			}

			c := call(u.Invoke("7", "move", "ada", point{X: 1, Y: 2}))
			assert.Equal(t, "7", c.InvocationID)
			require.Empty(t, c.Error)
			require.True(t, c.HasResult)
			var res struct {
				Who string `json:"who"`
				At  point  `json:"at"`
			}
			require.NoError(t, c.Result.Decode(&res))
			assert.Equal(t, "ada", res.Who)
			assert.Equal(t, point{2, 3, "moved"}, res.At)

			// parameterNames: a count mismatch fails without running the handler.
			c = call(u.Invoke("8", "move", "ada"))
			assert.Equal(t, "move takes 2 argument(s) (who, to), the client sent 1", c.Error)
			assert.False(t, c.HasResult)

			// A decode failure is the handler's error.
			c = call(u.Invoke("9", "move", 5, "x"))
			assert.Contains(t, c.Error, "move argument 0")

			// Echo relays the argument unchanged, in either protocol.
			c = call(u.Invoke("10", "echo", map[string]any{"n": 1.5, "s": []any{"a", true, nil}}))
			var echoed map[string]any
			require.NoError(t, c.Result.Decode(&echoed))
			assert.Equal(t, map[string]any{"n": 1.5, "s": []any{"a", true, nil}}, echoed)

			c = call(u.Invoke("11", "void"))
			assert.Equal(t, signalrtest.Completion{InvocationID: "11", Result: c.Result}, c)
			assert.False(t, c.HasResult)

			c = call(u.Invoke("12", "silent"))
			assert.Equal(t, "Method execution failed.", c.Error)

			c = call(u.Invoke("13", "unencodable"))
			assert.Contains(t, c.Error, "could not be encoded")

			// A send gets an empty 200 and no Completion.
			rec := serve(up, u.Send("echo", 1))
			assert.Equal(t, 200, rec.Code)
			assert.Empty(t, rec.Body.Bytes())
		})
	}
}

func TestUpstreamCompletionBytes(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "hi"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return "ok", nil }))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "no"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return nil, errors.New("x") }))
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "void"},
		func(context.Context, *signalr.InvocationContext) (any, error) { return nil, nil }))

	// The reference vector for invoke("hi") with id "1" from a MessagePack client.
	vector, err := hex.DecodeString("950180a131a2686990")
	require.NoError(t, err)
	id := "1"
	require.Equal(t, vector, signalrtest.MessagePackInvocation(&id, "hi"))

	call := func(contentType string, body []byte, event string) []byte {
		r := signalrtest.UpstreamRequests{}.Send(event)
		r.Header.Set("Content-Type", contentType)
		r.Body = http.NoBody
		r2 := httptest.NewRequest("POST", r.URL.Path, strings.NewReader(string(body)))
		r2.Header = r.Header
		rec := serve(up, r2)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		return rec.Body.Bytes()
	}
	// [3, {}, "1", 3, "ok"] with its VarInt length prefix.
	assert.Equal(t, "09"+"95"+"03"+"80"+"a131"+"03"+"a26f6b", hex.EncodeToString(call("application/x-msgpack", vector, "hi")))
	noVector, _ := hex.DecodeString("950180a131a26e6f90")
	// [3, {}, "1", 1, "x"]
	assert.Equal(t, "08"+"95"+"03"+"80"+"a131"+"01"+"a178", hex.EncodeToString(call("application/x-msgpack", noVector, "no")))
	voidVector := signalrtest.MessagePackInvocation(&id, "void")
	// [3, {}, "1", 2]
	assert.Equal(t, "06"+"94"+"03"+"80"+"a131"+"02", hex.EncodeToString(call("application/x-msgpack", voidVector, "void")))

	assert.Equal(t, "{\"type\":3,\"invocationId\":\"1\",\"result\":\"ok\"}\x1e",
		string(call("application/json", []byte(`{"type":1,"invocationId":"1","target":"hi","arguments":[],"headers":{"a":"b"},"streamIds":[]}`), "hi")))
	assert.Equal(t, "{\"type\":3,\"invocationId\":\"1\",\"error\":\"x\"}\x1e",
		string(call("application/json", []byte(`{"type":1,"invocationId":"1","target":"no","arguments":[]}`), "no")))
	assert.Equal(t, "{\"type\":3,\"invocationId\":\"1\"}\x1e",
		string(call("application/json", []byte(`{"type":1,"invocationId":"1","target":"void"}`), "void")))
	// A null invocationId is a send.
	assert.Empty(t, call("application/json", []byte(`{"type":1,"invocationId":null,"target":"hi","arguments":[]}`), "hi"))
	// A MessagePack send: nil invocation id, and streamIds after the arguments.
	sendVector, _ := hex.DecodeString("960180c0a2686991" + "01" + "90")
	assert.Empty(t, call("application/x-msgpack", sendVector, "hi"))
}

func TestArgumentConversions(t *testing.T) {
	t.Parallel()
	j := signalr.JSONArgument([]byte(`{"x":1,"y":2}`))
	b, err := j.MarshalMsgpack()
	require.NoError(t, err)
	// {"x": 1, "y": 2}: keys in their order, integers in their smallest form.
	assert.Equal(t, "82"+"a178"+"01"+"a179"+"02", hex.EncodeToString(b))
	m := signalr.MessagePackArgument(b)
	assert.True(t, m.IsMessagePack())
	var p point
	require.NoError(t, m.Decode(&p))
	assert.Equal(t, point{X: 1, Y: 2}, p)
	back, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"x":1,"y":2}`, string(back))
	assert.Error(t, signalr.Argument{}.Decode(&p))
	raw, err := json.Marshal(signalr.Argument{})
	require.NoError(t, err)
	assert.Equal(t, "null", string(raw))

	inv := &signalr.InvocationContext{Event: "f", Arguments: []signalr.Argument{j}}
	var a, c int
	assert.ErrorContains(t, inv.DecodeArguments(&a, &c), "f takes 2 argument(s), the client sent 1")
	_, ok := inv.Argument("x")
	assert.False(t, ok, "no parameterNames, no named arguments")
}
