package signalrtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

func TestCredentialMintsWhatTheEmulatorTrusts(t *testing.T) {
	t.Parallel()
	emu := signalrtest.NewEmulator(t, &emulator.Options{Identity: &emulator.IdentityOptions{}})
	now := time.Unix(1_800_000_000, 0)
	cred, err := signalrtest.NewCredential(emu.Emulator, &signalrtest.CredentialOptions{Now: func() time.Time { return now }})
	require.NoError(t, err)
	ctx := context.Background()

	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://signalr.azure.com/.default"}})
	require.NoError(t, err)
	assert.Equal(t, now.Add(signalrtest.DefaultCredentialLifetime), tok.ExpiresOn)
	key, issuer := emu.Emulator.IdentityIssuerKey()
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok.Token, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())
	require.NoError(t, err)
	assert.Equal(t, issuer, claims["iss"])
	assert.Equal(t, emulator.EntraAudience, claims["aud"])
	assert.Equal(t, float64(now.Add(time.Hour).Unix()), claims["exp"])
	assert.Equal(t, 1, cred.Calls())
	assert.Equal(t, []string{"https://signalr.azure.com/.default"}, cred.Scopes())

	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{})
	assert.ErrorContains(t, err, "want one scope")
	cred.Fail(errors.New("identity endpoint unreachable"))
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://signalr.azure.com/.default"}})
	assert.ErrorContains(t, err, "identity endpoint unreachable")
	assert.Equal(t, 3, cred.Calls(), "failed calls count too")
	assert.NotContains(t, cred.String(), "PRIVATE")

	_, err = signalrtest.NewCredential(nil, nil)
	assert.Error(t, err)
}
