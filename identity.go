package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/funcsignalr/signalr/internal/restapi"
)

// EntraScope is the scope of the Microsoft Entra tokens a Client asks its
// credential for; the tokens' audience is https://signalr.azure.com.
const EntraScope = "https://signalr.azure.com/.default"

// Timings of the key client tokens are signed with in identity mode, as in
// the Azure SignalR SDKs (ClientOptions.Credential documents them).
const (
	// accessKeyRefreshAge is the age after which the key is fetched again.
	accessKeyRefreshAge = 55 * time.Minute
	// accessKeyRetryDelay is the pause after a failed fetch.
	accessKeyRetryDelay = 5 * time.Minute
	// accessKeyMaxAge is how long after the last successful fetch the key
	// is still used; after that, minting fails with ErrNoAccessKey until a
	// fetch succeeds.
	accessKeyMaxAge = 120 * time.Minute
)

// Renewal of the Microsoft Entra token: renewed from entraRenewBefore
// before it expires, not used in its last entraExpiryMargin, and after a
// failed renewal of a still-usable token, retried after entraRetryDelay.
const (
	entraRenewBefore  = 5 * time.Minute
	entraExpiryMargin = 30 * time.Second
	entraRetryDelay   = 30 * time.Second
)

// accessKeyPath is where the SDKs fetch the key: the v1 path, with no
// api-version, whatever REST API version the Client speaks.
const accessKeyPath = "/api/v1/auth/accessKey"

// signingKey is a key from GET /api/v1/auth/accessKey.
type signingKey struct {
	kid string
	key []byte
}

// identity is the Microsoft Entra state of a Client with a credential.
type identity struct {
	cred  azcore.TokenCredential
	token renewing[string]
	key   renewing[signingKey]
}

// newIdentity wires the renewals of c's credential.
func (c *Client) newIdentity(cred azcore.TokenCredential) *identity {
	id := &identity{cred: cred}
	id.token = renewing[string]{
		now:          c.now,
		fetch:        c.fetchEntraToken,
		keepBackoff:  entraRetryDelay,
		emptyBackoff: 0,
		unusable:     func(st renewState) error { return st.lastErr },
	}
	id.key = renewing[signingKey]{
		now:          c.now,
		fetch:        c.fetchAccessKey,
		keepBackoff:  accessKeyRetryDelay,
		emptyBackoff: accessKeyRetryDelay,
		unusable:     keyUnusable,
	}
	return id
}

// fetchEntraToken asks the credential for a token, bounded by the
// Client's attempt timeout.
func (c *Client) fetchEntraToken(ctx context.Context) (string, time.Time, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tok, err := c.id.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{EntraScope}})
	if err != nil {
		return "", time.Time{}, time.Time{}, fmt.Errorf("signalr: getting a Microsoft Entra token for %s from the credential: %w", EntraScope, err)
	}
	if tok.Token == "" {
		return "", time.Time{}, time.Time{}, fmt.Errorf("signalr: the credential returned an empty Microsoft Entra token for %s", EntraScope)
	}
	expires := tok.ExpiresOn
	if expires.IsZero() {
		// No expiry given: use it for this call only.
		expires = c.now()
	}
	renew := expires.Add(-entraRenewBefore)
	if !tok.RefreshOn.IsZero() && tok.RefreshOn.Before(renew) {
		renew = tok.RefreshOn
	}
	return tok.Token, renew, expires.Add(-entraExpiryMargin), nil
}

