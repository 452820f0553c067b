package signalr_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The client methods of a client-results app, declared once.
var (
	getScore = signalr.ClientFunc[string, score]("getScore")
	getName  = signalr.ClientFunc0[string]("getName")
)

type score struct {
	Player string `json:"player"`
	Points int    `json:"points"`
}

// Typed client functions through the emulator's :invoke: the client's
// result decodes into the declared type, and a result of another shape is
// an ErrInvalidResult naming the target.
func TestTypedClientResultsThroughEmulator(t *testing.T) {
	_, cs, c := emulatorClient(t, nil, nil)
	ctx := context.Background()
	conn := dialHub(t, cs, "chat", "u1", func(target string, args []json.RawMessage) (any, string) {
		switch target {
		case "getScore":
			var player string
			_ = json.Unmarshal(args[0], &player)
			return score{Player: player, Points: 7}, ""
		case "getName":
			return "ada", ""
		case "getWrong":
			return map[string]any{"points": "many"}, ""
		}
		return nil, "no handler for " + target
	})
	got, err := getScore.Invoke(ctx, c, "chat", conn.id, "ada", nil)
	require.NoError(t, err)
	assert.Equal(t, score{Player: "ada", Points: 7}, got)
	name, err := getName.Invoke(ctx, c, "chat", conn.id, nil)
	require.NoError(t, err)
	assert.Equal(t, "ada", name)

	_, err = signalr.InvokeResult[score](ctx, c, "chat", conn.id, "getWrong", nil, nil)
	assert.ErrorIs(t, err, signalr.ErrInvalidResult)
	assert.Contains(t, err.Error(), "getWrong returned")
	_, err = signalr.InvokeResult[score](ctx, c, "chat", conn.id, "missing", nil, nil)
	var ie *signalr.InvokeError
	assert.ErrorAs(t, err, &ie)
}

// kickHub closes connections and sends through a *Client.
type kickHub struct{}

func (kickHub) Kick(ctx context.Context, connectionID string) error {
	call := signalr.HubCallFromContext(ctx)
	if err := newMessage.Send(call.Clients().Client(connectionID), "bye"); err != nil {
		return err
	}
	return call.CloseConnection(connectionID, "kicked by "+call.UserID)
}

// HubCall.CloseConnection closes the connection through the Output's
// *Client after what was queued before it was delivered.
func TestHubCloseConnectionThroughEmulator(t *testing.T) {
	emu, cs, c := emulatorClient(t, nil, nil)
	out, err := signalr.NewOutput(c, "chat", nil)
	require.NoError(t, err)
	h, err := signalr.NewHub(kickHub{}, &signalr.HubOptions{Name: "chat", Output: out})
	require.NoError(t, err)
	up := newUpstream(t)
	require.NoError(t, up.HandleHub(h))
	victim := dialHub(t, cs, "chat", "bob", nil)
	require.Len(t, emu.Emulator.Snapshot("chat").Connections, 1)

	comp := complete(t, up, signalrUpstream("admin").Invoke("1", "kick", victim.id))
	require.Empty(t, comp.Error)
	select {
	case <-victim.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
	require.Eventually(t, func() bool { return len(emu.Emulator.Snapshot("chat").Connections) == 0 }, 5*time.Second, 10*time.Millisecond)

	// A connection id the REST API cannot take is the call's error.
	comp = complete(t, up, signalrUpstream("admin").Invoke("2", "kick", ""))
	assert.Contains(t, comp.Error, "connection id is empty")
}

func signalrUpstream(user string) signalrtest.UpstreamRequests {
	return signalrtest.UpstreamRequests{Hub: "chat", ConnectionID: "conn-" + user, UserID: user}
}

// A token from a validated negotiate with every option set connects to
// the emulator, on the hub prefixed with the ApplicationName.
func TestNegotiateOptionsTokenConnects(t *testing.T) {
	emu, cs, _ := emulatorClient(t, nil, nil)
	in, err := signalr.ConnectionInfoBinding{HubName: "chat"}.Bind(&signalr.BindOptions{ConnectionString: cs})
	require.NoError(t, err)
	key := []byte("idp key")
	h, err := signalr.NewNegotiateHandler(in, &signalr.NegotiateOptions{
		Validate:                        signalr.ValidateJWT(func(*jwt.Token) (any, error) { return key, nil }, nil),
		DiagnosticClient:                func(*http.Request) bool { return true },
		EnableDetailedErrors:            true,
		CloseOnAuthenticationExpiration: true,
		TokenLifetime:                   10 * time.Minute,
		ApplicationName:                 "app",
	})
	require.NoError(t, err)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ada", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(key)
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/api/negotiate", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var info signalr.ConnectionInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
	assert.Contains(t, info.URL, "hub=app_chat")
	conn := dialWithInfo(t, info, nil)
	snap := emu.Emulator.Snapshot("app_chat")
	require.Len(t, snap.Connections, 1)
	assert.Equal(t, conn.id, snap.Connections[0].ID)
	assert.Equal(t, "ada", snap.Connections[0].UserID)
}
