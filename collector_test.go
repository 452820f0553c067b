package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9, item 5: DeliveryErrors follows wrapping of both shapes, as
// errors.As does.
func TestDeliveryErrorsFollowsWrappedErrors(t *testing.T) {
	t.Parallel()
	out, err := NewOutput(&failingSender{}, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	require.NoError(t, col.AddMessage(Message{Target: "bad1", UserID: "a"}))
	require.NoError(t, col.AddMessage(Message{Target: "ok", UserID: "b"}))
	require.NoError(t, col.AddMessage(Message{Target: "bad2", UserID: "c"}))
	flushErr := col.Flush(context.Background())
	require.Len(t, DeliveryErrors(flushErr), 2)

	other := errors.New("another failure")
	for name, wrapped := range map[string]error{
		"Unwrap() error":            fmt.Errorf("handler: %w", flushErr),
		"twice":                     fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", flushErr)),
		"Unwrap() []error":          fmt.Errorf("%w; %w", other, flushErr),
		"errors.Join":               errors.Join(other, flushErr),
		"join inside a single wrap": fmt.Errorf("x: %w", errors.Join(other, fmt.Errorf("y: %w", flushErr))),
	} {
		t.Run(name, func(t *testing.T) {
			des := DeliveryErrors(wrapped)
			require.Len(t, des, 2)
			assert.Equal(t, []int{0, 2}, []int{des[0].Index, des[1].Index})
		})
	}
	single := &DeliveryError{Index: 7, Item: Message{Target: "t"}, Err: other}
	des := DeliveryErrors(fmt.Errorf("w: %w", single))
	require.Len(t, des, 1)
	assert.Same(t, single, des[0])
	assert.Empty(t, DeliveryErrors(nil))
	assert.Empty(t, DeliveryErrors(other))
}

// recordingSender records the JSON of what it is given when it is given
// it, as a user's own Sender (a wrapper, a queue) would.
type recordingSender struct {
	mu       sync.Mutex
	bodies   []string
	excluded [][]string
}

func (r *recordingSender) SendMessage(_ context.Context, _ string, m Message, _ *SendMessageOptions) error {
	body, err := json.Marshal(restPayload{m.Target, m.Arguments})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.excluded = append(r.excluded, append([]string(nil), m.Excluded...))
	r.mu.Unlock()
	return nil
}

func (r *recordingSender) ApplyGroupAction(context.Context, string, GroupAction, *ApplyGroupActionOptions) error {
	return nil
}

// Issue 9, item 8: what is added is what is sent, whatever the Sender.
// Changing the arguments (or the excluded list) after AddMessage changes
// nothing.
func TestCollectorSnapshotsAtAddForEverySender(t *testing.T) {
	t.Parallel()
	type payload struct{ Text string }
	add := func(t *testing.T, col *Collector) {
		args := []any{"before", map[string]any{"k": "before"}, &payload{Text: "before"}}
		excluded := []string{"c1"}
		require.NoError(t, col.AddMessage(Message{Target: "t", GroupName: "g", Arguments: args, Excluded: excluded}))
		args[0] = "after"
		args[1].(map[string]any)["k"] = "after"
		args[2].(*payload).Text = "after"
		excluded[0] = "c2"
		args = append(args[:0], "replaced")
		_ = args
	}
	const want = `{"target":"t","arguments":["before",{"k":"before"},{"Text":"before"}]}`

	t.Run("Client", func(t *testing.T) {
		rr := newRestRecorder(t, nil)
		client := mustClient(t, rr.cs, nil)
		defer client.CloseIdleConnections()
		out, err := NewOutput(client, "chat", nil)
		require.NoError(t, err)
		col := out.NewCollector()
		add(t, col)
		require.NoError(t, col.Flush(context.Background()))
		reqs := rr.requests()
		require.Len(t, reqs, 1)
		assert.JSONEq(t, want, reqs[0].Body)
		assert.Contains(t, reqs[0].Query, "excluded=c1")
		assert.NotContains(t, reqs[0].Query, "c2")
	})
	t.Run("own Sender", func(t *testing.T) {
		rs := &recordingSender{}
		out, err := NewOutput(rs, "chat", nil)
		require.NoError(t, err)
		col := out.NewCollector()
		add(t, col)
		require.NoError(t, col.Flush(context.Background()))
		require.Len(t, rs.bodies, 1)
		assert.JSONEq(t, want, rs.bodies[0])
		assert.Equal(t, []string{"c1"}, rs.excluded[0])
	})
	t.Run("AddJSON", func(t *testing.T) {
		rr := newRestRecorder(t, nil)
		client := mustClient(t, rr.cs, nil)
		defer client.CloseIdleConnections()
		out, err := NewOutput(client, "chat", nil)
		require.NoError(t, err)
		col := out.NewCollector()
		require.NoError(t, col.AddJSON([]byte(`{"target":"t","arguments":[1.50,{"b":1,"a":2}]}`)))
		require.NoError(t, col.Flush(context.Background()))
		reqs := rr.requests()
		require.Len(t, reqs, 1)
		assert.JSONEq(t, `{"target":"t","arguments":[1.50,{"b":1,"a":2}]}`, reqs[0].Body)
		assert.Contains(t, reqs[0].Body, "1.50", "numbers keep their digits")
	})
}

// The arguments snapshot splits one encoding of the whole array; each piece
// must be exactly what encoding that argument alone gives.
func FuzzSnapshotArguments(f *testing.F) {
	f.Add(`["a",1,{"k":[1,2,"]"]},null,"\"],[",true]`)
	f.Add(`[]`)
	f.Add(`[[],{},"",0.5,"<&>\u2028"]`)
	f.Fuzz(func(t *testing.T, data string) {
		var args []any
		if json.Unmarshal([]byte(data), &args) != nil || args == nil {
			return
		}
		m, body, err := snapshotMessage(Message{Target: "t", Arguments: args})
		require.NoError(t, err)
		require.Len(t, m.Arguments, len(args))
		// The body a *Client posts is what json.Marshal writes for the
		// caller's message.
		want, err := json.Marshal(restPayload{Target: "t", Arguments: args})
		require.NoError(t, err)
		assert.Equal(t, string(want), string(body))
		for i, a := range args {
			want, err := json.Marshal(a)
			require.NoError(t, err)
			got, ok := m.Arguments[i].(json.RawMessage)
			require.True(t, ok, "argument %d is a %T", i, m.Arguments[i])
			assert.Equal(t, string(want), string(got), "argument %d", i)
		}
	})
}

func TestSplitJSONArrayRejectsWrongCounts(t *testing.T) {
	t.Parallel()
	assert.False(t, splitJSONArray([]byte(`[1,2]`), make([]any, 1)))
	assert.False(t, splitJSONArray([]byte(`[1,2]`), make([]any, 3)))
	assert.False(t, splitJSONArray([]byte(`[]`), make([]any, 1)))
	assert.False(t, splitJSONArray([]byte(`{}`), make([]any, 0)))
	out := make([]any, 2)
	assert.True(t, splitJSONArray([]byte(`["a,b",{"c":[1,2]}]`), out))
	assert.Equal(t, []any{json.RawMessage(`"a,b"`), json.RawMessage(`{"c":[1,2]}`)}, out)
}

// An argument that cannot be encoded is still named by its index.
func TestSnapshotNamesTheBadArgument(t *testing.T) {
	t.Parallel()
	_, body, err := snapshotMessage(Message{Target: "t", Arguments: []any{1, make(chan int)}})
	assert.Nil(t, body)
	require.ErrorIs(t, err, ErrInvalidMessage)
	assert.Contains(t, err.Error(), "arguments[1]")
}

// argsSender keeps the messages it is given.
type argsSender struct {
	mu   sync.Mutex
	msgs []Message
}

func (r *argsSender) SendMessage(_ context.Context, _ string, m Message, _ *SendMessageOptions) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *argsSender) ApplyGroupAction(context.Context, string, GroupAction, *ApplyGroupActionOptions) error {
	return nil
}

