package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/funcsignalr/signalr/internal/textutil"
	"github.com/golang-jwt/jwt/v5"
)

// EntraAudience is the audience of the Microsoft Entra tokens SignalR
// Service accepts: what a credential returns for scope
// https://signalr.azure.com/.default.
const EntraAudience = "https://signalr.azure.com"

// DefaultIdentityIssuer is the iss claim identity mode requires when
// IdentityOptions.Issuer is empty.
const DefaultIdentityIssuer = "https://login.emulator.invalid/signalr-emulator/v2.0"

// IdentityOptions turn on identity mode: besides access-key tokens, the
// REST API accepts Microsoft Entra-style bearer tokens from a local test
// issuer, as SignalR Service accepts tokens from Microsoft Entra ID. The
// tokens are ES256 JWTs signed with IssuerKey, with iss = Issuer, aud =
// EntraAudience (or the same with a trailing slash) and an exp in the
// future. Only such callers get the signing key from GET
// /api/auth/accessKey (and /api/v1/auth/accessKey); access-key callers
// get 403 there, since they have a key already.
type IdentityOptions struct {
	// IssuerKey signs the trusted tokens. Nil means a new P-256 key,
	// which Emulator.IdentityIssuerKey returns (signalrtest.NewCredential
	// mints with it).
	IssuerKey *ecdsa.PrivateKey
	// Issuer is the required iss claim; "" means DefaultIdentityIssuer.
	Issuer string
}

// identityState is the emulator's identity mode (when issuer is set) and
// its ring of signing keys for client tokens, served by the access-key
// route and looked up by kid. The ring exists in every mode.
type identityState struct {
	issuerKey *ecdsa.PrivateKey // nil without identity mode
	issuer    string
	parser    *jwt.Parser

	mu       sync.RWMutex
	current  string
	previous string
	keys     map[string][]byte
	retired  map[string]bool
}

// newIdentityState starts the key ring with kid/key and turns on identity
// mode when opts asks for it, generating the issuer key if opts has none.
func newIdentityState(opts *IdentityOptions, kid string, key []byte) (*identityState, error) {
	s := &identityState{current: kid, keys: map[string][]byte{kid: key}, retired: map[string]bool{}}
	if opts == nil {
		return s, nil
	}
	s.issuerKey, s.issuer = opts.IssuerKey, opts.Issuer
	if s.issuerKey == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("emulator: generating the identity issuer key: %w", err)
		}
		s.issuerKey = k
	}
	if s.issuer == "" {
		s.issuer = DefaultIdentityIssuer
	}
	s.parser = jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithExpirationRequired())
	return s, nil
}

// IdentityMode reports whether the emulator trusts Microsoft Entra-style
// tokens (Options.Identity is set).
func (e *Emulator) IdentityMode() bool { return e.ident.issuerKey != nil }

// IdentityIssuerKey returns the key of the local test issuer whose tokens
// identity mode trusts, and its issuer name; nil without identity mode.
// Tests mint tokens with it (see signalrtest.NewCredential).
func (e *Emulator) IdentityIssuerKey() (*ecdsa.PrivateKey, string) {
	s := e.ident
	return s.issuerKey, s.issuer
}

// RotateAccessKey replaces the key GET /api/auth/accessKey hands out with a
// new one and returns its id, as the service rotates its keys: client
// tokens signed with the new key or the one just replaced are accepted,
// older ones are not. It is a test hook for the renewal paths.
func (e *Emulator) RotateAccessKey() string {
	s := e.ident
	kid, key := "emulator-"+randomID(9), []byte(randomID(32))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.previous != "" {
		delete(s.keys, s.previous)
		s.retired[s.previous] = true
	}
	s.previous, s.current = s.current, kid
	s.keys[kid] = key
	return kid
}

// currentKey returns the key the access-key route hands out now.
func (s *identityState) currentKey() (string, []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current, s.keys[s.current]
}

// keyByID returns the key named kid, if the ring holds it, and whether
// kid names a key rotated out.
func (s *identityState) keyByID(kid string) (key []byte, known, retired bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[kid]
	return k, ok, s.retired[kid]
}

// isEntraToken reports whether raw looks like a token of the test issuer
// rather than an access-key token: its header names an algorithm other
// than HS256. It does not verify anything.
func isEntraToken(raw string) bool {
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		return false
	}
	alg, _ := tok.Header["alg"].(string)
	return alg != "" && alg != "HS256"
}

// verifyEntra checks a test issuer token: signature, issuer, audience and
// lifetime, each failure said in words.
func (s *identityState) verifyEntra(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := s.parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.issuerKey.PublicKey, nil })
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		exp, _ := claims.GetExpirationTime()
		when := ""
		if exp != nil {
			when = " at " + exp.UTC().Format(time.RFC3339)
		}
		return nil, &tokenError{"Microsoft Entra token has expired" + when + "; get a new one from the credential"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, &tokenError{"Microsoft Entra token has no exp claim"}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, &tokenError{"Microsoft Entra token is not valid yet (nbf)"}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), strings.Contains(err.Error(), "signing method"):
		return nil, &tokenError{"Microsoft Entra token signature does not verify: it must be ES256 signed by the emulator's test issuer"}
	default:
		return nil, &tokenError{"Microsoft Entra token is malformed"}
	}
	if iss, _ := claims.GetIssuer(); iss != s.issuer {
		return nil, &tokenError{fmt.Sprintf("Microsoft Entra token issuer %q is not trusted; want %q", textutil.Truncate(iss, maxEchoedClaim), s.issuer)}
	}
	auds, _ := claims.GetAudience()
	for _, aud := range auds {
		if aud == EntraAudience || aud == EntraAudience+"/" {
			return claims, nil
		}
	}
	return nil, &tokenError{fmt.Sprintf("Microsoft Entra token audience %q is wrong; want %s (ask the credential for scope %s/.default)", textutil.Truncate(strings.Join(auds, ","), maxEchoedClaim), EntraAudience, EntraAudience)}
}

// maxEchoedClaim bounds a claim echoed in an error.
const maxEchoedClaim = 100
