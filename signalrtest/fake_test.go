package signalrtest_test

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

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
)

func TestFakeSenderRecords(t *testing.T) {
	t.Parallel()
	f := signalrtest.NewFakeSender()
	ctx := context.Background()
	require.NoError(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{1}}, nil))
	require.NoError(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "hi", UserID: "u1"}, nil))
	require.NoError(t, f.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: "ADD", UserID: "u1", GroupName: "g"}, nil))
	require.NoError(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "hi", GroupName: "g"}, nil))
	require.NoError(t, f.SendMessage(ctx, "other", signalr.Message{Target: "yo", ConnectionID: "c1"}, nil))

	assert.Len(t, f.Calls(), 5)
	assert.Equal(t, `chat: add user "u1" group "g"`, f.Calls()[2].String())
	assert.Equal(t, `other: message "yo" to connection "c1" with 0 argument(s)`, f.Calls()[4].String())
	assert.Len(t, f.Messages(), 4)
	assert.Equal(t, []signalr.Message{{Target: "all", Arguments: []any{json.Number("1")}}}, f.Broadcasts(), "recorded as JSON values")
	assert.Equal(t, []signalr.Message{{Target: "hi", UserID: "u1"}}, f.MessagesToUser("u1"))
	assert.Equal(t, []signalr.Message{{Target: "hi", GroupName: "g"}}, f.MessagesToGroup("g"))
	assert.Equal(t, []signalr.Message{{Target: "yo", ConnectionID: "c1"}}, f.MessagesToConnection("c1"))
	assert.Len(t, f.MessagesWithTarget("hi"), 2)
	assert.Equal(t, []signalr.GroupAction{{Action: signalr.GroupActionAdd, UserID: "u1", GroupName: "g"}}, f.GroupActions())

	f.Reset()
	assert.Empty(t, f.Calls())
}

func TestFakeSenderValidatesAndFails(t *testing.T) {
	t.Parallel()
	f := signalrtest.NewFakeSender()
	ctx := context.Background()
	assert.ErrorIs(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "t", UserID: "u", GroupName: "g"}, nil), signalr.ErrInvalidMessage)
	assert.ErrorIs(t, f.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: "add", UserID: "u"}, nil), signalr.ErrInvalidGroupAction)

	boom := errors.New("boom")
	f.FailNext(boom)
	assert.ErrorIs(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "t"}, nil), boom)
	assert.NoError(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "t"}, nil))

	f.FailWhen(func(c signalrtest.Call) error {
		if c.Message != nil && c.Message.UserID == "blocked" {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "t", UserID: "blocked"}, nil), boom)
	assert.NoError(t, f.SendMessage(ctx, "chat", signalr.Message{Target: "t", UserID: "ok"}, nil))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, f.SendMessage(cancelled, "chat", signalr.Message{Target: "t"}, nil), context.Canceled)
	assert.Len(t, f.Calls(), 2, "failed and invalid deliveries are not recorded")
}

func TestFakeSenderConcurrentUse(t *testing.T) {
	t.Parallel()
	f := signalrtest.NewFakeSender()
	boom := errors.New("boom")
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				if j%10 == 0 {
					f.FailNext(boom)
				}
				if err := f.SendMessage(context.Background(), "chat", signalr.Message{Target: "t", UserID: fmt.Sprint(i)}, nil); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
				_ = f.Messages()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 16*5, failed, "each injected failure fails exactly one delivery")
	assert.Len(t, f.Messages(), 16*50-failed, "every other delivery is recorded")
}

func TestFakeSenderWithCollectorAndWrapper(t *testing.T) {
	t.Parallel()
	out, f := signalrtest.NewOutput("chat")
	h := signalr.WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *signalr.Collector) {
		_ = c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "u1", GroupName: "room"})
		_ = c.AddJSON([]byte(`[{"target":"joined","groupName":"room","arguments":["u1"]}]`))
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/join", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	calls := f.Calls()
	require.Len(t, calls, 2)
	assert.NotNil(t, calls[0].GroupAction, "the add arrives before the send to its group")
	assert.Equal(t, []signalr.Message{{Target: "joined", GroupName: "room", Arguments: []any{"u1"}}}, f.MessagesToGroup("room"))

	f.FailNext(&signalr.ResponseError{Method: "PUT", URL: "http://x", StatusCode: 503, ErrorCode: "Busy"})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/join", nil))
	assert.Equal(t, http.StatusBadGateway, w.Code)
	assert.Contains(t, w.Body.String(), `"errorCode":"Busy"`)
}

func TestNewOutputPanicsOnBadHub(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, "signalrtest.NewOutput: signalr: invalid hub name: hub name \"1hub\" must start with an ASCII letter", func() {
		signalrtest.NewOutput("1hub")
	})
}

// Issue 9, item 8: the fake sees what production sends. The Collector
// snapshots a message when it is added, so changing its arguments (or
// what they point to) afterwards changes neither what the fake records
// nor what a Client would send.
func TestFakeSenderGetsWhatWasAdded(t *testing.T) {
	t.Parallel()
	type note struct{ Text string }
	out, f := signalrtest.NewOutput("chat")
	col := out.NewCollector()
	n := &note{Text: "before"}
	args := []any{"before", n, map[string]any{"k": "before"}, 2}
	require.NoError(t, col.AddMessage(signalr.Message{Target: "t", UserID: "u", Arguments: args}))
	args[0] = "after"
	n.Text = "after"
	args[2].(map[string]any)["k"] = "after"
	require.NoError(t, col.Flush(context.Background()))
	msgs := f.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, []any{"before", map[string]any{"Text": "before"}, map[string]any{"k": "before"}, json.Number("2")}, msgs[0].Arguments,
		"recorded as the JSON values the service would receive")
}
