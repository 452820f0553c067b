// Package azidentity turns the identity keys of a SignalR connection string
// (AuthType=azure, azure.msi, azure.app or aad, with ClientId, TenantId,
// ClientSecret and ClientCert) into an azcore.TokenCredential from the
// Azure Identity library, as the Azure SignalR SDKs do.
//
// It is a package of its own so that apps using access keys never build
// the Azure Identity library (MSAL and its dependencies): package signalr
// only knows the azcore.TokenCredential interface. Hand NewCredential to
// the bindings, or call it and pass the credential to a Client:
//
//	bind := &signalr.BindOptions{NewCredential: azidentity.NewCredential}
//
//	cs, _ := signalr.ParseConnectionString(os.Getenv("AzureSignalRConnectionString"))
//	cred, _ := azidentity.NewCredential(cs)
//	client, _ := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred})
//
// Any other azcore.TokenCredential works as well; this package only saves
// writing the mapping.
package azidentity

import (
	"errors"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azid "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/funcsignalr/signalr"
)

// ErrNotIdentityBased is returned for a connection string with an access
// key: it needs no credential.
var ErrNotIdentityBased = errors.New("signalr/azidentity: the connection string has an access key and needs no credential")

// Options tune NewCredentialWithOptions. The nil value means the Azure
// Identity defaults and certificates without a password.
type Options struct {
	// ClientOptions go to the credential (cloud, transport, retries,
	// logging); the zero value means the Azure Identity defaults.
	ClientOptions policy.ClientOptions
	// CertificatePassword decrypts the ClientCert file when it is a
	// password-protected PKCS#12 file; nil means none.
	CertificatePassword []byte
}

// NewCredential returns the credential the connection string's AuthType
// asks for, as the Azure SignalR SDKs build it:
//
//   - AuthType=azure: DefaultAzureCredential (environment, workload
//     identity, managed identity, Azure CLI, ...), configured by its
//     environment variables (AZURE_CLIENT_ID names a user-assigned managed
//     identity); a ClientId key is an error, since this chain cannot take
//     it.
//   - AuthType=azure.msi: ManagedIdentityCredential, user-assigned when
//     ClientId is set, else system-assigned.
//   - AuthType=azure.app: ClientSecretCredential with TenantId, ClientId
//     and ClientSecret, or ClientCertificateCredential with the PEM or
//     PKCS#12 file ClientCert names.
//   - AuthType=aad: a system-assigned managed identity without ClientId,
//     a user-assigned one with ClientId alone, a service principal (as
//     azure.app) with ClientId and TenantId.
//
// Its signature fits signalr.BindOptions.NewCredential. Errors name the
// key at fault and never contain the client secret.
func NewCredential(cs *signalr.ConnectionString) (azcore.TokenCredential, error) {
	return NewCredentialWithOptions(cs, nil)
}

// NewCredentialWithOptions is NewCredential with options; opts may be nil.
func NewCredentialWithOptions(cs *signalr.ConnectionString, opts *Options) (azcore.TokenCredential, error) {
	if opts == nil {
		opts = &Options{}
	}
	if cs == nil || cs.Endpoint() == "" {
		return nil, fmt.Errorf("%w: the ConnectionString is empty; get one from signalr.ParseConnectionString", signalr.ErrInvalidConnectionString)
	}
	servicePrincipal := false
	switch cs.AuthType() {
	case signalr.AuthTypeAccessKey:
		return nil, ErrNotIdentityBased
	case signalr.AuthTypeAzure:
		if cs.ClientID() != "" {
			return nil, fmt.Errorf("%w: ClientId is set, but AuthType=azure (DefaultAzureCredential) picks its managed identity from the AZURE_CLIENT_ID environment variable; set that instead, or use AuthType=azure.msi;ClientId=%s", signalr.ErrInvalidConnectionString, cs.ClientID())
		}
		return wrap(azid.NewDefaultAzureCredential(&azid.DefaultAzureCredentialOptions{ClientOptions: opts.ClientOptions}))
	case signalr.AuthTypeAzureMSI:
	case signalr.AuthTypeAzureApp:
		servicePrincipal = true
	case signalr.AuthTypeAAD:
		servicePrincipal = cs.TenantID() != ""
	default:
		return nil, fmt.Errorf("%w: AuthType=%s is not one this package knows", signalr.ErrInvalidConnectionString, cs.AuthType())
	}
	if !servicePrincipal {
		o := &azid.ManagedIdentityCredentialOptions{ClientOptions: opts.ClientOptions}
		if cs.ClientID() != "" {
			o.ID = azid.ClientID(cs.ClientID())
		}
		return wrap(azid.NewManagedIdentityCredential(o))
	}
	if cs.ClientSecret() != "" {
		return wrap(azid.NewClientSecretCredential(cs.TenantID(), cs.ClientID(), cs.ClientSecret(),
			&azid.ClientSecretCredentialOptions{ClientOptions: opts.ClientOptions}))
	}
	path := cs.ClientCertPath()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signalr/azidentity: ClientCert=%s: %w", path, err)
	}
	certs, key, err := azid.ParseCertificates(data, opts.CertificatePassword)
	if err != nil {
		return nil, fmt.Errorf("signalr/azidentity: ClientCert=%s is not a PEM or PKCS#12 certificate with its private key (a password-protected file needs Options.CertificatePassword): %w", path, err)
	}
	return wrap(azid.NewClientCertificateCredential(cs.TenantID(), cs.ClientID(), certs, key,
		&azid.ClientCertificateCredentialOptions{ClientOptions: opts.ClientOptions}))
}

// wrap returns a typed credential as the interface, and a nil interface
// (not a typed nil) with an error.
func wrap[T azcore.TokenCredential](cred T, err error) (azcore.TokenCredential, error) {
	if err != nil {
		return nil, fmt.Errorf("signalr/azidentity: %w", err)
	}
	return cred, nil
}
