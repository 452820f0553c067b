package signalr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const emulatorCS = "Endpoint=http://localhost;Port=8888;AccessKey=" + testKey + ";Version=1.0;"

func mapSettings(m map[string]string) Settings {
	return SettingsFunc(func(name string) (string, bool) { v, ok := m[name]; return v, ok })
}

func request(target string, headers map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

func TestBindingExpressions(t *testing.T) {
	t.Parallel()
	settings := mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS, "HubSetting": "lobby"})
	tests := []struct {
		name    string
		binding ConnectionInfoBinding
		req     *http.Request
		url     string
		user    string
		missing *BindingDataError
	}{
		{"literal", ConnectionInfoBinding{HubName: "chat", UserID: "fixed"}, request("/api/negotiate", nil), "http://localhost:8888/client/?hub=chat", "fixed", nil},
		{"header", ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-ms-client-principal-id}"},
			request("/", map[string]string{"X-MS-CLIENT-PRINCIPAL-ID": "aad|123"}), "http://localhost:8888/client/?hub=chat", "aad|123", nil},
		{"query", ConnectionInfoBinding{HubName: "chat", UserID: "{query.userId}"}, request("/?userId=bob", nil), "http://localhost:8888/client/?hub=chat", "bob", nil},
		{"source name in any case", ConnectionInfoBinding{HubName: "chat", UserID: "{Headers.X-User}"}, request("/", map[string]string{"x-user": "eve"}), "http://localhost:8888/client/?hub=chat", "eve", nil},
		{"mixed with literal text", ConnectionInfoBinding{HubName: "chat", UserID: "tenant-{query.tenant}/{headers.x-user}!"},
			request("/?tenant=t1", map[string]string{"X-User": "ann"}), "http://localhost:8888/client/?hub=chat", "tenant-t1/ann!", nil},
		{"hub from query", ConnectionInfoBinding{HubName: "{query.hub}"}, request("/?hub=Room1", nil), "http://localhost:8888/client/?hub=room1", "", nil},
		{"hub from app setting", ConnectionInfoBinding{HubName: "%HubSetting%"}, request("/", nil), "http://localhost:8888/client/?hub=lobby", "", nil},
		{"missing header", ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-ms-client-principal-id}"}, request("/", nil), "", "",
			&BindingDataError{Field: "userId", Source: "headers", Name: "X-Ms-Client-Principal-Id"}},
		{"empty header counts as missing", ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-user}"}, request("/", map[string]string{"X-User": ""}), "", "",
			&BindingDataError{Field: "userId", Source: "headers", Name: "X-User"}},
		{"missing query in mixed text", ConnectionInfoBinding{HubName: "chat", UserID: "u-{query.id}"}, request("/", nil), "", "",
			&BindingDataError{Field: "userId", Source: "query", Name: "id"}},
		{"missing hub", ConnectionInfoBinding{HubName: "{query.hub}"}, request("/", nil), "", "",
			&BindingDataError{Field: "hubName", Source: "query", Name: "hub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := tt.binding.bindAt(&BindOptions{Settings: settings}, fixedClock)
			require.NoError(t, err)
			info, err := in.Resolve(tt.req)
			if tt.missing != nil {
				var got *BindingDataError
				require.ErrorAs(t, err, &got)
				assert.Equal(t, tt.missing, got)
				assert.ErrorIs(t, err, ErrMissingBindingData)
				assert.Empty(t, info.AccessToken, "no token may be minted when a value is missing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.url, info.URL)
			claims := verify(t, info.AccessToken, testKey, tt.url, fixedNow)
			if tt.user == "" {
				assert.NotContains(t, claims, "asrs.s.uid")
			} else {
				assert.Equal(t, tt.user, claims["asrs.s.uid"])
				assert.Equal(t, tt.user, claims["nameid"])
			}
		})
	}
}

