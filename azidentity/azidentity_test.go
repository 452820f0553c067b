package azidentity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	azid "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/funcsignalr/signalr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "Sup3r~Secret.Value_0123456789"

// writeCert writes a self-signed certificate and its key as one PEM file.
func writeCert(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(t.TempDir(), "sp.pem")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func parse(t *testing.T, s string) *signalr.ConnectionString {
	t.Helper()
	cs, err := signalr.ParseConnectionString(s)
	require.NoError(t, err)
	return cs
}

func TestNewCredentialPerAuthType(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_CLIENT_SECRET", "")
	cert := writeCert(t)
	tests := []struct {
		name string
		cs   string
		want any
	}{
		{"azure", "Endpoint=https://x;AuthType=azure", &azid.DefaultAzureCredential{}},
		{"system managed identity", "Endpoint=https://x;AuthType=azure.msi", &azid.ManagedIdentityCredential{}},
		{"user managed identity", "Endpoint=https://x;AuthType=azure.msi;ClientId=00000000-0000-0000-0000-000000000001", &azid.ManagedIdentityCredential{}},
		{"app with secret", "Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientId=c;ClientSecret=" + secret, &azid.ClientSecretCredential{}},
		{"app with certificate", "Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientId=c;ClientCert=" + cert, &azid.ClientCertificateCredential{}},
		{"aad system identity", "Endpoint=https://x;AuthType=aad", &azid.ManagedIdentityCredential{}},
		{"aad user identity", "Endpoint=https://x;AuthType=aad;ClientId=c", &azid.ManagedIdentityCredential{}},
		{"aad service principal", "Endpoint=https://x;AuthType=aad;TenantId=t;ClientId=c;ClientCertPath=" + cert, &azid.ClientCertificateCredential{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := NewCredential(parse(t, tt.cs))
			require.NoError(t, err)
			assert.IsType(t, tt.want, cred)
		})
	}
}

func TestNewCredentialErrors(t *testing.T) {
	t.Parallel()
	_, err := NewCredential(parse(t, "Endpoint=https://x;AccessKey=k"))
	assert.ErrorIs(t, err, ErrNotIdentityBased)
	_, err = NewCredential(nil)
	assert.ErrorIs(t, err, signalr.ErrInvalidConnectionString)
	_, err = NewCredential(&signalr.ConnectionString{})
	assert.ErrorIs(t, err, signalr.ErrInvalidConnectionString)

	_, err = NewCredential(parse(t, "Endpoint=https://x;AuthType=azure;ClientId=c"))
	assert.ErrorIs(t, err, signalr.ErrInvalidConnectionString)
	assert.Contains(t, err.Error(), "AZURE_CLIENT_ID")

	missing := filepath.Join(t.TempDir(), "none.pem")
	_, err = NewCredential(parse(t, "Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientId=c;ClientCert="+missing))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "ClientCert="+missing)

	notCert := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(notCert, []byte("not a certificate"), 0o600))
	_, err = NewCredential(parse(t, "Endpoint=https://x;AuthType=azure.app;TenantId=t;ClientId=c;ClientCert="+notCert))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a PEM or PKCS#12 certificate")
}

// The package's function fits BindOptions.NewCredential.
var _ = signalr.BindOptions{NewCredential: NewCredential}
