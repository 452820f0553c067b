package signalr

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedNow is the clock of the golden tokens: 2026-01-02T03:04:05Z.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

func mustParse(t testing.TB, s string) *ConnectionString {
	t.Helper()
	cs, err := ParseConnectionString(s)
	require.NoError(t, err)
	return cs
}

// verify checks tok with golang-jwt at the fixed clock: HS256 with key, the
// audience, and expiry; it returns the claims.
func verify(t *testing.T, tok, key, aud string, at time.Time) jwt.MapClaims {
	t.Helper()
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(key), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(aud), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return at }))
	require.NoError(t, err)
	return parsed.Claims.(jwt.MapClaims)
}

func TestConnectionInfoGolden(t *testing.T) {
	t.Parallel()
	emulator := mustParse(t, "Endpoint=http://localhost;Port=8888;AccessKey="+testKey+";Version=1.0;")
	azure := mustParse(t, "Endpoint=https://demo.service.signalr.net;AccessKey="+testKey+";Version=1.0;")
	tests := []struct {
		golden string
		cs     *ConnectionString
		hub    string
		opts   ClientTokenOptions
		url    string
		user   string
	}{
		{"anonymous", emulator, "Chat", ClientTokenOptions{}, "http://localhost:8888/client/?hub=chat", ""},
		{"user", azure, "chat", ClientTokenOptions{UserID: "alice@example.com"}, "https://demo.service.signalr.net/client/?hub=chat", "alice@example.com"},
		{"claims", azure, "chat", ClientTokenOptions{UserID: "u1", Lifetime: 10 * time.Minute, Claims: []Claim{
			{"name", "Alice"}, {"role", "admin"}, {"role", "ops"}, {"aud", "evil"}, {"sub", "s1"}, {"sub", "s2"}, {"age", json.Number("42")},
		}}, "https://demo.service.signalr.net/client/?hub=chat", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			tt.opts.Now = fixedClock
			info, err := tt.cs.connectionInfo(tt.hub, &tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.url, info.URL)

			path := filepath.Join("testdata", "tokens", tt.golden+".jwt")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(info.AccessToken+"\n"), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, strings.TrimSpace(string(want)), info.AccessToken, "token differs from %s (run go test -update after an intended change)", path)

			claims := verify(t, info.AccessToken, testKey, tt.url, fixedNow.Add(time.Minute))
			lifetime := tt.opts.Lifetime
			if lifetime == 0 {
				lifetime = time.Hour
			}
			assert.EqualValues(t, fixedNow.Unix(), claims["iat"])
			assert.EqualValues(t, fixedNow.Unix(), claims["nbf"])
			assert.EqualValues(t, fixedNow.Add(lifetime).Unix(), claims["exp"])
			if tt.user == "" {
				assert.NotContains(t, claims, "asrs.s.uid")
				assert.NotContains(t, claims, "nameid")
			} else {
				assert.Equal(t, tt.user, claims["asrs.s.uid"])
				assert.Equal(t, tt.user, claims["nameid"])
			}

			// Expired an instant after exp, rejected by a wrong key.
			_, err = jwt.Parse(info.AccessToken, func(*jwt.Token) (any, error) { return []byte(testKey), nil },
				jwt.WithTimeFunc(func() time.Time { return fixedNow.Add(lifetime + time.Second) }))
			assert.ErrorIs(t, err, jwt.ErrTokenExpired)
			_, err = jwt.Parse(info.AccessToken, func(*jwt.Token) (any, error) { return []byte("another key"), nil },
				jwt.WithTimeFunc(fixedClock))
			assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
		})
	}
}

