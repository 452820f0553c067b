package emulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
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