func TestBindErrors(t *testing.T) {
	t.Parallel()
	settings := mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS, "Bad": "Endpoint=https://x"})
	tests := []struct {
		name    string
		binding ConnectionInfoBinding
		target  error
		says    string
	}{
		{"no hub", ConnectionInfoBinding{}, ErrInvalidBinding, "hubName is required"},
		{"bad literal hub", ConnectionInfoBinding{HubName: "1chat"}, ErrInvalidHubName, "hubName"},
		{"unclosed brace", ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x"}, ErrInvalidBinding, "never closed"},
		{"stray brace", ConnectionInfoBinding{HubName: "chat", UserID: "a}b"}, ErrInvalidBinding, "'}'"},
		{"unsupported source", ConnectionInfoBinding{HubName: "chat", UserID: "{body.user}"}, ErrInvalidBinding, "{body.user}"},
		{"no name", ConnectionInfoBinding{HubName: "chat", UserID: "{headers.}"}, ErrInvalidBinding, "only {headers.NAME}"},
		{"unknown app setting", ConnectionInfoBinding{HubName: "%Nope%"}, ErrMissingSetting, "%Nope%"},
		{"unclosed app setting", ConnectionInfoBinding{HubName: "%Nope"}, ErrInvalidBinding, "no closing"},
		{"claim list without token", ConnectionInfoBinding{HubName: "chat", ClaimTypeList: []string{"name"}}, ErrInvalidBinding, "idToken is not"},
		{"token without claim list", ConnectionInfoBinding{HubName: "chat", IDToken: "{headers.authorization}"}, ErrInvalidBinding, "claimTypeList is empty"},
		{"missing setting", ConnectionInfoBinding{HubName: "chat", ConnectionStringSetting: "MySignalR"}, ErrMissingSetting, "MySignalR is not set; set the environment variable MySignalR"},
		// The hint works outside this repository: it names the module path.
		{"missing setting hint", ConnectionInfoBinding{HubName: "chat", ConnectionStringSetting: "MySignalR"}, ErrMissingSetting, "go run github.com/funcsignalr/signalr/cmd/signalr-emulator@latest"},
		{"bad connection string", ConnectionInfoBinding{HubName: "chat", ConnectionStringSetting: "Bad"}, ErrInvalidConnectionString, "setting Bad: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.binding.Bind(&BindOptions{Settings: settings})
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.target)
			assert.Contains(t, err.Error(), tt.says)
		})
	}
}

func TestBindReadsEnvironmentThenLocalSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	b := ConnectionInfoBinding{HubName: "chat", ConnectionStringSetting: "SignalRForTest"}

	_, err := b.Bind(nil)
	require.ErrorIs(t, err, ErrMissingSetting)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "local.settings.json"),
		[]byte(`{"IsEncrypted":false,"Values":{"signalrfortest":"Endpoint=https://from-file;AccessKey=k"}}`), 0o644))
	in, err := b.Bind(nil)
	require.NoError(t, err)
	assert.Equal(t, "https://from-file", in.cs.Endpoint())

	t.Setenv("SignalRForTest", "")
	in, err = b.Bind(nil)
	require.NoError(t, err)
	assert.Equal(t, "https://from-file", in.cs.Endpoint(), "an empty variable counts as unset")

	t.Setenv("SignalRForTest", "Endpoint=https://from-env;AccessKey=k")
	in, err = b.Bind(nil)
	require.NoError(t, err)
	assert.Equal(t, "https://from-env", in.cs.Endpoint(), "the environment wins over local.settings.json")
}

