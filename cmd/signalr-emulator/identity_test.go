package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// -identity-key generates the issuer key when missing, reuses it after,
// and the emulator trusts tokens signed with it.
func TestIdentityKeyFlag(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "issuer.pem")
	r := start(t, "-identity-key", path)
	assert.Contains(t, r.stderr.String(), "identity mode")
	key, created, err := emulator.LoadIssuerKey(path, false)
	require.NoError(t, err)
	assert.False(t, created)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	call := func(k any, iss string) int {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"iss": iss, "aud": emulator.EntraAudience, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString(k)
		require.NoError(t, err)
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+r.port+"/api/v1/auth/accessKey", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, call(key, emulator.DefaultIdentityIssuer))
	assert.Equal(t, http.StatusForbidden, r.get(t, "/api/v1/auth/accessKey", r.key), "access-key callers do not get the key")

	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("nope"), 0o600))
	err = run(t.Context(), []string{"-port", "0", "-identity-key", bad}, &syncBuffer{}, &syncBuffer{})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "-identity-key:"), err.Error())
}
