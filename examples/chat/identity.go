package main

import (
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/azidentity"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// credentialFor returns the credential for an identity-based cs (nil for
// an access key): minted with the test issuer key in keyPath when given (an
// emulator in identity mode), else from the connection string's keys by
// Azure Identity (managed identity, service principal, developer login).
func credentialFor(cs *signalr.ConnectionString, keyPath string) (azcore.TokenCredential, error) {
	if !cs.IdentityBased() {
		return nil, nil
	}
	if keyPath != "" {
		key, _, err := emulator.LoadIssuerKey(keyPath, false)
		if err != nil {
			return nil, err
		}
		return signalrtest.NewCredentialFromKey(key, "", nil)
	}
	return azidentity.NewCredential(cs)
}

// embeddedConnection returns the connection string of the embedded
// emulator and, in identity mode, the identity one (AuthType=azure.msi, no
// access key) with a test credential the emulator trusts.
func embeddedConnection(emu *emulator.Server, identity bool) (*signalr.ConnectionString, azcore.TokenCredential, error) {
	s := emu.ConnectionString()
	if !identity {
		cs, err := signalr.ParseConnectionString(s)
		return cs, nil, err
	}
	s = strings.Replace(s, "AccessKey="+emu.Emulator.AccessKey(), "AuthType=azure.msi", 1)
	cs, err := signalr.ParseConnectionString(s)
	if err != nil {
		return nil, nil, err
	}
	cred, err := signalrtest.NewCredential(emu.Emulator, nil)
	if err != nil {
		return nil, nil, err
	}
	return cs, cred, nil
}

// authNote says how the app authenticates, for the start-up line.
func authNote(cs *signalr.ConnectionString) string {
	if cs.IdentityBased() {
		return ", Microsoft Entra ID: AuthType=" + string(cs.AuthType())
	}
	return ""
}
