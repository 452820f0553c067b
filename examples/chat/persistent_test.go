package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// TestChatPersistentTransport runs the chat with
// AzureSignalRServiceTransportType=Persistent: broadcasts, user and group
// messages and group actions reach the clients over the service
// connections, which the emulator lists, and its feed shows no REST call.
func TestChatPersistentTransport(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(nil)
	emu := signalrtest.NewEmulator(t, &emulator.Options{
		Upstream:        []emulator.UpstreamTemplate{{URLTemplate: "http://" + srv.Listener.Addr().String() + signalr.DefaultUpstreamPath}},
		UpstreamTimeout: 5 * time.Second,
	})
	feedCtx, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	feed := emu.Emulator.Events(feedCtx, &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventREST, emulator.EventService}})

	parsed, err := signalr.ParseConnectionString(emu.ConnectionString())
	require.NoError(t, err)
	b, err := loadBindings(functionsFS)
	require.NoError(t, err)
	settings := signalr.SettingsFunc(func(name string) (string, bool) {
		if name == signalr.TransportSetting {
			return "Persistent", true
		}
		return "", false
	})
	a, err := newApp(appConfig{bindings: b, bind: &signalr.BindOptions{ConnectionString: parsed, Settings: settings}, signalrJS: newSignalRJS(fakeSignalRJS(t))})
	require.NoError(t, err)
	t.Cleanup(a.close)
	srv.Config.Handler = a
	srv.Start()
	t.Cleanup(srv.Close)
	e := &chatEnv{t: t, emu: emu, srv: srv}

	alice, bob := e.connect("alice", false), e.connect("bob", false)
	e.mustCall("POST", "/api/messages", `{"text":"hello, all"}`, http.StatusNoContent)
	alice.want(`{"text":"hello, all"}`)
	bob.want(`{"text":"hello, all"}`)
	e.mustCall("POST", "/api/users/alice/messages", `{"text":"psst"}`, http.StatusNoContent)
	e.mustCall("POST", "/api/messages", `{"text":"marker"}`, http.StatusNoContent)
	alice.want(`{"text":"psst"}`)
	alice.want(`{"text":"marker"}`)
	bob.want(`{"text":"marker"}`)
	const group = "team a/b"
	e.mustCall("PUT", "/api/groups/"+url.PathEscape(group)+"/users/alice", "", http.StatusNoContent)
	require.Contains(t, emu.Emulator.Snapshot("chat").UserGroups["alice"], group)
	e.mustCall("POST", "/api/groups/"+url.PathEscape(group)+"/messages", `{"text":"to the group"}`, http.StatusNoContent)
	e.mustCall("POST", "/api/messages", `{"text":"marker 1"}`, http.StatusNoContent)
	alice.want(`{"text":"to the group"}`)
	alice.want(`{"text":"marker 1"}`)
	bob.want(`{"text":"marker 1"}`)
	e.mustCall("DELETE", "/api/groups/"+url.PathEscape(group)+"/users/alice", "", http.StatusNoContent)
	require.Empty(t, emu.Emulator.Snapshot("chat").UserGroups["alice"])
	require.NotEmpty(t, emu.Emulator.ServerConnections("chat"))

	stopFeed()
	methods := map[string]int{}
	for ev := range feed {
		if ev.Kind == emulator.EventREST {
			t.Errorf("a REST call went out: %s %s", ev.Method, ev.Route)
		}
		methods[ev.Method]++
	}
	for _, m := range []string{"BroadcastData", "UserData", "GroupBroadcastData", "UserJoinGroupWithAck", "UserLeaveGroupWithAck"} {
		require.NotZero(t, methods[m], "no %s on the feed: %v", m, methods)
	}
}
