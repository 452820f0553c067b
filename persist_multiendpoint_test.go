package signalr_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// TestPersistentMultiEndpoint: a Client over two endpoints with
// TransportPersistent keeps one pool per endpoint: a broadcast and a group
// action reach the clients of both emulators over their own service
// connections, and neither emulator sees a REST send or group call (only
// the health probes stay on REST).
func TestPersistentMultiEndpoint(t *testing.T) {
	t.Parallel()
	var eps []signalr.Endpoint
	var emus []*emulator.Server
	var feeds []<-chan emulator.Event
	feedCtx, stopFeeds := context.WithCancel(context.Background())
	defer stopFeeds()
	for _, name := range []string{"east", "west"} {
		emu := signalrtest.NewEmulator(t, nil)
		cs, err := signalr.ParseConnectionString(emu.ConnectionString())
		require.NoError(t, err)
		eps = append(eps, signalr.Endpoint{Name: name, Type: signalr.Primary, ConnectionString: cs})
		emus = append(emus, emu)
		feeds = append(feeds, emu.Emulator.Events(feedCtx, &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventREST, emulator.EventService}}))
	}
	c, err := signalr.NewMultiEndpointClient(eps, &signalr.MultiEndpointOptions{Client: &signalr.ClientOptions{Transport: signalr.TransportPersistent, Persistent: &signalr.PersistentOptions{Connections: 1}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	var clients []*receiver
	for _, emu := range emus {
		single, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), nil)
		require.NoError(t, err)
		info, err := single.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "alice"})
		require.NoError(t, err)
		single.CloseIdleConnections()
		status, body, r := connect(t, info)
		require.Equal(t, http.StatusOK, status, body)
		clients = append(clients, r)
	}
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{"both"}}, nil))
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "alice", GroupName: "room"}, nil))
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "room", GroupName: "room", Arguments: []any{2}}, nil))
	for i, r := range clients {
		require.Equal(t, `all:"both"`, r.next(t), "endpoint %d", i)
		require.Equal(t, `room:2`, r.next(t), "endpoint %d", i)
		require.Len(t, emus[i].Emulator.ServerConnections("chat"), 1, "endpoint %d has its own service connection", i)
	}
	stopFeeds()
	for i, feed := range feeds {
		services := 0
		for ev := range feed {
			if ev.Kind == emulator.EventREST {
				require.Contains(t, []string{http.MethodHead, http.MethodGet}, ev.Method, "endpoint %d: a REST call went out: %s %s", i, ev.Method, ev.Route)
				continue
			}
			services++
		}
		require.GreaterOrEqual(t, services, 3, "endpoint %d: the broadcast, the group action and the group send", i)
	}
}