// entraBearer returns the Authorization value of a REST call in identity
// mode: the Microsoft Entra token itself, as the SDKs send it.
func (c *Client) entraBearer(ctx context.Context) (string, error) {
	tok, err := c.id.token.get(ctx)
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

// fetchAccessKey gets the key for client tokens: GET
// <server endpoint>/api/v1/auth/accessKey with the Microsoft Entra token,
// retried as any read is.
func (c *Client) fetchAccessKey(ctx context.Context) (signingKey, time.Time, time.Time, error) {
	spec := &restapi.Routes[restapi.GetAccessKey]
	u := c.base + accessKeyPath
	var data []byte
	if _, err := c.send(ctx, spec, u, u, nil, callOpts{out: &data}, nil); err != nil {
		var re *ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
			return signingKey{}, time.Time{}, time.Time{}, fmt.Errorf("signalr: GET %s: %w (give the identity the \"SignalR App Server\" role on the SignalR resource)", accessKeyPath, err)
		}
		return signingKey{}, time.Time{}, time.Time{}, fmt.Errorf("signalr: GET %s: %w", accessKeyPath, err)
	}
	var body struct {
		KeyID     string `json:"KeyId"`
		AccessKey string `json:"AccessKey"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return signingKey{}, time.Time{}, time.Time{}, fmt.Errorf("signalr: GET %s: the answer is not JSON {KeyId, AccessKey}", accessKeyPath)
	}
	switch {
	case body.KeyID == "":
		return signingKey{}, time.Time{}, time.Time{}, fmt.Errorf("signalr: GET %s: the answer has no KeyId", accessKeyPath)
	case body.AccessKey == "":
		return signingKey{}, time.Time{}, time.Time{}, fmt.Errorf("signalr: GET %s: the answer has no AccessKey", accessKeyPath)
	}
	now := c.now()
	return signingKey{kid: body.KeyID, key: []byte(body.AccessKey)}, now.Add(accessKeyRefreshAge), now.Add(accessKeyMaxAge), nil
}

// keyUnusable explains why there is no key within the pause after a
// failure.
func keyUnusable(st renewState) error {
	const layout = time.RFC3339
	if !st.have {
		return fmt.Errorf("%w: fetching it failed at %s and the next attempt is after %s: %w",
			ErrNoAccessKey, st.lastFailure.UTC().Format(layout), st.retryAt.UTC().Format(layout), st.lastErr)
	}
	return fmt.Errorf("%w: the last key was fetched at %s, more than %v before, and renewing it failed at %s; the next attempt is after %s: %w",
		ErrNoAccessKey, st.lastSuccess.UTC().Format(layout), accessKeyMaxAge, st.lastFailure.UTC().Format(layout), st.retryAt.UTC().Format(layout), st.lastErr)
}

// clientKey returns the key to sign client tokens with; the first call
// waits for the first fetch, bounded by ctx.
func (c *Client) clientKey(ctx context.Context) (signingKey, error) {
	k, err := c.id.key.get(ctx)
	if err != nil && !errors.Is(err, ErrNoAccessKey) && ctx.Err() == nil {
		err = fmt.Errorf("%w: %w", ErrNoAccessKey, err)
	}
	return k, err
}

// ConnectionInfo returns the URL and access token a client connects to hub
// with, as a negotiate endpoint answers them. With an access key, the token
// is minted locally, HS256-signed with the key. With
// ClientOptions.Credential, it is minted locally with the key from GET
// /api/v1/auth/accessKey (HS256, the key id in the kid header; the key is
// fetched again after 55 minutes, see ErrNoAccessKey), and the
// first call waits for that key, bounded by ctx. With
// ClientOptions.ClientTokensFromService, the service mints it (POST
// :generateToken, REST API 2023-07-01 or later; the lifetime is rounded up
// to whole minutes), and custom claims are an error wrapping
// ErrInvalidArgument, since :generateToken takes none. opts may be nil.
func (c *Client) ConnectionInfo(ctx context.Context, hub string, opts *ClientTokenOptions) (ConnectionInfo, error) {
	if c == nil || c.cs == nil || c.hc == nil {
		return ConnectionInfo{}, errNoClient
	}
	if err := validateHub(hub); err != nil {
		return ConnectionInfo{}, err
	}
	if c.multi != nil {
		return c.multi.connectionInfo(ctx, hub, opts)
	}
	var o ClientTokenOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case c.serviceTokens:
		if len(o.Claims) > 0 || len(o.system) > 0 {
			return ConnectionInfo{}, outErrorf(ErrInvalidArgument, "ClientTokenOptions.Claims (or a NegotiateOptions claim): the service's :generateToken takes no custom claims; drop them, or unset ClientOptions.ClientTokensFromService to mint tokens locally")
		}
		if o.Lifetime != 0 {
			if err := checkLifetime("ClientTokenOptions.Lifetime", o.Lifetime); err != nil {
				return ConnectionInfo{}, err
			}
		}
		return c.generateClientToken(ctx, hub, o.UserID, o.Lifetime)
	case c.id != nil:
		k, err := c.clientKey(ctx)
		if err != nil {
			return ConnectionInfo{}, err
		}
		u := c.cs.clientURL(hub)
		tok, err := mintClientToken(k.key, k.kid, u, &o)
		if err != nil {
			return ConnectionInfo{}, err
		}
		return ConnectionInfo{URL: u, AccessToken: tok}, nil
	default:
		return c.cs.connectionInfo(hub, &o)
	}
}
