package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type person struct {
	Name string   `json:"name"`
	Age  int      `json:"age"`
	Tags []string `json:"tags,omitempty"`
}

// typesHub has a method per supported parameter and result type.
type typesHub struct {
	mu     sync.Mutex
	events []string
}

func (h *typesHub) record(ctx context.Context, what string) {
	call := signalr.HubCallFromContext(ctx)
	h.mu.Lock()
	h.events = append(h.events, what+" "+call.ConnectionID)
	h.mu.Unlock()
}

func (h *typesHub) OnConnected(ctx context.Context) error {
	h.record(ctx, "connected")
	if signalr.HubCallFromContext(ctx).UserID == "banned" {
		return errors.New("banned users may not connect")
	}
	return nil
}

func (h *typesHub) OnDisconnected(ctx context.Context) error {
	h.record(ctx, "disconnected("+signalr.HubCallFromContext(ctx).Error+")")
	return nil
}

func (*typesHub) Add(_ context.Context, a int, b float64) (float64, error) {
	return float64(a) + b, nil
}
func (*typesHub) Int64(_ context.Context, a int64, b uint8, c int32) (int64, error) {
	return a + int64(b) + int64(c), nil
}
func (*typesHub) Concat(_ context.Context, a, b string) (string, error) { return a + b, nil }
func (*typesHub) Not(_ context.Context, b bool) (bool, error)           { return !b, nil }
func (*typesHub) Older(_ context.Context, p person) (person, error) {
	p.Age++
	return p, nil
}
func (*typesHub) OlderPtr(_ context.Context, p *person) (*person, error) {
	if p == nil {
		return nil, nil
	}
	p.Age++
	return p, nil
}
func (*typesHub) Sum(_ context.Context, xs []int) (int, error) {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n, nil
}
func (*typesHub) Keys(_ context.Context, m map[string]int) ([]string, error) {
	var ks []string
	for k, v := range m {
		ks = append(ks, fmt.Sprintf("%s=%d", k, v))
	}
	sortStrings(ks)
	return ks, nil
}
func (*typesHub) Raw(_ context.Context, r json.RawMessage) (string, error) { return string(r), nil }
func (*typesHub) Echo(_ context.Context, a signalr.Argument) (signalr.Argument, error) {
	return a, nil
}
func (*typesHub) Anything(_ context.Context, v any) (any, error) { return v, nil }
func (*typesHub) Greet(_ context.Context, name string, greeting *string, times *int) (string, error) {
	g := "hello"
	if greeting != nil {
		g = *greeting
	}
	n := 1
	if times != nil {
		n = *times
	}
	return strings.Repeat(g+" "+name+"!", n), nil
}
func (*typesHub) Counts(_ context.Context, words []string) (map[string]int, error) {
	m := map[string]int{}
	for _, w := range words {
		m[w]++
	}
	return m, nil
}
func (*typesHub) Small(_ context.Context, f float32, u uint, i8 int8) (float32, error) {
	return f + float32(u) + float32(i8), nil
}
func (*typesHub) RawResult(_ context.Context, s string) (json.RawMessage, error) {
	return json.RawMessage(`{"raw":` + strconv.Quote(s) + `}`), nil
}
func (*typesHub) Bytes(_ context.Context, b []byte) (int, error) { return len(b), nil }
func (*typesHub) Void(context.Context) error                     { return nil }
func (*typesHub) Fail(context.Context) error                     { return errors.New("this method always fails") }
func (*typesHub) Panic(context.Context) error {
	panic(fmt.Sprintf("internal detail %d", 42))
}
func (*typesHub) Nothing(context.Context) (*person, error) { return nil, nil }
func (*typesHub) Matrix(_ context.Context, m [][]float64) (int, error) {
	return len(m), nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func newTypesHub(t *testing.T, opts *signalr.HubOptions) (*typesHub, *signalr.Upstream) {
	t.Helper()
	th := &typesHub{}
	if opts == nil {
		opts = &signalr.HubOptions{}
	}
	if opts.Name == "" {
		opts.Name = "chat"
	}
	h, err := signalr.NewHub(th, opts)
	require.NoError(t, err)
	up := newUpstream(t)
	require.NoError(t, up.HandleHub(h))
	return th, up
}

// complete serves r and returns its Completion.
func complete(t *testing.T, up http.Handler, r *http.Request) signalrtest.Completion {
	t.Helper()
	rec := serve(up, r)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	c, err := signalrtest.ReadCompletion(rec.Body.Bytes())
	require.NoError(t, err)
	return c
}

func resultJSON(t *testing.T, c signalrtest.Completion) string {
	t.Helper()
	require.Empty(t, c.Error)
	if !c.HasResult {
		return "<none>"
	}
	var v any
	require.NoError(t, c.Result.Decode(&v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestHubParameterAndResultTypes(t *testing.T) {
	_, up := newTypesHub(t, nil)
	hi := "hi"
	cases := []struct {
		method string
		args   []any
		want   string
	}{
		{"add", []any{2, 0.5}, `2.5`},
		{"Add", []any{-3, 1e3}, `997`},
		{"int64", []any{int64(1) << 40, 255, -7}, `1099511628024`},
		{"concat", []any{"héllo, ", "✓"}, `"héllo, ✓"`},
		{"not", []any{false}, `true`},
		{"older", []any{person{Name: "ada", Age: 36, Tags: []string{"x"}}}, `{"age":37,"name":"ada","tags":["x"]}`},
		{"olderPtr", []any{person{Name: "bob", Age: 1}}, `{"age":2,"name":"bob"}`},
		{"olderPtr", []any{nil}, `<none>`},
		{"sum", []any{[]int{1, 2, 3, 4}}, `10`},
		{"sum", []any{[]int{}}, `0`},
		{"keys", []any{map[string]int{"b": 2, "a": 1}}, `["a=1","b=2"]`},
		{"raw", []any{map[string]any{"k": []any{1, "two"}}}, `"{\"k\":[1,\"two\"]}"`},
		{"echo", []any{map[string]any{"n": 1.5, "s": []any{"a", true, nil}}}, `{"n":1.5,"s":["a",true,null]}`},
		{"anything", []any{[]any{"x", 2.5, true}}, `["x",2.5,true]`},
		{"greet", []any{"ada"}, `"hello ada!"`},
		{"greet", []any{"ada", hi}, `"hi ada!"`},
		{"greet", []any{"ada", nil, 2}, `"hello ada!hello ada!"`},
		{"void", nil, `<none>`},
		{"nothing", nil, `<none>`},
		{"matrix", []any{[][]float64{{1, 2}, {3}}}, `2`},
		{"counts", []any{[]string{"a", "b", "a"}}, `{"a":2,"b":1}`},
		{"small", []any{0.5, 2, -1}, `1.5`},
		{"rawResult", []any{"x"}, `{"raw":"x"}`},
		{"bytes", []any{[]byte("abc")}, `3`},
		{"add", []any{2.0, 3}, `5`},
		{"small", []any{1, 2.0, 3.0}, `6`},
	}
	for _, mp := range []bool{false, true} {
		u := signalrtest.UpstreamRequests{MessagePack: mp}
		for i, tc := range cases {
			t.Run(fmt.Sprintf("msgpack=%v/%s/%d", mp, tc.method, i), func(t *testing.T) {
				c := complete(t, up, u.Invoke("7", tc.method, tc.args...))
				assert.Equal(t, "7", c.InvocationID)
				got := resultJSON(t, c)
				if tc.method == "raw" && mp {
					// A MessagePack argument is converted to JSON.
					assert.JSONEq(t, `{"k":[1,"two"]}`, strings.Trim(strings.ReplaceAll(got, `\"`, `"`), `"`))
					return
				}
				assert.Equal(t, tc.want, got)
			})
		}
	}
}

func TestHubArgumentErrors(t *testing.T) {
	_, up := newTypesHub(t, nil)
	cases := []struct {
		method string
		args   []any
		want   string
	}{
		{"add", []any{1}, "add: invalid arguments: it takes 2 argument(s) (an integer, a number), the client sent 1"},
		{"add", []any{1, 2, 3}, "add: invalid arguments: it takes 2 argument(s) (an integer, a number), the client sent 3"},
		{"greet", nil, "greet: invalid arguments: it takes 1 to 3 arguments (a string, a string or null, an integer or null), the client sent 0"},
		{"void", []any{1}, "void: invalid arguments: it takes no arguments, the client sent 1"},
		{"concat", []any{7, "x"}, "concat: invalid arguments: argument 1 must be a string: "},
		{"add", []any{1.5, 2}, "add: invalid arguments: argument 1 must be an integer: "},
		{"older", []any{"ada"}, "older: invalid arguments: argument 1 must be an object (person): "},
		{"sum", []any{map[string]any{}}, "sum: invalid arguments: argument 1 must be an array: "},
		{"not", []any{"yes"}, "not: invalid arguments: argument 1 must be a boolean: "},
		{"small", []any{1, 2, 300}, "small: invalid arguments: argument 3 must be an integer: "},
		{"small", []any{1, -2, 3}, "small: invalid arguments: argument 2 must be a non-negative integer: "},
	}
	for _, mp := range []bool{false, true} {
		u := signalrtest.UpstreamRequests{MessagePack: mp}
		for _, tc := range cases {
			c := complete(t, up, u.Invoke("1", tc.method, tc.args...))
			assert.False(t, c.HasResult)
			assert.True(t, strings.HasPrefix(c.Error, tc.want), "msgpack=%v %s%v: %q", mp, tc.method, tc.args, c.Error)
		}
	}
	// A JSON client gets the kind it sent.
	c := complete(t, up, signalrtest.UpstreamRequests{}.Invoke("1", "concat", 7, "x"))
	assert.Equal(t, "concat: invalid arguments: argument 1 must be a string: the client sent a number", c.Error)
	c = complete(t, up, signalrtest.UpstreamRequests{}.Invoke("1", "older", map[string]any{"name": "ada", "age": "old"}))
	assert.Equal(t, "older: invalid arguments: argument 1 must be an object (person): the client sent a string for field age", c.Error)
}

func TestHubErrorsAndPanics(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	_, up := newTypesHub(t, &signalr.HubOptions{Logger: logger})
	for _, mp := range []bool{false, true} {
		u := signalrtest.UpstreamRequests{MessagePack: mp}
		c := complete(t, up, u.Invoke("1", "fail"))
		assert.Equal(t, "this method always fails", c.Error)
		c = complete(t, up, u.Invoke("2", "panic"))
		assert.Equal(t, "panic failed: the hub method panicked", c.Error)
		assert.NotContains(t, c.Error, "internal detail")
	}
	assert.Contains(t, logs.String(), "internal detail 42")
	assert.Contains(t, logs.String(), "hub_test.go") // the stack
	// A send that fails is a 500 the service logs.
	rec := serve(up, signalrtest.UpstreamRequests{}.Send("fail"))
	assert.Equal(t, 500, rec.Code)
	rec = serve(up, signalrtest.UpstreamRequests{}.Send("panic"))
	assert.Equal(t, 500, rec.Code)
}

func TestHubConnectionEvents(t *testing.T) {
	th, up := newTypesHub(t, nil)
	rec := serve(up, signalrtest.UpstreamRequests{ConnectionID: "c1"}.Connected())
	assert.Equal(t, 200, rec.Code)
	rec = serve(up, signalrtest.UpstreamRequests{ConnectionID: "c2", UserID: "banned"}.Connected())
	assert.Equal(t, 403, rec.Code)
	assert.Contains(t, errorBody(t, rec), "banned users may not connect")
	rec = serve(up, signalrtest.UpstreamRequests{ConnectionID: "c1"}.Disconnected("gone"))
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, []string{"connected c1", "connected c2", "disconnected(gone) c1"}, th.events)
	// Connection events are not hub methods.
	rec = serve(up, signalrtest.UpstreamRequests{}.Invoke("1", "onConnected"))
	assert.Equal(t, 404, rec.Code)
}