func TestConnectionInfoCustomClaims(t *testing.T) {
	t.Parallel()
	cs := mustParse(t, "Endpoint=https://demo.service.signalr.net;AccessKey="+testKey)
	info, err := cs.connectionInfo("chat", &ClientTokenOptions{Now: fixedClock, UserID: "u1", Claims: []Claim{
		{"name", "Alice"}, {"role", "admin"}, {"role", []string{"ops", "dev"}}, {"aud", "evil"}, {"exp", 1},
		{"sub", "s1"}, {"sub", "s2"}, {"nonce", "n"},
	}})
	require.NoError(t, err)
	claims := verify(t, info.AccessToken, testKey, info.URL, fixedNow)
	assert.Equal(t, "Alice", claims["name"])
	assert.Equal(t, []any{"admin", "ops", "dev"}, claims["role"])
	assert.Equal(t, "evil", claims["asrs.u.aud"], "a custom aud must be renamed, not override the token's")
	assert.EqualValues(t, 1, claims["asrs.u.exp"])
	assert.Equal(t, "s1", claims["sub"])
	assert.Equal(t, "s2", claims["asrs.u.sub"])
	assert.Equal(t, "n", claims["asrs.u.nonce"])

}

func TestConnectionInfoErrors(t *testing.T) {
	t.Parallel()
	cs := mustParse(t, "Endpoint=https://x;AccessKey=k")
	_, err := cs.connectionInfo("", nil)
	assert.ErrorIs(t, err, ErrInvalidHubName)
	assert.Contains(t, err.Error(), "hub name is empty")
	_, err = cs.connectionInfo("9lives", nil)
	assert.ErrorIs(t, err, ErrInvalidHubName)
	assert.Contains(t, err.Error(), "must start with an ASCII letter")
	_, err = cs.connectionInfo("chat/room", nil)
	assert.ErrorIs(t, err, ErrInvalidHubName)
	assert.Contains(t, err.Error(), `contains '/'`)
	_, err = cs.connectionInfo(strings.Repeat("h", 129), nil)
	assert.ErrorIs(t, err, ErrInvalidHubName)
	_, err = cs.connectionInfo("h"+strings.Repeat("_`,.[]9", 18), nil)
	assert.NoError(t, err, "every character the pattern allows, 127 after the first")

	_, err = cs.connectionInfo("chat", &ClientTokenOptions{Claims: []Claim{{"big", strings.Repeat("x", 4000)}}})
	assert.ErrorIs(t, err, ErrTokenTooLong)
	_, err = cs.connectionInfo("chat", &ClientTokenOptions{Claims: []Claim{{"asrs.s.uid", "root"}}})
	assert.ErrorIs(t, err, ErrInvalidClaim)
	_, err = cs.connectionInfo("chat", &ClientTokenOptions{Claims: []Claim{{"", "x"}}})
	assert.ErrorIs(t, err, ErrInvalidClaim)
	_, err = cs.connectionInfo("chat", &ClientTokenOptions{Claims: []Claim{{"f", func() {}}}})
	assert.ErrorIs(t, err, ErrInvalidClaim)
	_, err = cs.connectionInfo("chat", &ClientTokenOptions{Lifetime: -time.Second})
	assert.ErrorIs(t, err, ErrInvalidArgument, "a lifetime is configuration, not a claim")
}

func TestConnectionInfoJSONAndString(t *testing.T) {
	t.Parallel()
	cs := mustParse(t, "Endpoint=https://x;AccessKey="+testKey)
	info, err := cs.connectionInfo("chat", &ClientTokenOptions{UserID: "u"})
	require.NoError(t, err)
	b, err := json.Marshal(info)
	require.NoError(t, err)
	assert.JSONEq(t, `{"url":"https://x/client/?hub=chat","accessToken":"`+info.AccessToken+`"}`, string(b))
	assert.True(t, strings.HasPrefix(string(b), `{"url":`), "field order url, accessToken")
	for _, s := range []string{info.String(), info.GoString()} {
		assert.NotContains(t, s, info.AccessToken)
		assert.Contains(t, s, "https://x/client/?hub=chat")
	}
}

func TestServerToken(t *testing.T) {
	t.Parallel()
	cs := mustParse(t, "Endpoint=https://x;AccessKey="+testKey)
	aud := "https://x/api/hubs/chat/:send"
	tok, err := cs.serverToken(aud, fixedNow)
	require.NoError(t, err)
	claims := verify(t, tok, testKey, aud, fixedNow.Add(4*time.Minute))
	assert.EqualValues(t, fixedNow.Add(5*time.Minute).Unix(), claims["exp"])
}
