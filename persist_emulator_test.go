package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// persistentClient is a Client with TransportPersistent on emu, closed at
// the end of the test.
func persistentClient(t *testing.T, emu *emulator.Server, po *signalr.PersistentOptions) *signalr.Client {
	t.Helper()
	c, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), &signalr.ClientOptions{Transport: signalr.TransportPersistent, Persistent: po})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// answering connects a JSON client as user that answers every Invocation
// carrying an id with the result {"got": <first argument>}.
func answering(t *testing.T, c *signalr.Client, hub, user string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.ConnectionInfo(ctx, hub, &signalr.ClientTokenOptions{UserID: user})
	require.NoError(t, err)
	base, query, _ := strings.Cut(info.URL, "?")
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/negotiate?"+query+"&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+info.AccessToken)
	resp, err := wsHTTP.Do(req)
	require.NoError(t, err)
	var n struct{ ConnectionID, ConnectionToken string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&n))
	resp.Body.Close()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(info.URL, "http")+"&id="+url.QueryEscape(n.ConnectionToken),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + info.AccessToken}}, HTTPClient: wsHTTP})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")))
	_, _, err = ws.Read(ctx)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			for _, rec := range bytes.Split(bytes.TrimSuffix(data, []byte{0x1e}), []byte{0x1e}) {
				var m struct {
					Type         int
					InvocationID string
					Arguments    []json.RawMessage
				}
				if json.Unmarshal(rec, &m) == nil && m.Type == 1 && m.InvocationID != "" && len(m.Arguments) > 0 {
					reply := fmt.Sprintf(`{"type":3,"invocationId":%q,"result":{"got":%s}}`+"\x1e", m.InvocationID, m.Arguments[0])
					wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = ws.Write(wctx, websocket.MessageText, []byte(reply))
					wcancel()
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-done
	})
	return n.ConnectionID
}

