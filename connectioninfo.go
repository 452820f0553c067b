package signalr

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/validate"
	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenLifetime is how long a client access token is valid when
// ClientTokenOptions.Lifetime is zero, as in the Azure SDKs.
const DefaultTokenLifetime = time.Hour

// MaxTokenLength is the longest access token the service accepts.
const MaxTokenLength = 4096

// ConnectionInfo is what a negotiate endpoint returns to a SignalR client: the
// service URL to connect to and the access token to connect with. It marshals
// to {"url":"...","accessToken":"..."}, exactly as the Functions binding does,
// which the official clients follow as a negotiate redirect.
type ConnectionInfo struct {
	// URL is the client endpoint for the hub, <endpoint>/client/?hub=<hub>.
	URL string `json:"url"`
	// AccessToken is the JWT the client presents to URL.
	AccessToken string `json:"accessToken"`
}

// String prints the URL and hides the token, so a ConnectionInfo can be
// logged.
func (ci ConnectionInfo) String() string {
	return fmt.Sprintf("{url: %s, accessToken: [%d bytes hidden]}", ci.URL, len(ci.AccessToken))
}

// GoString is String, so that %#v hides the token too.
func (ci ConnectionInfo) GoString() string { return "signalr.ConnectionInfo" + ci.String() }

// Claim is one custom claim to put in a client access token. Value is a
// string, a number, a bool or a slice of them; claims with the same Type are
// merged into a JSON array, as the service SDK does.
type Claim struct {
	// Type is the claim name, such as "role".
	Type string
	// Value is the claim value.
	Value any
}

// ClientTokenOptions tune a client access token. The nil value means: no user,
// no custom claims, a one-hour lifetime and the wall clock.
type ClientTokenOptions struct {
	// UserID identifies the user; it goes into both asrs.s.uid (what the
	// service reads) and nameid (what older services and the docs use).
	// Empty means an anonymous connection. It must be valid UTF-8 (an
	// error wrapping ErrInvalidClaim otherwise): the token carries text.
	UserID string
	// Claims are added after the system claims. The registered JWT names
	// (aud, exp, iat, nbf, iss, actort, acr, azp, c_hash, jti, nonce) and a
	// second sub are renamed asrs.u.<type>, as the service SDK does, so they
	// cannot override the token's own.
	Claims []Claim
	// Lifetime of the token; zero means DefaultTokenLifetime. It must be
	// at least one second (a negative or shorter one is an error wrapping
	// ErrInvalidArgument): a token's exp and nbf are whole seconds, so a
	// fraction of a second is rounded up, never down to a token that is
	// born expired.
	Lifetime time.Duration
	// Now returns the current time; nil means time.Now. Tests set it to get
	// reproducible tokens.
	Now func() time.Time

	// system are asrs.s.* claims the library adds (diagnostic client,
	// close on authentication expiration); see NegotiateOptions.
	system []Claim
}

// clientURL returns the URL a client connects to for hub:
// <client endpoint with port>/client/?hub=<hub in lower case>.
func (c *ConnectionString) clientURL(hub string) string {
	return c.clientEndpoint + "/client/?hub=" + strings.ToLower(hub)
}

// connectionInfo mints a client access token for hub, HS256-signed with
// the access key, and returns it with the URL to use it on (the token's
// aud). It is how Client.ConnectionInfo mints with an access key; an
// identity-based connection string has no key to sign with, and a Client
// for one always has a credential.
func (c *ConnectionString) connectionInfo(hub string, opts *ClientTokenOptions) (ConnectionInfo, error) {
	if err := c.usable(); err != nil {
		return ConnectionInfo{}, err
	}
	if c.authType != "" {
		return ConnectionInfo{}, fmt.Errorf("%w: AuthType=%s signs client tokens with a key fetched from the service; use a Client made with ClientOptions.Credential", ErrMissingCredential, c.authType)
	}
	if err := validateHub(hub); err != nil {
		return ConnectionInfo{}, err
	}
	if opts == nil {
		opts = &ClientTokenOptions{}
	}
	u := c.clientURL(hub)
	tok, err := mintClientToken(c.key, "", u, opts)
	if err != nil {
		return ConnectionInfo{}, err
	}
	return ConnectionInfo{URL: u, AccessToken: tok}, nil
}

// reservedClaims are the claim types the service SDK renames asrs.u.<type>
// when they come from the application.
var reservedClaims = map[string]bool{
	"aud": true, "exp": true, "iat": true, "nbf": true, "iss": true, "actort": true,
	"acr": true, "azp": true, "c_hash": true, "jti": true, "nonce": true,
}

