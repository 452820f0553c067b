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
	for _, version := range []signalr.APIVersion{signalr.APIVersion20220601, signalr.APIVersionV1} {
		t.Run(string(version), func(t *testing.T) {
			emu := signalrtest.NewEmulator(t, nil)
			cs, err := signalr.ParseConnectionString(emu.ConnectionString())
			require.NoError(t, err)
			c := signalr.NewClient(cs, &signalr.ClientOptions{APIVersion: version})
			defer c.CloseIdleConnections()
			ctx := context.Background()

			healthy, err := c.Healthy(ctx)
			require.NoError(t, err)
			assert.True(t, healthy)

			hostile := []string{"a/../b?c#d%", "with space", "a+b", "ünïcødé", "😀", "..", "semi;colon=eq&amp"}
			for _, id := range hostile {
				require.NoError(t, c.AddUserToGroup(ctx, "Chat", "room "+id, id, nil), id)
			}
			snap := emu.Snapshot("chat")
			for _, id := range hostile {
				assert.Contains(t, snap.UserGroups[id], "room "+id, "user %q", id)
			}
			require.NoError(t, c.RemoveUserFromGroup(ctx, "chat", "room a+b", "a+b"))
			require.NoError(t, c.RemoveUserFromAllGroups(ctx, "chat", "😀"))
			snap = emu.Snapshot("chat")
			assert.NotContains(t, snap.UserGroups["a+b"], "room a+b")
			assert.Empty(t, snap.UserGroups["😀"])

			require.NoError(t, c.SendToAll(ctx, "chat", "t", []any{1}))
			require.NoError(t, c.SendToUser(ctx, "chat", "a/../b?c#d%", "t", nil))
			require.NoError(t, c.SendToGroup(ctx, "chat", "room x", "t", nil, "c1"))
			require.NoError(t, c.SendToConnection(ctx, "chat", "nobody", "t", nil))

			for name, check := range map[string]func() (bool, error){
				"connection": func() (bool, error) { return c.ConnectionExists(ctx, "chat", "nobody") },
				"group":      func() (bool, error) { return c.GroupExists(ctx, "chat", "empty room") },
				"user":       func() (bool, error) { return c.UserExists(ctx, "chat", "nobody") },
			} {
				ok, err := check()
				assert.NoError(t, err, name)
				assert.False(t, ok, name)
			}
			assert.NoError(t, c.AddConnectionToGroup(ctx, "chat", "g", "gone"), "adding a vanished connection is not an error")
			assert.NoError(t, c.CloseConnection(ctx, "chat", "gone", "bye"), "closing a vanished connection is not an error")
		})
	}
}
