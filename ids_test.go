package signalr

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9, item 13: an id that is not valid UTF-8 would be minted into a
// token as U+FFFD while REST calls carry the raw bytes, so the user could
// never be reached. Every id is checked before any I/O, and the error
// names the field.
func TestIDsMustBeValidUTF8(t *testing.T) {
	t.Parallel()
	const bad = "al\xffice"
	rr := newRestRecorder(t, nil)
	c := mustClient(t, rr.cs, nil)
	defer c.CloseIdleConnections()
	ctx := context.Background()

	tests := []struct {
		name, field string
		err         error
		target      error
	}{
		{"message userId", "userId", c.SendMessage(ctx, "chat", Message{Target: "t", UserID: bad}, nil), ErrInvalidMessage},
		{"message groupName", "groupName", c.SendMessage(ctx, "chat", Message{Target: "t", GroupName: bad}, nil), ErrInvalidMessage},
		{"message connectionId", "connectionId", c.SendMessage(ctx, "chat", Message{Target: "t", ConnectionID: bad}, nil), ErrInvalidMessage},
		{"message excluded", "excluded[1]", c.SendMessage(ctx, "chat", Message{Target: "t", Excluded: []string{"ok", bad}}, nil), ErrInvalidMessage},
		{"action userId", "userId", c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: bad, GroupName: "g"}, nil), ErrInvalidGroupAction},
		{"action connectionId", "connectionId", c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, ConnectionID: bad}, nil), ErrInvalidGroupAction},
		{"action groupName", "groupName", c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: bad}, nil), ErrInvalidGroupAction},
		{"close user", "user id", c.CloseUserConnections(ctx, "chat", bad, nil), ErrInvalidArgument},
		{"close connection", "connection id", c.CloseConnection(ctx, "chat", bad, nil), ErrInvalidArgument},
		{"close group", "group name", c.CloseGroupConnections(ctx, "chat", bad, nil), ErrInvalidGroupName},
		{"close excluded", "excluded[0]", c.CloseAllConnections(ctx, "chat", &BulkCloseOptions{Excluded: []string{bad}}), ErrInvalidArgument},
		{"user exists", "user id", second(c.UserExists(ctx, "chat", bad, nil)), ErrInvalidArgument},
		{"user in group", "group name", second(c.UserInGroup(ctx, "chat", bad, "u", nil)), ErrInvalidGroupName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			assert.ErrorIs(t, tt.err, tt.target)
			assert.Contains(t, tt.err.Error(), tt.field)
			assert.Contains(t, tt.err.Error(), "not valid UTF-8")
		})
	}
	assert.Empty(t, rr.requests(), "nothing reached the service")

	// A Collector refuses the item when it is added.
	out, err := NewOutput(c, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	assert.ErrorIs(t, col.AddMessage(Message{Target: "t", UserID: bad}), ErrInvalidMessage)
	assert.ErrorIs(t, col.AddGroupAction(GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: bad}), ErrInvalidGroupAction)
	assert.Equal(t, 0, col.Len())

	// A token is not minted for such a user, and negotiate answers 400.
	cs := mustParse(t, emulatorCS)
	_, err = cs.connectionInfo("chat", &ClientTokenOptions{UserID: bad})
	require.ErrorIs(t, err, ErrInvalidClaim)
	assert.Contains(t, err.Error(), "UserID")
	in, err := ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-user}"}.Bind(&BindOptions{ConnectionString: cs})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	NegotiateHandler(in).ServeHTTP(w, request("/negotiate", map[string]string{"X-User": bad}))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "not valid UTF-8")
}

func second(_ bool, err error) error { return err }