// mintClientToken mints a client token for aud, HS256-signed with key; a
// non-empty kid goes into the JWT header, naming the service's key.
func mintClientToken(key []byte, kid, aud string, opts *ClientTokenOptions) (string, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	lifetime := opts.Lifetime
	if lifetime == 0 {
		lifetime = DefaultTokenLifetime
	}
	if err := checkLifetime("ClientTokenOptions.Lifetime", lifetime); err != nil {
		return "", err
	}
	if err := checkText("UserID", opts.UserID); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidClaim, err)
	}
	t := now().Unix()

	exp := t + wholeSeconds(lifetime)
	var claims jwt.Claims
	if len(opts.Claims) == 0 && len(opts.system) == 0 {
		// The common case, as a struct: encoding/json writes it without
		// the map's sorting and boxing.
		claims = &systemClaims{UserID: opts.UserID, NameID: opts.UserID, NotBefore: t, Expires: exp, IssuedAt: t, Audience: aud}
	} else {
		m := jwt.MapClaims{}
		if opts.UserID != "" {
			m["asrs.s.uid"] = opts.UserID
			if !hasClaim(opts.Claims, "nameid") {
				m["nameid"] = opts.UserID
			}
		}
		if err := addCustomClaims(m, opts.Claims); err != nil {
			return "", err
		}
		for _, c := range opts.system {
			m[c.Type] = c.Value
		}
		m["nbf"], m["exp"], m["iat"], m["aud"] = t, exp, t, aud
		claims = m
	}
	tok, err := signHS256(key, kid, claims)
	if err != nil {
		return "", err
	}
	if len(tok) > MaxTokenLength {
		return "", fmt.Errorf("%w: the token would be %d characters; send fewer or smaller custom claims", ErrTokenTooLong, len(tok))
	}
	return tok, nil
}

// signHS256 signs claims with HS256 and key (the UTF-8 bytes of the access
// key, not base64-decoded, as the service checks them). A non-empty kid is
// put in the header, as the service picks a fetched key by it.
func signHS256(key []byte, kid string, claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	tok, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidClaim, err)
	}
	return tok, nil
}

func hasClaim(claims []Claim, typ string) bool {
	for _, c := range claims {
		if c.Type == typ {
			return true
		}
	}
	return false
}

// addCustomClaims adds claims under their (renamed) types, merging
// repeated types into arrays in the order given.
func addCustomClaims(dst jwt.MapClaims, claims []Claim) error {
	type group struct {
		name   string
		values []any
	}
	var groups []group
	index := map[string]int{}
	sawSub := false
	for _, cl := range claims {
		name := cl.Type
		switch {
		case name == "":
			return fmt.Errorf("%w: a claim has an empty type", ErrInvalidClaim)
		case strings.HasPrefix(name, "asrs.s."):
			return fmt.Errorf("%w: claim type %q is reserved for the service; set the user with UserID", ErrInvalidClaim, name)
		case reservedClaims[name]:
			name = "asrs.u." + name
		case name == "sub":
			if sawSub {
				name = "asrs.u.sub"
			}
			sawSub = true
		}
		i, ok := index[name]
		if !ok {
			i = len(groups)
			index[name] = i
			groups = append(groups, group{name: name})
		}
		if vs, ok := cl.Value.([]any); ok {
			groups[i].values = append(groups[i].values, vs...)
		} else if vs, ok := cl.Value.([]string); ok {
			for _, v := range vs {
				groups[i].values = append(groups[i].values, v)
			}
		} else {
			groups[i].values = append(groups[i].values, cl.Value)
		}
	}
	for _, g := range groups {
		var v any = g.values
		if len(g.values) == 1 {
			v = g.values[0]
		}
		if _, err := json.Marshal(v); err != nil {
			return fmt.Errorf("%w: claim %q has a value that is not JSON: %v", ErrInvalidClaim, g.name, err)
		}
		dst[g.name] = v
	}
	return nil
}

// checkLifetime rejects a token lifetime or TTL under one second: the
// service counts them in whole seconds.
func checkLifetime(field string, d time.Duration) error {
	if d < time.Second {
		return outErrorf(ErrInvalidArgument, "%s is %v; it must be at least one second (the service counts whole seconds), or zero for the default", field, d)
	}
	return nil
}

// wholeSeconds returns d in seconds, a fraction rounded up, so that what is
// sent is never shorter than what was asked for.
func wholeSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

func validateHub(hub string) error {
	if err := validate.HubName(hub); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidHubName, strings.TrimPrefix(err.Error(), validate.ErrInvalidName.Error()+": "))
	}
	return nil
}

func validateGroup(group string) error {
	if err := validate.GroupName(group); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidGroupName, strings.TrimPrefix(err.Error(), validate.ErrInvalidName.Error()+": "))
	}
	if err := checkText("group name", group); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidGroupName, err)
	}
	return nil
}

// serverToken mints the bearer token for REST requests to one URL: aud is
// the request URL without its query, and the token lives for five minutes
// (the Client reuses it for that URL for at most a minute).
func (c *ConnectionString) serverToken(aud string, now time.Time) (string, error) {
	t := now.Unix()
	return signHS256(c.key, "", &systemClaims{IssuedAt: t, Expires: t + int64(serverTokenLifetime/time.Second), Audience: aud})
}

// serverTokenLifetime is short because a REST token is used once, right away.
const serverTokenLifetime = 5 * time.Minute

// systemClaims are the claims of a token with no custom claims: a REST
// token (iat, exp, aud) or a client token (and, for a user, asrs.s.uid and
// nameid). golang-jwt signs it; the getters serve its jwt.Claims interface.
type systemClaims struct {
	UserID    string `json:"asrs.s.uid,omitempty"`
	NameID    string `json:"nameid,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	Expires   int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	Audience  string `json:"aud"`
}

func numericDate(t int64) (*jwt.NumericDate, error) {
	if t == 0 {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(t, 0)), nil
}

func (c *systemClaims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.Expires) }
func (c *systemClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return numericDate(c.IssuedAt) }
func (c *systemClaims) GetNotBefore() (*jwt.NumericDate, error)      { return numericDate(c.NotBefore) }
func (c *systemClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *systemClaims) GetSubject() (string, error)                  { return "", nil }
func (c *systemClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}