func TestBrokenLocalSettingsIsReported(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local.settings.json"), []byte(`{"Values": {"AzureSignalRConnectionString": "Endpoint=`), 0o644))
	_, err := ConnectionInfoBinding{HubName: "chat"}.Bind(nil)
	require.ErrorIs(t, err, ErrMissingSetting)
	assert.Contains(t, err.Error(), "local.settings.json could not be read")
	assert.Contains(t, err.Error(), "not a valid local.settings.json")
}

func TestLocalSettingsConnectionStringsSection(t *testing.T) {
	t.Parallel()
	s := &LocalSettings{ConnectionStrings: map[string]string{"AzureSignalRConnectionString": "cs"}}
	in := ChainSettings(nil, s)
	v, ok := in.LookupSetting("ConnectionStrings:AzureSignalRConnectionString")
	assert.False(t, ok, v)
	v, ok = in.LookupSetting("azuresignalrconnectionstring")
	assert.True(t, ok)
	assert.Equal(t, "cs", v)

	_, err := LoadLocalSettings(filepath.Join(t.TempDir(), "missing.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestEnvSettingsDoubleUnderscore(t *testing.T) {
	t.Setenv("Section__Key", "v")
	v, ok := EnvSettings().LookupSetting("Section:Key")
	assert.True(t, ok)
	assert.Equal(t, "v", v)
}

func fakeIDToken(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".sig"
}

func TestIDTokenClaims(t *testing.T) {
	t.Parallel()
	settings := mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})
	in, err := ConnectionInfoBinding{
		HubName: "chat", UserID: "{headers.x-user}", IDToken: "{headers.authorization}",
		ClaimTypeList: []string{"name", "roles", "missing", "Email"},
	}.bindAt(&BindOptions{Settings: settings}, fixedClock)
	require.NoError(t, err)

	idToken := fakeIDToken(`{"name":"Alice","roles":["a","b"],"email":"a@x","exp":1,"aud":"app"}`)
	info, err := in.Resolve(request("/", map[string]string{"X-User": "alice", "Authorization": "Bearer " + idToken}))
	require.NoError(t, err)
	claims := verify(t, info.AccessToken, testKey, info.URL, fixedNow)
	assert.Equal(t, "Alice", claims["name"])
	assert.Equal(t, []any{"a", "b"}, claims["roles"])
	assert.NotContains(t, claims, "email", "claim types match case-sensitively")
	assert.NotContains(t, claims, "missing")
	assert.Equal(t, "alice", claims["asrs.s.uid"])

	_, err = in.Resolve(request("/", map[string]string{"X-User": "alice", "Authorization": "not-a-jwt"}))
	assert.ErrorIs(t, err, ErrInvalidClaim)
	_, err = in.Resolve(request("/", map[string]string{"X-User": "alice", "Authorization": "a.%%%.c"}))
	assert.ErrorIs(t, err, ErrInvalidClaim)
	_, err = in.Resolve(request("/", map[string]string{"X-User": "alice", "Authorization": fakeIDToken(`[1]`)}))
	assert.ErrorIs(t, err, ErrInvalidClaim)
	_, err = in.Resolve(request("/", map[string]string{"X-User": "alice"}))
	assert.ErrorIs(t, err, ErrMissingBindingData)
}

func FuzzBindingExpression(f *testing.F) {
	for _, s := range []string{"{headers.x-ms-client-principal-id}", "a{query.b}c{headers.d}", "{", "}", "%x%", "{headers.}", "plain"} {
		f.Add(s, "value")
	}
	f.Fuzz(func(t *testing.T, expr, value string) {
		e, err := parseExpression("userId", expr, mapSettings(map[string]string{"x": "X"}))
		if err != nil {
			require.False(t, !errors.Is(err, ErrInvalidBinding) && !errors.Is(err, ErrMissingSetting), "error %v wraps no sentinel", err)
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, p := range e.parts {
			switch p.source {
			case "headers":
				r.Header.Set(p.name, "h")
			case "query":
				q := r.URL.Query()
				q.Set(p.name, "q")
				r.URL.RawQuery = q.Encode()
			}
		}
		if _, err := e.eval(r); err != nil {
			require.FailNow(t, fmt.Sprintf("eval with every reference present: %v", err))
		}
	})
}

// BindOptions.Client is what every binding goes through: an input mints
// with it and reads no setting; it cannot be combined with the options of
// a Client the binding would make.
func TestBindThroughClient(t *testing.T) {
	cs, err := ParseConnectionString(emulatorCS)
	require.NoError(t, err)
	client := mustClient(t, cs, nil)
	noSettings := SettingsFunc(func(name string) (string, bool) {
		t.Errorf("setting %s was read", name)
		return "", false
	})
	in, err := ConnectionInfoBinding{HubName: "chat", UserID: "{query.u}", ConnectionStringSetting: "Unset"}.
		bindAt(&BindOptions{Client: client, Settings: noSettings}, fixedClock)
	require.NoError(t, err)
	info, err := in.Resolve(request("/?u=ann", nil))
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:8888/client/?hub=chat", info.URL)
	claims := verify(t, info.AccessToken, testKey, info.URL, fixedNow)
	assert.Equal(t, "ann", claims["asrs.s.uid"])

	for name, opts := range map[string]*BindOptions{
		"BindOptions.ConnectionString": {Client: client, ConnectionString: cs},
		"BindOptions.ClientOptions":    {Client: client, ClientOptions: &ClientOptions{}},
	} {
		_, err := ConnectionInfoBinding{HubName: "chat"}.Bind(opts)
		require.ErrorIs(t, err, ErrInvalidBinding, name)
		assert.Contains(t, err.Error(), name)
		_, err = OutputBinding{HubName: "chat"}.Bind(opts, nil)
		require.ErrorIs(t, err, ErrInvalidBinding, name)
		up, err := NewUpstream(&UpstreamOptions{Bind: opts})
		require.NoError(t, err)
		err = up.HandleFunc(TriggerBinding{HubName: "chat", Category: "messages", Event: "x"}, func(context.Context, *InvocationContext) (any, error) { return nil, nil })
		require.ErrorIs(t, err, ErrInvalidBinding, name)
	}
	_, err = OutputBinding{HubName: "chat"}.Bind(&BindOptions{Client: &Client{}}, nil)
	assert.ErrorIs(t, err, ErrInvalidBinding)

	// ClientOptions reach the Client a binding makes: a bad one fails Bind.
	_, err = OutputBinding{HubName: "chat"}.Bind(&BindOptions{ConnectionString: cs, ClientOptions: &ClientOptions{AttemptTimeout: -1}}, nil)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "BindOptions.ClientOptions")
}
