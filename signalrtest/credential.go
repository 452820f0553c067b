package signalrtest

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/emulator"
)

// DefaultCredentialLifetime is the lifetime of a Credential's tokens when
// CredentialOptions.Lifetime is zero: an hour, like Microsoft Entra tokens.
const DefaultCredentialLifetime = time.Hour

// CredentialOptions tune a Credential. The nil value means hour-long
// tokens for the audience of the requested scope, on the wall clock.
type CredentialOptions struct {
	// Lifetime of each token; zero means DefaultCredentialLifetime. A
	// negative one mints tokens that have already expired (their
	// ExpiresOn says so too), to test that they are refused.
	Lifetime time.Duration
	// Audience, when set, is put in every token instead of the one the
	// scope asks for, to test that a wrong audience is refused.
	Audience string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Credential is a fake azcore.TokenCredential, in the manner of
// httptest: it mints Microsoft Entra-style tokens (ES256, iss and key of
// the emulator's test issuer, aud from the scope: scope
// https://signalr.azure.com/.default gives aud https://signalr.azure.com)
// that an emulator in identity mode trusts, and counts the calls so that
// tests can see a client's caching. It is safe for concurrent use.
type Credential struct {
	key    *ecdsa.PrivateKey
	issuer string
	opts   CredentialOptions

	mu     sync.Mutex
	calls  int
	scopes []string
	err    error
}

// NewCredential returns a Credential whose tokens e trusts; e must be in
// identity mode (emulator.Options.Identity set). opts may be nil.
func NewCredential(e *emulator.Emulator, opts *CredentialOptions) (*Credential, error) {
	if e == nil {
		return nil, errors.New("signalrtest: NewCredential needs an emulator")
	}
	key, issuer := e.IdentityIssuerKey()
	if key == nil {
		return nil, errors.New("signalrtest: the emulator is not in identity mode; set emulator.Options.Identity to &emulator.IdentityOptions{}")
	}
	return NewCredentialFromKey(key, issuer, opts)
}

// NewCredentialFromKey returns a Credential that signs with key as issuer
// ("" means emulator.DefaultIdentityIssuer): for an emulator in another
// process, started with -identity-key (read the key with
// emulator.LoadIssuerKey). opts may be nil.
func NewCredentialFromKey(key *ecdsa.PrivateKey, issuer string, opts *CredentialOptions) (*Credential, error) {
	if key == nil {
		return nil, errors.New("signalrtest: NewCredentialFromKey needs the test issuer key")
	}
	if issuer == "" {
		issuer = emulator.DefaultIdentityIssuer
	}
	c := &Credential{key: key, issuer: issuer}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Lifetime == 0 {
		c.opts.Lifetime = DefaultCredentialLifetime
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c, nil
}

// GetToken mints a token for the one scope in opts, counting the call. It
// fails, as real credentials do, for no scope or more than one, and with
// the error set by Fail.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.calls++
	c.scopes = append(c.scopes[:0], opts.Scopes...)
	failure := c.err
	c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if failure != nil {
		return azcore.AccessToken{}, failure
	}
	if len(opts.Scopes) != 1 {
		return azcore.AccessToken{}, fmt.Errorf("signalrtest.Credential: want one scope, got %q", opts.Scopes)
	}
	aud := c.opts.Audience
	if aud == "" {
		aud = strings.TrimSuffix(opts.Scopes[0], "/.default")
	}
	now := c.opts.Now()
	expires := now.Add(c.opts.Lifetime)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": c.issuer,
		"aud": aud,
		"iat": now.Unix(),
		"nbf": min(now.Unix(), expires.Unix()),
		"exp": expires.Unix(),
		"sub": "signalrtest-identity",
		"oid": "00000000-0000-0000-0000-00000000aaaa",
		"tid": "00000000-0000-0000-0000-00000000bbbb",
	})
	signed, err := tok.SignedString(c.key)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("signalrtest.Credential: %w", err)
	}
	return azcore.AccessToken{Token: signed, ExpiresOn: expires}, nil
}

// Calls returns how many times GetToken was called.
func (c *Credential) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Scopes returns the scopes of the last GetToken call.
func (c *Credential) Scopes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scopes...)
}

// Fail makes every later GetToken call return err (nil restores
// success), as a credential whose identity endpoint went away does.
func (c *Credential) Fail(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// String describes the Credential without its key.
func (c *Credential) String() string {
	return fmt.Sprintf("signalrtest.Credential{issuer: %s, calls: %d}", c.issuer, c.Calls())
}
