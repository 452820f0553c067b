package signalr_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// TestPersistentWithIdentity: with an identity connection string
// (AuthType=azure.msi, no access key) the persistent transport opens its
// service connections with the credential's Microsoft Entra token, as the
// REST path authenticates its calls: sends, group actions and checks go
// over them and the feed shows no REST call. A credential the service
// refuses fails the operations, unsent, with the service's reason.
func TestPersistentWithIdentity(t *testing.T) {
	t.Parallel()
	emu, cs := identityEmulator(t)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	feed := emu.Emulator.Events(feedCtx, &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventREST, emulator.EventService}})
	cred, err := signalrtest.NewCredential(emu.Emulator, nil)
	require.NoError(t, err)
	c, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred, Transport: signalr.TransportPersistent, Persistent: &signalr.PersistentOptions{Connections: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	info, err := c.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "alice"})
	require.NoError(t, err)
	status, body, alice := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)

	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "direct", UserID: "alice", Arguments: []any{"hi"}}, nil))
	require.Equal(t, `direct:"hi"`, alice.next(t))
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "alice", GroupName: "room"}, nil))
	in, err := c.UserInGroup(ctx, "chat", "room", "alice", nil)
	require.NoError(t, err)
	require.True(t, in)
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "room", GroupName: "room", Arguments: []any{1}}, nil))
	require.Equal(t, "room:1", alice.next(t))
	servers := emu.Emulator.ServerConnections("chat")
	require.Len(t, servers, 1)

	stopFeed()
	services := 0
	for ev := range feed {
		if ev.Kind == emulator.EventREST {
			// Negotiate's client token is signed with a key fetched over
			// REST (the service protocol's AccessKeyRequest is not used).
			require.Contains(t, ev.Route, "/auth/accessKey", "a REST call went out: %s %s", ev.Method, ev.Route)
			continue
		}
		services++
	}
	require.GreaterOrEqual(t, services, 4, "the operations are service messages")

	// A token the service refuses: the upgrade is answered 401, every
	// attempt, and the operation fails unsent, naming the reason.
	wrong, err := signalrtest.NewCredential(emu.Emulator, &signalrtest.CredentialOptions{Audience: "https://management.azure.com"})
	require.NoError(t, err)
	bad, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: wrong, Transport: signalr.TransportPersistent, AttemptTimeout: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bad.Close() })
	err = bad.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: []any{1}}, nil)
	require.Error(t, err)
	require.NotErrorIs(t, err, signalr.ErrMaybeApplied, "it was never sent")
	var re *signalr.ResponseError
	require.ErrorAs(t, err, &re, "the refusal is a ResponseError, as over REST")
	require.Equal(t, http.StatusUnauthorized, re.StatusCode)
	require.Contains(t, err.Error(), `audience "https://management.azure.com" is wrong`)
}
