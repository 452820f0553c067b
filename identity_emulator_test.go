package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// movableClock is a clock the test moves forward by hand.
type movableClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *movableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// identityEmulator starts an emulator in identity mode and returns it with
// its identity connection string.
func identityEmulator(t *testing.T) (*emulator.Server, *signalr.ConnectionString) {
	t.Helper()
	emu := signalrtest.NewEmulator(t, &emulator.Options{Identity: &emulator.IdentityOptions{}})
	cs, err := signalr.ParseConnectionString(strings.Replace(emu.ConnectionString(), "AccessKey="+emu.Emulator.AccessKey(), "AuthType=azure.msi", 1))
	require.NoError(t, err)
	require.True(t, cs.IdentityBased())
	return emu, cs
}

// tokenKid returns the kid header of a JWT, unverified.
func tokenKid(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	require.NoError(t, err)
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// receiver is a raw SignalR JSON client that collects the targets and
// first arguments of the invocations it receives.
type receiver struct {
	ws       *websocket.Conn
	messages chan string
	done     chan struct{}
}

// connect negotiates with info and opens the WebSocket; it returns the
// negotiate status and, on 200, the connected receiver.
func connect(t testing.TB, info signalr.ConnectionInfo) (int, string, *receiver) {
	t.Helper()
	base, query, _ := strings.Cut(info.URL, "?")
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/negotiate?"+query+"&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+info.AccessToken)
	resp, err := wsHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	var n struct{ ConnectionToken string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&n))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(info.URL, "http")+"&id="+url.QueryEscape(n.ConnectionToken),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + info.AccessToken}}, HTTPClient: wsHTTP})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")))
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "{}\x1e", string(data))
	r := &receiver{ws: ws, messages: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			for _, rec := range bytes.Split(bytes.TrimSuffix(data, []byte{0x1e}), []byte{0x1e}) {
				var m struct {
					Type      int
					Target    string
					Arguments []json.RawMessage
				}
				if json.Unmarshal(rec, &m) == nil && m.Type == 1 && len(m.Arguments) > 0 {
					r.messages <- m.Target + ":" + string(m.Arguments[0])
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-r.done
	})
	return http.StatusOK, "", r
}

func (r *receiver) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-r.messages:
		return m
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no message arrived")
		return ""
	}
}

