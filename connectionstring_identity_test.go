package signalr

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testClientSecret = "Sup3r~Secret.Value_0123456789"

func TestParseIdentityConnectionStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		in                           string
		auth                         AuthType
		clientID, tenantID, certPath string
		secret                       string
		str                          string
	}{
		{"default chain", "Endpoint=https://x.service.signalr.net;AuthType=azure;Version=1.0;", AuthTypeAzure, "", "", "", "",
			"Endpoint=https://x.service.signalr.net;AuthType=azure;Version=1.0;"},
		{"system managed identity", "Endpoint=https://x;AuthType=azure.msi", AuthTypeAzureMSI, "", "", "", "",
			"Endpoint=https://x;AuthType=azure.msi;"},
		{"user managed identity, keys in any case", "endpoint=https://x;authtype=AZURE.MSI;clientid=1111", AuthTypeAzureMSI, "1111", "", "", "",
			"Endpoint=https://x;AuthType=azure.msi;ClientId=1111;"},
		{"service principal with secret", "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=" + testClientSecret, AuthTypeAzureApp, "c", "t", "", testClientSecret,
			"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=***;"},
		{"service principal with ClientCert", "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/etc/sp.pem", AuthTypeAzureApp, "c", "t", "/etc/sp.pem", "",
			"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/etc/sp.pem;"},
		{"service principal with ClientCertPath", "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCertPath=sp.pem", AuthTypeAzureApp, "c", "t", "sp.pem", "",
			"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=sp.pem;"},
		{"aad system identity", "Endpoint=https://x;AuthType=aad", AuthTypeAAD, "", "", "", "", "Endpoint=https://x;AuthType=aad;"},
		{"aad user identity", "Endpoint=https://x;AuthType=aad;ClientId=u", AuthTypeAAD, "u", "", "", "", "Endpoint=https://x;AuthType=aad;ClientId=u;"},
		{"aad service principal", "Endpoint=https://x;AuthType=aad;ClientId=c;TenantId=t;ClientSecret=" + testClientSecret, AuthTypeAAD, "c", "t", "", testClientSecret,
			"Endpoint=https://x;AuthType=aad;ClientId=c;TenantId=t;ClientSecret=***;"},
		{"an access key beside AuthType is ignored", "Endpoint=https://x;AuthType=azure;AccessKey=" + testKey, AuthTypeAzure, "", "", "", "",
			"Endpoint=https://x;AuthType=azure;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := ParseConnectionString(tt.in)
			require.NoError(t, err)
			assert.True(t, cs.IdentityBased())
			assert.Equal(t, tt.auth, cs.AuthType())
			assert.Equal(t, tt.clientID, cs.ClientID())
			assert.Equal(t, tt.tenantID, cs.TenantID())
			assert.Equal(t, tt.certPath, cs.ClientCertPath())
			assert.Equal(t, tt.secret, cs.ClientSecret())
			assert.Equal(t, tt.str, cs.String())
			for _, s := range []string{fmt.Sprint(cs), fmt.Sprintf("%v %+v %#v %s", *cs, *cs, cs, cs)} {
				assert.NotContains(t, s, testClientSecret[:8])
				assert.NotContains(t, s, testKey[:8])
			}
			// Local minting needs a key this string does not have.
			_, err = cs.connectionInfo("chat", nil)
			assert.ErrorIs(t, err, ErrMissingCredential)
			// A Client needs a credential.
			_, err = NewClient(cs, nil)
			assert.ErrorIs(t, err, ErrMissingCredential)
			assert.Contains(t, err.Error(), "ClientOptions.Credential")
		})
	}
	cs, err := ParseConnectionString("Endpoint=https://x;AccessKey=" + testKey)
	require.NoError(t, err)
	assert.False(t, cs.IdentityBased())
	assert.Equal(t, AuthTypeAccessKey, cs.AuthType())
}

