package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// chatAt is a chatEnv for a chat started by run.
func chatAt(t *testing.T, r *running) *chatEnv {
	return &chatEnv{t: t, srv: &httptest.Server{URL: strings.TrimSuffix(r.url, "/")}}
}

// negotiatedKid negotiates as user and returns the kid of the token.
func negotiatedKid(t *testing.T, env *chatEnv, user string) string {
	t.Helper()
	status, data := env.call("POST", "/api/negotiate?userId="+user, "", nil)
	require.Equal(t, http.StatusOK, status, "negotiate = %d %s", status, data)
	var info signalr.ConnectionInfo
	require.NoError(t, json.Unmarshal(data, &info))
	tok, _, err := jwt.NewParser().ParseUnverified(info.AccessToken, jwt.MapClaims{})
	require.NoError(t, err)
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// -identity: the embedded emulator in identity mode, the app with
// AuthType=azure.msi and a credential, no access key; the chat works as
// with a key.
func TestRunIdentityEmbeddedEmulator(t *testing.T) {
	unsetConnectionString(t)
	r := start(t, "-identity", "-signalr-js", fakeSignalRJS(t))
	require.Contains(t, r.stdout.String(), "embedded SignalR emulator at http://127.0.0.1:")
	require.Contains(t, r.stdout.String(), "Microsoft Entra ID: AuthType=azure.msi")
	env := chatAt(t, r)
	require.True(t, strings.HasPrefix(negotiatedKid(t, env, "carol"), "emulator-"), "the client token names the fetched key")

	alice, bob := env.connect("alice", false), env.connect("bob", true)
	env.mustCall("POST", "/api/messages", `{"text":"hi all"}`, http.StatusNoContent)
	alice.want(`{"text":"hi all"}`)
	bob.want(`{"text":"hi all"}`)
	env.mustCall("PUT", "/api/groups/g1/users/bob", "", http.StatusNoContent)
	env.mustCall("POST", "/api/groups/g1/messages", `{"text":"g1 only"}`, http.StatusNoContent)
	bob.want(`{"text":"g1 only"}`)
	env.mustCall("POST", "/api/users/alice/messages", `{"text":"to alice"}`, http.StatusNoContent)
	alice.want(`{"text":"to alice"}`)
	alice.answerGoodbye()
	bob.answerGoodbye()
	require.NoError(t, r.stop())
}

// An identity connection string pointing at a signalr-emulator started
// with -identity-key, and the same key given to the chat.
func TestRunIdentityKeyWithExternalEmulator(t *testing.T) {
	unsetConnectionString(t)
	path := filepath.Join(t.TempDir(), "issuer.pem")
	key, created, err := emulator.LoadIssuerKey(path, true)
	require.NoError(t, err)
	require.True(t, created)
	emu := signalrtest.NewEmulator(t, &emulator.Options{Identity: &emulator.IdentityOptions{IssuerKey: key}})
	cs := strings.Replace(emu.ConnectionString(), "AccessKey="+emu.Emulator.AccessKey(), "AuthType=azure.msi", 1)
	t.Setenv(signalr.DefaultConnectionStringSetting, cs)

	r := start(t, "-identity-key", path, "-signalr-js", fakeSignalRJS(t))
	require.Contains(t, r.stdout.String(), "using the SignalR Service at "+emu.URL+" (from AzureSignalRConnectionString, Microsoft Entra ID: AuthType=azure.msi)")
	env := chatAt(t, r)
	require.NotEmpty(t, negotiatedKid(t, env, "dave"))
	dave := env.connect("dave", false)
	env.mustCall("POST", "/api/messages", `{"text":"via identity"}`, http.StatusNoContent)
	dave.want(`{"text":"via identity"}`)

	// A key from another issuer is refused by the service: the chat says
	// so instead of failing silently.
	other := filepath.Join(t.TempDir(), "other.pem")
	_, _, err = emulator.LoadIssuerKey(other, true)
	require.NoError(t, err)
	r2 := start(t, "-identity-key", other, "-signalr-js", fakeSignalRJS(t))
	status, data := call(t, "POST", r2.url+"api/negotiate?userId=erin", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, status, "%s", data)
	require.Contains(t, string(data), "signature does not verify")
}

func TestParseFlagsIdentity(t *testing.T) {
	t.Parallel()
	_, err := parseFlags([]string{"-identity", "-identity-key", "k.pem"}, func(string) string { return "" }, io.Discard)
	require.ErrorContains(t, err, "exclude each other")
	o, err := parseFlags([]string{"-identity"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	require.True(t, o.identity)
}

func TestRunIdentityWithConnectionStringIsAnError(t *testing.T) {
	t.Setenv(signalr.DefaultConnectionStringSetting, "Endpoint=http://127.0.0.1;Port=1;AccessKey=0123456789abcdef0123456789abcdef")
	opts, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-identity", "-signalr-js", fakeSignalRJS(t)}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	err = run(t.Context(), opts, io.Discard, io.Discard)
	require.ErrorContains(t, err, "-identity runs the embedded emulator")
	require.NotContains(t, err.Error(), "0123456789abcdef")
}