// TestIdentityThroughEmulator: with only a credential (no key in the
// app), negotiate hands out a kid-signed token the client connects with,
// REST sends and group actions reach it, the credential is called once
// per token lifetime, and a rotated key is picked up at the renewal.
func TestIdentityThroughEmulator(t *testing.T) {
	t.Parallel()
	emu, cs := identityEmulator(t)
	clock := &movableClock{}
	// The credential keeps the wall clock (the emulator checks its tokens
	// by it) and mints three-hour tokens, so that the client's clock can
	// move through a key renewal inside one token's lifetime.
	cred, err := signalrtest.NewCredential(emu.Emulator, &signalrtest.CredentialOptions{Lifetime: 3 * time.Hour})
	require.NoError(t, err)
	client, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred, Now: clock.Now, APIVersion: signalr.APIVersion20241201})
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	ctx := context.Background()

	info, err := client.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "alice"})
	require.NoError(t, err)
	firstKid := tokenKid(t, info.AccessToken)
	require.NotEmpty(t, firstKid, "the client token names the fetched key")
	status, body, alice := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)

	require.NoError(t, client.SendMessage(ctx, "chat", signalr.Message{Target: "direct", UserID: "alice", Arguments: []any{"hi alice"}}, nil))
	assert.Equal(t, `direct:"hi alice"`, alice.next(t))
	require.NoError(t, client.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "alice", GroupName: "room"}, nil))
	assert.Equal(t, []string{"room"}, emu.Emulator.Snapshot("chat").UserGroups["alice"])
	require.NoError(t, client.SendMessage(ctx, "chat", signalr.Message{Target: "room", GroupName: "room", Arguments: []any{1}}, nil))
	assert.Equal(t, "room:1", alice.next(t))
	in, err := client.UserInGroup(ctx, "chat", "room", "alice", nil)
	require.NoError(t, err)
	assert.True(t, in)
	require.NoError(t, client.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionRemove, UserID: "alice", GroupName: "room"}, nil))
	assert.Empty(t, emu.Emulator.Snapshot("chat").UserGroups["alice"])
	require.NoError(t, client.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{"everyone"}}, nil))
	assert.Equal(t, `all:"everyone"`, alice.next(t))
	for i := 0; i < 5; i++ {
		info, err = client.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "bob"})
		require.NoError(t, err)
		assert.Equal(t, firstKid, tokenKid(t, info.AccessToken))
	}
	assert.Equal(t, 1, cred.Calls(), "one Entra token for the key fetch, six REST calls and six tokens")
	assert.Equal(t, []string{signalr.EntraScope}, cred.Scopes())

	// The service rotates its key; the app keeps its key (still valid)
	// until the 55-minute renewal, then signs with the new one.
	newKid := emu.Emulator.RotateAccessKey()
	info, err = client.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "carol"})
	require.NoError(t, err)
	assert.Equal(t, firstKid, tokenKid(t, info.AccessToken))
	status, body, _ = connect(t, info)
	assert.Equal(t, http.StatusOK, status, "the key just rotated out is still accepted: %s", body)
	oldInfo := info

	clock.Add(55 * time.Minute) // the SDKs' key refresh age
	info, err = client.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "dave"})
	require.NoError(t, err)
	assert.Equal(t, newKid, tokenKid(t, info.AccessToken), "the rotated key is picked up")
	status, body, dave := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, client.SendMessage(ctx, "chat", signalr.Message{Target: "direct", UserID: "dave", Arguments: []any{"hi dave"}}, nil))
	assert.Equal(t, `direct:"hi dave"`, dave.next(t))
	assert.Equal(t, 1, cred.Calls(), "the key was renewed with the Entra token in hand")

	// Two rotations on, the first key is gone: a token signed with it is
	// refused and the reason says so.
	emu.Emulator.RotateAccessKey()
	status, body, _ = connect(t, oldInfo)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, "rotated out")

	// Minted by the service instead (:generateToken): no key in the app.
	minting, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred, ClientTokensFromService: true, APIVersion: signalr.APIVersion20241201})
	require.NoError(t, err)
	defer minting.CloseIdleConnections()
	info, err = minting.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "gina"})
	require.NoError(t, err)
	assert.Empty(t, tokenKid(t, info.AccessToken), "the service signs with its access key, no kid")
	status, body, gina := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, client.SendMessage(ctx, "chat", signalr.Message{Target: "direct", UserID: "gina", Arguments: []any{"minted"}}, nil))
	assert.Equal(t, `direct:"minted"`, gina.next(t))
	callsBefore := cred.Calls()

	// Within five minutes of the token's expiry, it is renewed: once.
	clock.Add(2 * time.Hour)
	require.NoError(t, client.SendMessage(ctx, "chat", signalr.Message{Target: "direct", UserID: "dave", Arguments: []any{"later"}}, nil))
	assert.Equal(t, `direct:"later"`, dave.next(t))
	assert.Equal(t, callsBefore+1, cred.Calls(), "the Entra token is renewed near its expiry, not per request")
}