// A Sender other than *Client, and the DeliveryError of a *Client send,
// get the snapshot's arguments as json.RawMessage, nil arguments staying
// nil, whichever way the message was encoded.
func TestSnapshotArgumentsReachSendersAndErrors(t *testing.T) {
	t.Parallel()
	msgs := []Message{
		{Target: "plain", UserID: "u1", Arguments: []any{"hi", 2, 2.5, true, nil}},
		{Target: "none", UserID: "u2"},
		{Target: "empty", UserID: "u3", Arguments: []any{}},
		{Target: "reflect", UserID: "u4", Arguments: []any{map[string]int{"k": 1}, "<b>"}},
		{Target: "a<b", UserID: "u5", Arguments: []any{"x"}},
	}
	want := [][]any{
		{json.RawMessage(`"hi"`), json.RawMessage(`2`), json.RawMessage(`2.5`), json.RawMessage(`true`), json.RawMessage(`null`)},
		nil,
		{},
		{json.RawMessage(`{"k":1}`), json.RawMessage(`"\u003cb\u003e"`)},
		{json.RawMessage(`"x"`)},
	}

	rec := &argsSender{}
	out, err := NewOutput(rec, "chat", &OutputOptions{MaxConcurrency: 1})
	require.NoError(t, err)
	col := out.NewCollector()
	for _, m := range msgs {
		require.NoError(t, col.AddMessage(m))
	}
	require.NoError(t, col.Flush(t.Context()))
	require.Len(t, rec.msgs, len(msgs))
	for i, m := range rec.msgs {
		assert.Equal(t, want[i], m.Arguments, "message %d", i)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	client, err := NewClientFromConnectionString("Endpoint="+srv.URL+";AccessKey="+testKey+";Version=1.0;", nil)
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	out, err = NewOutput(client, "chat", nil)
	require.NoError(t, err)
	col = out.NewCollector()
	for _, m := range msgs {
		require.NoError(t, col.AddMessage(m))
	}
	des := DeliveryErrors(col.Flush(t.Context()))
	require.Len(t, des, len(msgs))
	for _, de := range des {
		m, ok := de.Item.(Message)
		require.True(t, ok)
		assert.Equal(t, want[de.Index], m.Arguments, "message %d", de.Index)
	}
}
