package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// describeRequest names a REST request the way describeWire names an item,
// so arrivals can be matched back to items.
func describeRequest(s seen) string {
	if s.Method == http.MethodPost {
		var p struct{ Target string }
		_ = json.Unmarshal([]byte(s.Body), &p)
		return s.Method + " " + s.Path + " " + p.Target
	}
	return s.Method + " " + s.Path
}

func describeWire(hub string, it OutputItem) string {
	a := routeArgs{hub: hub}
	var op restapi.Op
	switch v := it.(type) {
	case Message:
		a.user, a.group, a.connection = v.UserID, v.GroupName, v.ConnectionID
		switch {
		case v.ConnectionID != "":
			op = restapi.SendToConnection
		case v.UserID != "":
			op = restapi.SendToUser
		case v.GroupName != "":
			op = restapi.SendToGroup
		default:
			op = restapi.Broadcast
		}
		aud, _, _ := buildRoute("", APIVersion20220601, &restapi.Routes[op], &a)
		return "POST " + aud + " " + v.Target
	case GroupAction:
		a.user, a.group, a.connection = v.UserID, v.GroupName, v.ConnectionID
		switch {
		case v.Action == GroupActionAdd && v.UserID != "":
			op = restapi.AddUserToGroup
		case v.Action == GroupActionAdd:
			op = restapi.AddConnectionToGroup
		case v.Action == GroupActionRemove && v.UserID != "":
			op = restapi.RemoveUserFromGroup
		case v.Action == GroupActionRemove:
			op = restapi.RemoveConnectionFromGroup
		case v.UserID != "":
			op = restapi.RemoveUserFromAllGroups
		default:
			op = restapi.RemoveConnectionFromAllGroups
		}
		aud, _, _ := buildRoute("", APIVersion20220601, &restapi.Routes[op], &a)
		return restapi.Routes[op].Method + " " + aud
	}
	return ""
}

// conflicts is the ordering rule, written independently of orderItems:
// two items must keep their order if they share a user, group or
// connection, if either is a broadcast, or if one is a removeAll and the
// other touches any group.
func conflicts(a, b OutputItem) bool {
	ka, kb := keysOfItem(a), keysOfItem(b)
	switch {
	case ka.barrier || kb.barrier:
		return true
	case ka.user != "" && ka.user == kb.user, ka.group != "" && ka.group == kb.group, ka.conn != "" && ka.conn == kb.conn:
		return true
	case ka.allGroups && (kb.allGroups || kb.group != ""), kb.allGroups && ka.group != "":
		return true
	}
	return false
}

// testKeys is what an item touches, as the tests read the documented rule.
type testKeys struct {
	barrier, allGroups bool
	user, group, conn  string
}

func keysOfItem(it OutputItem) testKeys {
	switch v := it.(type) {
	case Message:
		return testKeys{barrier: v.UserID == "" && v.GroupName == "" && v.ConnectionID == "", user: v.UserID, group: v.GroupName, conn: v.ConnectionID}
	case GroupAction:
		return testKeys{user: v.UserID, group: v.GroupName, conn: v.ConnectionID, allGroups: v.Action == GroupActionRemoveAll}
	}
	panic("unknown item")
}

func randomItems(r *rand.Rand, n int) []OutputItem {
	users := []string{"u1", "u2", "u3"}
	groups := []string{"g1", "g2", "g3"}
	conns := []string{"c1", "c2", "c3"}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	items := make([]OutputItem, n)
	for i := range items {
		target := fmt.Sprintf("m%d", i)
		switch r.IntN(12) {
		case 0:
			items[i] = Message{Target: target}
		case 1, 2:
			items[i] = Message{Target: target, UserID: pick(users)}
		case 3, 4:
			items[i] = Message{Target: target, GroupName: pick(groups)}
		case 5:
			items[i] = Message{Target: target, ConnectionID: pick(conns)}
		case 6:
			items[i] = GroupAction{Action: GroupActionAdd, UserID: pick(users), GroupName: pick(groups)}
		case 7:
			items[i] = GroupAction{Action: GroupActionRemove, UserID: pick(users), GroupName: pick(groups)}
		case 8:
			items[i] = GroupAction{Action: GroupActionAdd, ConnectionID: pick(conns), GroupName: pick(groups)}
		case 9:
			items[i] = GroupAction{Action: GroupActionRemove, ConnectionID: pick(conns), GroupName: pick(groups)}
		case 10:
			items[i] = GroupAction{Action: GroupActionRemoveAll, UserID: pick(users)}
		default:
			items[i] = GroupAction{Action: GroupActionRemoveAll, ConnectionID: pick(conns)}
		}
	}
	return items
}

func TestCollectorKeepsOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, seed))
			var delayMu sync.Mutex
			rr := newRestRecorder(t, func(n int, req *http.Request, w http.ResponseWriter) {
				delayMu.Lock()
				d := time.Duration(r.IntN(300)) * time.Microsecond
				delayMu.Unlock()
				time.Sleep(d) // shuffle completions
				if req.Method == http.MethodPost {
					w.WriteHeader(http.StatusAccepted)
				}
			})
			client := mustClient(t, rr.cs, nil)
			defer client.CloseIdleConnections()
			out, err := NewOutput(client, "chat", &OutputOptions{MaxConcurrency: 8})
			require.NoError(t, err)
			col := out.NewCollector()
			items := randomItems(r, 120)
			for _, it := range items {
				require.NoError(t, col.Add(it))
			}
			require.NoError(t, col.Flush(context.Background()))

			reqs := rr.requests()
			require.Len(t, reqs, len(items), "every item delivered exactly once")
			// Match each arrival to the earliest unmatched item with the
			// same route; identical routes conflict, so this is exact.
			pos := make([]int, len(items))
			used := make([]bool, len(items))
			for p, s := range reqs {
				d := describeRequest(s)
				found := false
				for i, it := range items {
					if !used[i] && describeWire("chat", it) == d {
						used[i], pos[i], found = true, p, true
						break
					}
				}
				require.True(t, found, "unexpected request %s", d)
			}
			for i := range items {
				for j := i + 1; j < len(items); j++ {
					if conflicts(items[i], items[j]) {
						assert.Less(t, pos[i], pos[j], "item %d (%s) must arrive before item %d (%s)", i, describeItem(items[i]), j, describeItem(items[j]))
					}
				}
			}
		})
	}
}

// blockingSender blocks every call until release is closed, and records
// which calls are in flight together.
type blockingSender struct {
	mu       sync.Mutex
	inFlight []string
	started  chan string
	release  chan struct{}
}

func (b *blockingSender) call(name string) error {
	b.mu.Lock()
	b.inFlight = append(b.inFlight, name)
	b.mu.Unlock()
	b.started <- name
	<-b.release
	return nil
}

func (b *blockingSender) SendMessage(_ context.Context, _ string, m Message, _ *SendMessageOptions) error {
	return b.call(m.Target)
}

func (b *blockingSender) ApplyGroupAction(_ context.Context, _ string, a GroupAction, _ *ApplyGroupActionOptions) error {
	return b.call(string(a.Action) + " " + a.UserID + " " + a.GroupName)
}

