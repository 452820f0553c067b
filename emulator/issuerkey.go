package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// LoadIssuerKey reads the test issuer key from path (a PEM "EC PRIVATE
// KEY" or PKCS#8 "PRIVATE KEY" block holding a P-256 key). When the file
// does not exist and create is set, it generates a key and writes it there
// (mode 0600), reporting created. The signalr-emulator command's
// -identity-key flag and the chat example use it, so that an app and an
// emulator in separate processes share the issuer.
func LoadIssuerKey(path string, create bool) (key *ecdsa.PrivateKey, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, false, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, false, fmt.Errorf("writing the test issuer key: %w", err)
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, false, fmt.Errorf("%s holds no PEM block; it should hold the test issuer's EC private key", path)
	}
	var parsed any
	switch block.Type {
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, false, fmt.Errorf("%s holds a %q PEM block; want EC PRIVATE KEY or PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	k, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, false, fmt.Errorf("%s: the key is not a P-256 EC key (ES256 needs one)", path)
	}
	return k, false, nil
}
