package signalr_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
)

// The Client against the project's emulator: routes, escaping, tokens and
// expected 404s must agree end to end, for both API versions.
func TestClientAgainstEmulator(t *testing.T) {
	t.Parallel()
	for _, version := range []signalr.APIVersion{signalr.APIVersion20220601, signalr.APIVersionV1} {
		t.Run(string(version), func(t *testing.T) {
			emu := signalrtest.NewEmulator(t, nil)
			cs, err := signalr.ParseConnectionString(emu.ConnectionString())
			require.NoError(t, err)
			c, err := signalr.NewClient(cs, &signalr.ClientOptions{APIVersion: version})
			require.NoError(t, err)
			defer c.CloseIdleConnections()
			ctx := context.Background()

			healthy, err := c.Healthy(ctx, nil)
			require.NoError(t, err)
			assert.True(t, healthy)

			hostile := []string{"a/../b?c#d%", "with space", "a+b", "ünïcødé", "😀", "..", "semi;colon=eq&amp"}
			for _, id := range hostile {
				require.NoError(t, c.ApplyGroupAction(ctx, "Chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: id, GroupName: "room " + id}, nil), id)
			}
			snap := emu.Emulator.Snapshot("chat")
			for _, id := range hostile {
				assert.Contains(t, snap.UserGroups[id], "room "+id, "user %q", id)
			}
			require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionRemove, UserID: "a+b", GroupName: "room a+b"}, nil))
			require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionRemoveAll, UserID: "😀"}, nil))
			snap = emu.Emulator.Snapshot("chat")
			assert.NotContains(t, snap.UserGroups["a+b"], "room a+b")
			assert.Empty(t, snap.UserGroups["😀"])

			require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: []any{1}}, nil))
			require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: nil, UserID: "a/../b?c#d%"}, nil))
			require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: nil, GroupName: "room x", Excluded: []string{"c1"}}, nil))
			require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: nil, ConnectionID: "nobody"}, nil))

			for name, check := range map[string]func() (bool, error){
				"connection": func() (bool, error) { return c.ConnectionExists(ctx, "chat", "nobody", nil) },
				"group":      func() (bool, error) { return c.GroupExists(ctx, "chat", "empty room", nil) },
				"user":       func() (bool, error) { return c.UserExists(ctx, "chat", "nobody", nil) },
			} {
				ok, err := check()
				assert.NoError(t, err, name)
				assert.False(t, ok, name)
			}
			assert.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: "gone", GroupName: "g"}, nil), "adding a vanished connection is not an error")
			assert.NoError(t, c.CloseConnection(ctx, "chat", "gone", &signalr.CloseConnectionOptions{Reason: "bye"}), "closing a vanished connection is not an error")
		})
	}
}