// TestPersistentThroughEmulator: with TransportPersistent every send kind,
// group action, existence check, close and client invocation goes over
// the service connections, reaches a real client, and the feed shows no
// REST call for any of them.
func TestPersistentThroughEmulator(t *testing.T) {
	t.Parallel()
	emu := signalrtest.NewEmulator(t, nil)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	feed := emu.Emulator.Events(feedCtx, &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventREST, emulator.EventService}})
	c := persistentClient(t, emu, &signalr.PersistentOptions{Connections: 2, MessagePack: true})
	ctx := context.Background()

	info, err := c.ConnectionInfo(ctx, "Chat", &signalr.ClientTokenOptions{UserID: "alice"})
	require.NoError(t, err)
	_, _, alice := connect(t, info)
	id := emu.Emulator.Snapshot("chat").Connections[0].ID

	require.NoError(t, c.SendMessage(ctx, "Chat", signalr.Message{Target: "all", Arguments: []any{"hi"}}, nil))
	require.Equal(t, `all:"hi"`, alice.next(t))
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "user", Arguments: []any{1}, UserID: "alice"}, nil))
	require.Equal(t, `user:1`, alice.next(t))
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "conn", Arguments: []any{map[string]int{"a": 1}}, ConnectionID: id}, nil))
	require.Equal(t, `conn:{"a":1}`, alice.next(t))
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "excluded", Arguments: []any{0}, Excluded: []string{id}}, nil))

	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: id, GroupName: "room"}, nil))
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "group", Arguments: []any{"g"}, GroupName: "room"}, nil))
	require.Equal(t, `group:"g"`, alice.next(t))
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "alice", GroupName: "vip", TTL: time.Hour}, nil))
	in, err := c.UserInGroup(ctx, "chat", "vip", "alice", nil)
	require.NoError(t, err)
	require.True(t, in)
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: "gone", GroupName: "g"}, nil), "adding a vanished connection is not an error")

	for name, check := range map[string]struct {
		f    func() (bool, error)
		want bool
	}{
		"connection":    {func() (bool, error) { return c.ConnectionExists(ctx, "chat", id, nil) }, true},
		"no connection": {func() (bool, error) { return c.ConnectionExists(ctx, "chat", "nobody", nil) }, false},
		"group":         {func() (bool, error) { return c.GroupExists(ctx, "chat", "room", nil) }, true},
		"no group":      {func() (bool, error) { return c.GroupExists(ctx, "chat", "empty", nil) }, false},
		"user":          {func() (bool, error) { return c.UserExists(ctx, "chat", "alice", nil) }, true},
		"no user":       {func() (bool, error) { return c.UserExists(ctx, "chat", "bob", nil) }, false},
	} {
		got, err := check.f()
		require.NoError(t, err, name)
		require.Equal(t, check.want, got, name)
	}
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionRemoveAll, ConnectionID: id}, nil))
	ok, err := c.GroupExists(ctx, "chat", "room", nil)
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionRemove, UserID: "alice", GroupName: "vip"}, nil))

	bobID := answering(t, c, "chat", "bob")
	got, err := c.Invoke(ctx, "chat", bobID, "ask", []any{"q"}, nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"got":"q"}`, string(got))
	_, err = c.Invoke(ctx, "chat", "nobody", "ask", []any{"q"}, nil)
	var re *signalr.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusNotFound, re.StatusCode)

	require.NoError(t, c.CloseConnection(ctx, "chat", bobID, &signalr.CloseConnectionOptions{Reason: "bye"}))
	require.NoError(t, c.CloseUserConnections(ctx, "chat", "alice", nil))
	require.Eventually(t, func() bool { return len(emu.Emulator.Snapshot("chat").Connections) == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Len(t, emu.Emulator.ServerConnections("chat"), 2)

	// The feed: service messages for every operation, and no REST call
	// (ConnectionInfo mints locally).
	stopFeed()
	kinds := map[string]int{}
	for ev := range feed {
		if ev.Kind == emulator.EventREST {
			t.Errorf("a REST call went out: %s %s", ev.Method, ev.Route)
		}
		kinds[ev.Method]++
	}
	for _, name := range []string{"BroadcastData", "UserData", "MultiConnectionData", "GroupBroadcastData", "JoinGroupWithAck",
		"UserJoinGroupWithAck", "CheckUserInGroupWithAck", "CheckConnectionExistenceWithAck", "CheckGroupExistenceWithAck",
		"CheckUserExistenceWithAck", "LeaveGroupWithAck", "UserLeaveGroupWithAck", "ClientInvocation", "CloseConnection", "CloseUserConnectionsWithAck"} {
		require.NotZero(t, kinds[name], "no %s on the feed: %v", name, kinds)
	}
}

// TestPersistentKillMidStream: service connections cut while 8 senders
// send 400 messages: every send that succeeded reaches the client, every
// failure is reported (maybe applied, or not sent), and the pool reopens
// its connections.
func TestPersistentKillMidStream(t *testing.T) {
	t.Parallel()
	emu := signalrtest.NewEmulator(t, nil)
	c := persistentClient(t, emu, &signalr.PersistentOptions{Connections: 2})
	ctx := context.Background()
	info, err := c.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "alice"})
	require.NoError(t, err)
	_, _, alice := connect(t, info)
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "warm", Arguments: []any{-1}}, nil))
	require.Equal(t, "warm:-1", alice.next(t))

	const senders, each = 8, 50
	var mu sync.Mutex
	okSends, maybe, notSent := map[string]bool{}, 0, 0
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n := s*each + i
				err := c.SendMessage(ctx, "chat", signalr.Message{Target: "m", Arguments: []any{n}}, nil)
				mu.Lock()
				switch {
				case err == nil:
					okSends[fmt.Sprint(n)] = true
				case errors.Is(err, signalr.ErrMaybeApplied):
					maybe++
				default:
					notSent++
				}
				mu.Unlock()
			}
		}()
	}
	received := map[string]bool{}
	cut := 0
	for len(received) < 20 {
		m := alice.next(t)
		received[strings.TrimPrefix(m, "m:")] = true
	}
	cut += emu.Emulator.DropServerConnections("chat")
	for len(received) < 120 && cut < 3 {
		m := alice.next(t)
		received[strings.TrimPrefix(m, "m:")] = true
	}
	cut += emu.Emulator.DropServerConnections("chat")
	wg.Wait()
	require.NotZero(t, cut)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d confirmed, %d maybe applied, %d not sent; %d connections cut", len(okSends), maybe, notSent, cut)
	require.Equal(t, senders*each, len(okSends)+maybe+notSent)
	// Every confirmed send arrives.
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing := 0
		for n := range okSends {
			if !received[n] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d confirmed sends never arrived", missing)
		m := alice.next(t)
		received[strings.TrimPrefix(m, "m:")] = true
	}
	require.Eventually(t, func() bool { return len(emu.Emulator.ServerConnections("chat")) == 2 }, 10*time.Second, 10*time.Millisecond, "the pool reconnects")
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "after", Arguments: []any{1}}, nil))
}

// TestPersistentRefusedAndFallback: a service that refuses the handshake
// fails operations without sending them, unless FallbackToREST, which
// then uses REST.
func TestPersistentBadOptions(t *testing.T) {
	emu := signalrtest.NewEmulator(t, nil)
	_, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), &signalr.ClientOptions{Transport: "Sometimes"})
	require.ErrorIs(t, err, signalr.ErrInvalidArgument)
	_, err = signalr.NewClientFromConnectionString(emu.ConnectionString(), &signalr.ClientOptions{Transport: signalr.TransportPersistent, Persistent: &signalr.PersistentOptions{AckTimeout: -1}})
	require.ErrorIs(t, err, signalr.ErrInvalidArgument)
	tr, err := signalr.ParseTransport("persistent")
	require.NoError(t, err)
	require.Equal(t, signalr.TransportPersistent, tr)
	_, err = signalr.ParseTransport("x")
	require.ErrorIs(t, err, signalr.ErrInvalidArgument)
}