// TestIdentityEmulatorRefusesBadEntraTokens: an expired or wrong-audience
// Microsoft Entra token is refused with 401 and a reason naming the
// problem; the access key keeps working beside identity mode.
func TestIdentityEmulatorRefusesBadEntraTokens(t *testing.T) {
	t.Parallel()
	emu, cs := identityEmulator(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		opts signalrtest.CredentialOptions
		says string
	}{
		{"expired", signalrtest.CredentialOptions{Lifetime: -time.Minute}, "Microsoft Entra token has expired"},
		{"wrong audience", signalrtest.CredentialOptions{Audience: "https://management.azure.com"}, `audience "https://management.azure.com" is wrong; want https://signalr.azure.com`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := signalrtest.NewCredential(emu.Emulator, &tt.opts)
			require.NoError(t, err)
			client, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred})
			require.NoError(t, err)
			defer client.CloseIdleConnections()

			err = client.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: []any{1}}, nil)
			var re *signalr.ResponseError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
			assert.Contains(t, err.Error(), tt.says)

			_, err = client.ConnectionInfo(ctx, "chat", nil)
			require.ErrorIs(t, err, signalr.ErrNoAccessKey)
			require.ErrorAs(t, err, &re)
			assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
			assert.Contains(t, err.Error(), tt.says)
			assert.Contains(t, err.Error(), "SignalR App Server")
		})
	}

	// A token from another issuer key is refused too.
	other := signalrtest.NewEmulator(t, &emulator.Options{Identity: &emulator.IdentityOptions{}})
	stranger, err := signalrtest.NewCredential(other.Emulator, nil)
	require.NoError(t, err)
	client, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: stranger})
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	err = client.SendMessage(ctx, "chat", signalr.Message{Target: "t", Arguments: []any{1}}, nil)
	assert.ErrorContains(t, err, "signature does not verify")

	// The emulator's access key still works, for REST and client tokens.
	keyCS, err := signalr.ParseConnectionString(emu.ConnectionString())
	require.NoError(t, err)
	keyClient, err := signalr.NewClient(keyCS, nil)
	require.NoError(t, err)
	defer keyClient.CloseIdleConnections()
	info, err := keyClient.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "erin"})
	require.NoError(t, err)
	status, body, erin := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, keyClient.SendMessage(ctx, "chat", signalr.Message{Target: "direct", UserID: "erin", Arguments: []any{"key"}}, nil))
	assert.Equal(t, `direct:"key"`, erin.next(t))

	// Without identity mode there is nothing to mint with.
	plain := signalrtest.NewEmulator(t, nil)
	_, err = signalrtest.NewCredential(plain.Emulator, nil)
	assert.ErrorContains(t, err, "not in identity mode")
}

// TestIdentityNegotiateThroughBindings: a negotiate handler bound to an
// identity connection string through a Client with a credential, and an output
// binding sharing its Client, work against the emulator.
func TestIdentityNegotiateThroughBindings(t *testing.T) {
	t.Parallel()
	emu, cs := identityEmulator(t)
	cred, err := signalrtest.NewCredential(emu.Emulator, nil)
	require.NoError(t, err)
	shared, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred})
	require.NoError(t, err)
	defer shared.CloseIdleConnections()
	opts := &signalr.BindOptions{Client: shared}
	in, err := signalr.ConnectionInfoBinding{HubName: "chat", UserID: "{query.userId}"}.Bind(opts)
	require.NoError(t, err)
	out, err := signalr.OutputBinding{HubName: "chat"}.Bind(opts, nil)
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	signalr.NegotiateHandler(in).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate?userId=frank", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var info signalr.ConnectionInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
	status, body, frank := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)
	col := out.NewCollector()
	require.NoError(t, col.AddMessage(signalr.Message{Target: "direct", UserID: "frank", Arguments: []any{"bound"}}))
	require.NoError(t, col.Flush(context.Background()))
	assert.Equal(t, `direct:"bound"`, frank.next(t))
	assert.Equal(t, 1, cred.Calls())

	// The upstream of an identity endpoint cannot check signatures (the
	// app holds no key), so, as in the Functions extension, it does not.
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: opts})
	require.NoError(t, err)
	ran := false
	require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo"},
		func(context.Context, *signalr.InvocationContext) (any, error) { ran = true; return nil, nil }))
	rec = httptest.NewRecorder()
	up.ServeHTTP(rec, signalrtest.UpstreamRequests{AccessKeys: []string{}}.Send("echo"))
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.True(t, ran)
}
