package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// entraToken mints a test issuer token for s with claims over the
// defaults (iss, aud, exp).
func entraToken(t *testing.T, s *emulator.Server, claims jwt.MapClaims) string {
	t.Helper()
	key, issuer := s.Emulator.IdentityIssuerKey()
	require.NotNil(t, key)
	all := jwt.MapClaims{"iss": issuer, "aud": emulator.EntraAudience, "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(all, k)
		} else {
			all[k] = v
		}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, all).SignedString(key)
	require.NoError(t, err)
	return tok
}

func readKey(t *testing.T, resp *http.Response) (kid, key string) {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct{ KeyId, AccessKey string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotEmpty(t, body.KeyId)
	require.NotEmpty(t, body.AccessKey)
	return body.KeyId, body.AccessKey
}

func TestIdentityMode(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{Identity: &emulator.IdentityOptions{}})
	require.True(t, s.Emulator.IdentityMode())
	assert.Contains(t, (&emulator.Options{Identity: &emulator.IdentityOptions{}}).String(), "Identity: true")

	// The access key is handed out to Entra callers only.
	wantStatus(t, rest(t, s, http.MethodGet, "/api/v1/auth/accessKey", ""), 403, "Error.Forbidden")
	entra := entraToken(t, s, nil)
	kid, key := readKey(t, restWithToken(t, s, http.MethodGet, "/api/v1/auth/accessKey", "", entra))
	kid2, _ := readKey(t, restWithToken(t, s, http.MethodGet, "/api/auth/accessKey?api-version=2024-12-01", "", entra))
	assert.Equal(t, kid, kid2)

	// Entra tokens open the REST API; the access key keeps working.
	wantStatus(t, restWithToken(t, s, http.MethodPost, "/api/hubs/chat/:send?api-version=2022-06-01", sendBody("t", "a"), entra), 202, "")
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:send?api-version=2022-06-01", sendBody("t", "a")), 202, "")

	// Bad Entra tokens: 401 with the reason.
	for name, tt := range map[string]struct {
		claims jwt.MapClaims
		says   string
	}{
		"expired":        {jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}, "Microsoft Entra token has expired"},
		"wrong audience": {jwt.MapClaims{"aud": "https://storage.azure.com"}, `audience "https://storage.azure.com" is wrong`},
		"wrong issuer":   {jwt.MapClaims{"iss": "https://evil.example"}, `issuer "https://evil.example" is not trusted`},
		"no exp":         {jwt.MapClaims{"exp": nil}, "no exp claim"},
	} {
		resp := restWithToken(t, s, http.MethodPost, "/api/hubs/chat/:send?api-version=2022-06-01", sendBody("t", "a"), entraToken(t, s, tt.claims))
		var body struct{ Code, Message string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		assert.Equal(t, 401, resp.StatusCode, name)
		assert.Equal(t, "Error.Unauthorized", body.Code)
		assert.Contains(t, body.Message, tt.says, name)
		// The access key route's errors have no body (the swagger gives
		// none); the reason is in WWW-Authenticate.
		resp = restWithToken(t, s, http.MethodGet, "/api/v1/auth/accessKey", "", entraToken(t, s, tt.claims))
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, 401, resp.StatusCode, name)
		assert.Empty(t, string(data), name)
		assert.Equal(t, "Error.Unauthorized", resp.Header.Get("x-ms-error-code"), name)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), strconv.Quote(tt.says)[1:len(strconv.Quote(tt.says))-1], name)
	}
	// An Entra token is not a client token.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub=chat&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+entra)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)

	// Client tokens by kid, through rotations: the current and the previous
	// key are accepted, older ones refused with the reason.
	sign := func(kid, key string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": clientURL(s, "chat"), "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		out, err := tok.SignedString([]byte(key))
		require.NoError(t, err)
		return out
	}
	first := sign(kid, key)
	negotiate(t, s, "chat", first, 1)
	rotated := s.Emulator.RotateAccessKey()
	kid3, key3 := readKey(t, restWithToken(t, s, http.MethodGet, "/api/v1/auth/accessKey", "", entra))
	assert.Equal(t, rotated, kid3)
	assert.NotEqual(t, kid, kid3)
	negotiate(t, s, "chat", first, 1)
	negotiate(t, s, "chat", sign(kid3, key3), 1)
	s.Emulator.RotateAccessKey()
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub=chat&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+first)
	resp, err = httpClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Contains(t, string(body), "rotated out")
	negotiate(t, s, "chat", sign(kid3, key3), 1)
}

// Without identity mode, Entra-style tokens are refused and the access
// key still fetches the signing key, as before.
func TestIdentityModeOff(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	assert.False(t, s.Emulator.IdentityMode())
	key, _ := s.Emulator.IdentityIssuerKey()
	assert.Nil(t, key)
	readKey(t, rest(t, s, http.MethodGet, "/api/v1/auth/accessKey", ""))

	other := newServer(t, &emulator.Options{Identity: &emulator.IdentityOptions{}})
	wantStatus(t, restWithToken(t, s, http.MethodGet, "/api/v1/auth/accessKey", "", entraToken(t, other, nil)), 401, "Error.Unauthorized")
}
