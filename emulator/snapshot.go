package emulator

// HubSnapshot is a copy of what one hub holds at a moment, for tests to
// assert on. Every list is sorted; expired group memberships are left out.
type HubSnapshot struct {
	// Hub is the hub's name, lowercased.
	Hub string
	// Connections lists the connected clients.
	Connections []ConnectionSnapshot
	// Users maps each user id with connections to its connection ids.
	Users map[string][]string
	// Groups maps each group with members to its member connection ids.
	Groups map[string][]string
	// UserGroups maps each user id to the groups the user was added to
	// through the REST API; these apply to the user's later connections too.
	UserGroups map[string][]string
}

// ConnectionSnapshot describes one connected client.
type ConnectionSnapshot struct {
	// ID is the public connection id, the one REST calls target.
	ID string
	// UserID is the user id from the client's token, or "" when anonymous.
	UserID string
	// Groups lists the groups the connection belongs to.
	Groups []string
	// AwaitingReconnect reports that the connection lost its WebSocket and
	// waits, within its stateful reconnect window, for the client to come
	// back.
	AwaitingReconnect bool
}

// Connection returns the connection with id and whether it is connected.
func (s HubSnapshot) Connection(id string) (ConnectionSnapshot, bool) {
	for _, c := range s.Connections {
		if c.ID == id {
			return c, true
		}
	}
	return ConnectionSnapshot{}, false
}