func TestParseIdentityConnectionStringsRejects(t *testing.T) {
	t.Parallel()
	sp := "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;"
	tests := []struct{ name, in, says string }{
		{"app without ClientId", "Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientSecret=" + testClientSecret, "ClientId is missing"},
		{"app without TenantId", "Endpoint=https://x;AuthType=azure.app;ClientId=c;ClientSecret=" + testClientSecret, "TenantId is missing"},
		{"app without secret or cert", sp, "ClientSecret or ClientCert is missing"},
		{"app with secret and cert", sp + "ClientCert=/c.pem;ClientSecret=" + testClientSecret, "both set"},
		{"ClientCert and ClientCertPath", sp + "ClientCert=/a.pem;ClientCertPath=/b.pem", "ClientCert and ClientCertPath"},
		{"msi with secret", "Endpoint=https://x;AuthType=azure.msi;ClientSecret=" + testClientSecret, "ClientSecret is set but AuthType=azure.msi"},
		{"azure with cert", "Endpoint=https://x;AuthType=azure;ClientCert=/c.pem", "ClientCert is set but AuthType=azure"},
		{"msi with tenant", "Endpoint=https://x;AuthType=azure.msi;TenantId=t", "TenantId is set"},
		{"aad user identity with secret", "Endpoint=https://x;AuthType=aad;ClientId=c;ClientSecret=" + testClientSecret, "ClientSecret is set"},
		{"empty ClientId", "Endpoint=https://x;AuthType=azure.msi;ClientId=", "ClientId is empty"},
		{"empty secret", sp + "ClientSecret=", "ClientSecret is empty"},
		{"bad ClientId", "Endpoint=https://x;AuthType=azure.msi;ClientId=a/b", "ClientId="},
		{"secret swallowed into ClientId", "Endpoint=https://x;AuthType=aad;ClientId=ClientSecret=" + testClientSecret, "ClientId=\"***\""},
		{"bad TenantId", sp + "ClientSecret=x;TenantId=t", "TenantId appears more than once"},
		{"missing ';' swallows the secret into ClientId", "Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientId=c ClientSecret=" + testClientSecret, "ClientId=\"c ***\""},
		{"duplicate ClientSecret", sp + "ClientSecret=" + testClientSecret + ";clientsecret=" + testClientSecret, "ClientSecret appears more than once"},
		{"identity still needs Endpoint", "AuthType=azure.msi;ClientId=c", "Endpoint is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := ParseConnectionString(tt.in)
			require.Error(t, err)
			assert.Nil(t, cs)
			assert.ErrorIs(t, err, ErrInvalidConnectionString)
			assert.Contains(t, err.Error(), tt.says)
			assert.NotContains(t, err.Error(), testClientSecret[:8], "the error leaks the client secret")
		})
	}
}

// FuzzParseConnectionStringHidesSecret is FuzzParseConnectionStringHidesKey
// for ClientSecret: whatever surrounds a secret the fuzzer cannot see, no
// four bytes of it appear in an error or in String.
func FuzzParseConnectionStringHidesSecret(f *testing.F) {
	for _, s := range [][2]string{
		{"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;", ""},
		{"Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientId=c ", ""},
		{"Endpoint=https://x;AuthType=azure.msi;", ";"},
		{"Endpoint=https://x;AuthType=aad;ClientId=c;TenantId=", ";Port=9"},
		{"AuthType=azure.app;", ";Endpoint=\xff"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		secret := unseenSecret(t, a+b)
		cs, err := ParseConnectionString(a + "ClientSecret=" + secret + b)
		if err == nil {
			require.False(t, strings.Contains(fmt.Sprintf("%s %v %+v %#v", cs.String(), cs, *cs, cs), secret[:4]), "String() %q shows the secret", cs)
			return
		}
		require.True(t, errors.Is(err, ErrInvalidConnectionString), "error %v wraps no sentinel", err)
		require.False(t, strings.Contains(err.Error(), secret[:4]), "error %q shows secret bytes", err)
	})
}