func TestCollectorRunsIndependentItemsConcurrently(t *testing.T) {
	t.Parallel()
	bs := &blockingSender{started: make(chan string, 4), release: make(chan struct{})}
	out, err := NewOutput(bs, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	require.NoError(t, col.AddGroupAction(GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g"}))
	require.NoError(t, col.AddMessage(Message{Target: "toG", GroupName: "g"}))
	require.NoError(t, col.AddMessage(Message{Target: "toV", UserID: "v"}))
	done := make(chan error)
	go func() { done <- col.Flush(context.Background()) }()
	// The add and the send to v are independent: both start while neither
	// has finished. The send to g waits for the add.
	first, second := <-bs.started, <-bs.started
	assert.ElementsMatch(t, []string{"add u g", "toV"}, []string{first, second})
	close(bs.release)
	assert.Equal(t, "toG", <-bs.started)
	require.NoError(t, <-done)
}

// failingSender fails the messages whose target starts with "bad".
type failingSender struct {
	mu   sync.Mutex
	sent []string
}

func (f *failingSender) SendMessage(_ context.Context, _ string, m Message, _ *SendMessageOptions) error {
	if strings.HasPrefix(m.Target, "bad") {
		return &ResponseError{Method: "POST", URL: "http://x/api/hubs/chat/:send", StatusCode: 503, ErrorCode: "Busy", Message: "try later"}
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.Target)
	f.mu.Unlock()
	return nil
}

func (f *failingSender) ApplyGroupAction(context.Context, string, GroupAction, *ApplyGroupActionOptions) error {
	return errors.New("connection refused")
}

func TestCollectorFlushReportsEveryFailure(t *testing.T) {
	t.Parallel()
	fs := &failingSender{}
	out, err := NewOutput(fs, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	require.NoError(t, col.AddMessage(Message{Target: "ok1", UserID: "a"}))
	require.NoError(t, col.AddMessage(Message{Target: "bad1", UserID: "b"}))
	require.NoError(t, col.AddGroupAction(GroupAction{Action: "Add", UserID: "c", GroupName: "g"}))
	require.NoError(t, col.AddMessage(Message{Target: "ok2", GroupName: "h"}))
	require.NoError(t, col.AddMessage(Message{Target: "bad2"}))
	assert.Equal(t, 5, col.Len())

	err = col.Flush(context.Background())
	require.Error(t, err)
	des := DeliveryErrors(err)
	require.Len(t, des, 3)
	assert.Equal(t, []int{1, 2, 4}, []int{des[0].Index, des[1].Index, des[2].Index})
	assert.Equal(t, Message{Target: "bad1", UserID: "b"}, des[0].Item)
	assert.Equal(t, GroupAction{Action: GroupActionAdd, UserID: "c", GroupName: "g"}, des[1].Item)
	assert.Contains(t, err.Error(), `output item 1 (message "bad1" to user "b") not delivered`)
	assert.Contains(t, err.Error(), `output item 2 (add user "c" to group "g") not delivered: connection refused`)
	assert.Contains(t, err.Error(), `output item 4 (message "bad2" to everyone)`)
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "Busy", re.ErrorCode)
	var de *DeliveryError
	require.ErrorAs(t, err, &de)
	assert.ElementsMatch(t, []string{"ok1", "ok2"}, fs.sent)

	assert.Equal(t, 0, col.Len())
	require.NoError(t, col.Flush(context.Background()), "delivered items are not sent again")
	assert.Len(t, fs.sent, 2)

	// Indexes keep counting across flushes.
	require.NoError(t, col.AddMessage(Message{Target: "bad3"}))
	des = DeliveryErrors(col.Flush(context.Background()))
	require.Len(t, des, 1)
	assert.Equal(t, 5, des[0].Index)
}

func TestCollectorValidatesOnAdd(t *testing.T) {
	t.Parallel()
	out, err := NewOutput(&failingSender{}, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	assert.ErrorIs(t, col.AddMessage(Message{}), ErrInvalidMessage)
	assert.ErrorIs(t, col.AddMessage(Message{Target: "t", Arguments: []any{func() {}}}), ErrInvalidMessage)
	assert.ErrorIs(t, col.AddGroupAction(GroupAction{Action: GroupActionAdd}), ErrInvalidGroupAction)
	assert.ErrorIs(t, col.Add(nil), ErrInvalidOutputItem)
	assert.ErrorIs(t, col.Add((*Message)(nil)), ErrInvalidOutputItem)
	assert.ErrorIs(t, col.AddJSON([]byte(`[{"target":"ok"},{"target":"t","userId":"u","groupName":"g"}]`)), ErrInvalidMessage)
	assert.Equal(t, 0, col.Len(), "nothing is queued when an add fails")
	require.NoError(t, col.AddJSON([]byte(`[{"target":"ok"},{"action":"removeAll","userId":"u"}]`)))
	require.NoError(t, col.Add(&Message{Target: "p"}))
	assert.Equal(t, 3, col.Len())

	// Arguments that cannot be encoded are refused when added.
	assert.ErrorIs(t, col.AddMessage(Message{Target: "t", Arguments: []any{make(chan int)}}), ErrInvalidMessage)
	assert.Equal(t, 3, col.Len())
}

func TestCollectorFlushCancelled(t *testing.T) {
	t.Parallel()
	fs := &failingSender{}
	out, err := NewOutput(fs, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	require.NoError(t, col.AddMessage(Message{Target: "a", UserID: "1"}))
	require.NoError(t, col.AddMessage(Message{Target: "b", UserID: "2"}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = col.Flush(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, DeliveryErrors(err), 2, "items not attempted are reported, not dropped")
	assert.Empty(t, fs.sent)
}

func TestWithOutput(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		if strings.Contains(r.URL.Path, "/groups/down/") {
			w.Header().Set("x-ms-error-code", "Error.Service.Down")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"code":"Error.Service.Down","message":"group service unavailable"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	client := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry()})
	defer client.CloseIdleConnections()
	var hookErr error
	out, err := NewOutput(client, "chat", &OutputOptions{OnError: func(r *http.Request, err error) { hookErr = err }})
	require.NoError(t, err)

	h := WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *Collector) {
		group := r.URL.Query().Get("group")
		if err := c.AddMessage(Message{Target: "hello", GroupName: group, Arguments: []any{"x"}}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Query().Has("write") {
			w.WriteHeader(http.StatusNoContent)
		}
	})

	// Delivered: the handler's (implicit) 200 stands.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/send?group=g1", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	reqs := rr.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/api/hubs/chat/groups/g1/:send", reqs[0].Path)

	// Not delivered, nothing written: 502 naming the service's reason.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/send?group=down", nil))
	assert.Equal(t, http.StatusBadGateway, w.Code)
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"error":"SignalR output: 1 item(s) not delivered","failures":[{"index":0,"item":"message \"hello\" to group \"down\"","statusCode":400,"errorCode":"Error.Service.Down","reason":"group service unavailable"}]}`, w.Body.String())

	// Not delivered after the handler wrote: the hook gets it.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/send?group=down&write=1", nil))
	assert.Equal(t, http.StatusNoContent, w.Code)
	require.Error(t, hookErr)
	assert.Len(t, DeliveryErrors(hookErr), 1)

	// A bad item is the handler's own 400; nothing is sent.
	n := len(rr.requests())
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/send?group=%20", nil))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Len(t, rr.requests(), n)
}

func TestWithOutputFlushSurvivesClientGone(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, nil)
	client := mustClient(t, rr.cs, nil)
	defer client.CloseIdleConnections()
	out, err := NewOutput(client, "chat", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h := WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *Collector) {
		require.NoError(t, c.AddMessage(Message{Target: "t"}))
		cancel() // the HTTP client hangs up before the flush
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", nil).WithContext(ctx))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Len(t, rr.requests(), 1)
}

func TestWithOutputReportsFailureWhenClientGone(t *testing.T) {
	t.Parallel()
	var hookErr error
	out, err := NewOutput(&failingSender{}, "chat", &OutputOptions{OnError: func(r *http.Request, err error) { hookErr = err }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h := WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *Collector) {
		require.NoError(t, c.AddMessage(Message{Target: "bad"}))
		cancel() // the HTTP client hangs up; the 502 would reach nobody
	})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil).WithContext(ctx))
	var de *DeliveryError
	require.ErrorAs(t, hookErr, &de, "the failure must reach OnError")
	assert.Equal(t, 0, de.Index)
}

func TestOutputBindingBind(t *testing.T) {
	t.Parallel()
	settings := SettingsFunc(func(name string) (string, bool) {
		switch name {
		case "MySignalR":
			return "Endpoint=http://localhost;Port=8888;AccessKey=" + testAccessKey + ";Version=1.0;", true
		case "HubFromSetting":
			return "Lobby", true
		}
		return "", false
	})
	out, err := OutputBinding{Name: "signalRMessages", HubName: "Chat", ConnectionStringSetting: "MySignalR"}.Bind(&BindOptions{Settings: settings}, nil)
	require.NoError(t, err)
	assert.Equal(t, "Chat", out.Hub())

	// A shared Client is used as is: the setting is not even read.
	rr := newRestRecorder(t, nil)
	shared := mustClient(t, rr.cs, &ClientOptions{APIVersion: APIVersionV1})
	out, err = OutputBinding{HubName: "Chat", ConnectionStringSetting: "Unset"}.Bind(&BindOptions{Settings: settings, Client: shared}, nil)
	require.NoError(t, err)
	col := out.NewCollector()
	require.NoError(t, col.AddMessage(Message{Target: "t"}))
	require.NoError(t, col.Flush(context.Background()))
	reqs := rr.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/api/v1/hubs/chat", reqs[0].Path, "sent through the shared v1 Client")

	_, err = OutputBinding{HubName: "chat"}.Bind(&BindOptions{Settings: settings}, nil)
	assert.ErrorIs(t, err, ErrMissingSetting)
	_, err = OutputBinding{HubName: "9chat", ConnectionStringSetting: "MySignalR"}.Bind(&BindOptions{Settings: settings}, nil)
	assert.ErrorIs(t, err, ErrInvalidHubName)
	_, err = OutputBinding{ConnectionStringSetting: "MySignalR"}.Bind(&BindOptions{Settings: settings}, nil)
	assert.ErrorIs(t, err, ErrInvalidBinding)
	assert.Contains(t, err.Error(), "hubName")
	out, err = OutputBinding{HubName: "%HubFromSetting%", ConnectionStringSetting: "MySignalR"}.Bind(&BindOptions{Settings: settings}, nil)
	require.NoError(t, err)
	assert.Equal(t, "Lobby", out.Hub(), "%NAME% expands from app settings, as in the input binding")
	_, err = OutputBinding{HubName: "%Unset%", ConnectionStringSetting: "MySignalR"}.Bind(&BindOptions{Settings: settings}, nil)
	assert.ErrorIs(t, err, ErrMissingSetting)
	_, err = NewOutput(nil, "chat", nil)
	assert.Error(t, err)
}

func TestWithOutputHandlerThatFlushes(t *testing.T) {
	t.Parallel()
	var hookErr error
	out, err := NewOutput(&failingSender{}, "chat", &OutputOptions{OnError: func(r *http.Request, err error) { hookErr = err }})
	require.NoError(t, err)
	h := WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *Collector) {
		require.NoError(t, c.AddMessage(Message{Target: "bad"}))
		// Streaming handlers reach the underlying writer through
		// ResponseController; flushing starts the response.
		require.NoError(t, http.NewResponseController(w).Flush())
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	assert.True(t, w.Flushed)
	assert.Equal(t, http.StatusOK, w.Code)
	require.Error(t, hookErr, "the response had started, so the failure goes to OnError")
	assert.Len(t, DeliveryErrors(hookErr), 1)
}

func TestCollectorIndependentItems(t *testing.T) {
	t.Parallel()
	// No item shares a key with another, so the flush takes the path
	// without a dependency graph; it must still send each item once,
	// concurrently, and report every failure with its index.
	fs := &failingSender{}
	out, err := NewOutput(fs, "chat", &OutputOptions{MaxConcurrency: 4})
	require.NoError(t, err)
	col := out.NewCollector()
	var want []string
	for i := range 40 {
		target := fmt.Sprintf("ok%d", i)
		if i%7 == 3 {
			target = fmt.Sprintf("bad%d", i)
		} else {
			want = append(want, target)
		}
		require.NoError(t, col.AddMessage(Message{Target: target, UserID: fmt.Sprintf("u%d", i)}))
	}
	des := DeliveryErrors(col.Flush(context.Background()))
	require.Len(t, des, 6)
	for k, de := range des {
		assert.Equal(t, 3+7*k, de.Index)
	}
	assert.ElementsMatch(t, want, fs.sent)

	bs := &blockingSender{started: make(chan string, 2), release: make(chan struct{})}
	out, err = NewOutput(bs, "chat", nil)
	require.NoError(t, err)
	col = out.NewCollector()
	require.NoError(t, col.AddMessage(Message{Target: "a", UserID: "1"}))
	require.NoError(t, col.AddMessage(Message{Target: "b", ConnectionID: "2"}))
	done := make(chan error)
	go func() { done <- col.Flush(context.Background()) }()
	assert.ElementsMatch(t, []string{"a", "b"}, []string{<-bs.started, <-bs.started}, "both in flight at once")
	close(bs.release)
	require.NoError(t, <-done)
}
