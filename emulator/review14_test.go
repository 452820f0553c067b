package emulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// A REST close reaches the client after what was sent to it before: the
// :execute example sends a message and then closes, and the message must
// not be dropped in favour of the Close.
func TestCloseComesAfterWhatWasSentBefore(t *testing.T) {
	s := newServer(t, nil)
	var clients []*client
	for range 20 {
		clients = append(clients, connect(t, s, "chat", "bob"))
	}
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:execute?api-version=2023-07-01",
		`[{"type":"SendMessage","message":{"target":"last","arguments":["words"]}},{"type":"CloseConnection","reason":"bye"}]`), 202, "")
	for _, c := range clients {
		m := c.nextMessage()
		require.Equal(t, 1, m.Type, "got %+v before the Close, want the message sent before it", m)
		require.Equal(t, "last", m.Target)
		m = c.nextMessage()
		require.Equal(t, 7, m.Type)
		require.Equal(t, "bye", m.Error)
	}
	// The same with separate calls: a send to the user, then a close of
	// the user's connections.
	clients = clients[:0]
	for range 20 {
		clients = append(clients, connect(t, s, "chat", "carol"))
	}
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/users/carol", sendBody("last", "words")), 202, "")
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/users/carol/:closeConnections?reason=bye", ""), 204, "")
	for _, c := range clients {
		m := c.nextMessage()
		require.Equal(t, 1, m.Type, "got %+v before the Close, want the message sent before it", m)
		m = c.nextMessage()
		require.Equal(t, 7, m.Type)
	}
}

// A connection whose reads are held back by a stuck upstream (its client
// invoked more than the upstream queue holds) is still dropped once
// broadcasts overflow its send queue: until it leaves, it would keep every
// broadcast appended since in memory.
func TestOverflowDropsConnectionHeldByUpstream(t *testing.T) {
	release := make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		if call.Header.Get("X-ASRS-Event") == "held" {
			<-release
		}
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), UpstreamTimeout: time.Hour, SendQueueSize: 4})
	t.Cleanup(func() { close(release) }) // before the emulator shuts down
	held := connect(t, s, "chat", "held")
	other := connect(t, s, "chat", "other")

	// More invocations than the upstream queue holds: the connection's
	// writer waits for room.
	var records []string
	for range 100 {
		records = append(records, `{"type":1,"target":"held","arguments":[]}`)
	}
	held.send(records...)
	eventually(t, "the first call reaches the upstream", func() bool { return len(up.eventsOf(held.id)) >= 2 })

	for i := range 10 {
		wantStatus(t, rest(t, s, http.MethodPost, "/api/v1/hubs/chat", sendBody("b", itoa(i))), http.StatusAccepted, "")
		other.wantInvocation("b", itoa(i))
	}
	eventually(t, "the overflowed connection leaves the hub", func() bool {
		for _, c := range s.Emulator.Snapshot("chat").Connections {
			if c.ID == held.id {
				return false
			}
		}
		return true
	})
}
