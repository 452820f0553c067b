package signalr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// ConnectionInfoBinding declares a SignalRConnectionInfo input binding, the
// Go form of a function.json entry with "type": "signalRConnectionInfo".
// Bind it once at start-up, then resolve it per request.
type ConnectionInfoBinding struct {
	// Name is the binding's name in function.json; informational in Go.
	Name string `json:"name"`
	// HubName is the hub to connect to. Required. It may hold binding
	// expressions such as {query.hub}.
	HubName string `json:"hubName"`
	// UserID is the user the token is for, usually a binding expression such
	// as {headers.x-ms-client-principal-id}. Empty means anonymous.
	UserID string `json:"userId"`
	// IDToken is a JWT, usually {headers.authorization}, whose claims named
	// in ClaimTypeList are copied into the access token. It is read, not
	// validated, as in the Functions extension; a "Bearer " prefix is
	// removed.
	IDToken string `json:"idToken"`
	// ClaimTypeList names the IDToken claims to copy (exact, case-sensitive).
	ClaimTypeList []string `json:"claimTypeList"`
	// ConnectionStringSetting names the app setting holding the connection
	// string; empty means DefaultConnectionStringSetting.
	ConnectionStringSetting string `json:"connectionStringSetting"`
}

// OutputBinding declares a SignalR output binding, the Go form of a
// function.json entry with "type": "signalR".
type OutputBinding struct {
	// Name is the binding's name in function.json; informational in Go.
	Name string `json:"name"`
	// HubName is the hub messages and group actions go to. Required.
	HubName string `json:"hubName"`
	// ConnectionStringSetting names the app setting holding the connection
	// string; empty means DefaultConnectionStringSetting.
	ConnectionStringSetting string `json:"connectionStringSetting"`
}

// Input is a bound ConnectionInfoBinding: its connection string
// is loaded and its expressions parsed, so resolving it per request only
// evaluates expressions and mints a token. It is safe for concurrent use.
type Input struct {
	// resolve, when set (NewInputFunc), replaces everything below.
	resolve func(r *http.Request) (ConnectionInfo, error)

	cs         *ConnectionString
	hub        expression
	userID     expression
	idToken    expression
	hasIDToken bool
	claimTypes []string
	lifetime   time.Duration
	// client mints the tokens when BindOptions.Client is set, the
	// connection string is identity-based, a credential is set or the
	// service mints them; nil means the access key signs them locally.
	client *Client
	// now is the clock of the tokens' iat, nbf and exp; nil means
	// time.Now. Only tests set it.
	now func() time.Time
}

// Bind checks the declaration, loads its connection string (see BindOptions)
// and returns the input ready to resolve per request. Errors wrap
// ErrInvalidBinding, ErrMissingSetting, ErrInvalidConnectionString or
// ErrInvalidHubName and say how to fix the declaration; an unusable
// BindOptions.TokenLifetime is an error here, not at every negotiate. The
// Input keeps its own copy of ClaimTypeList.
func (b ConnectionInfoBinding) Bind(opts *BindOptions) (*Input, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	settings := opts.Settings
	if strings.TrimSpace(b.HubName) == "" {
		return nil, fmt.Errorf("%w: hubName is required; set it to the hub clients connect to, such as \"chat\"", ErrInvalidBinding)
	}
	if opts.TokenLifetime != 0 {
		if err := checkLifetime("BindOptions.TokenLifetime", opts.TokenLifetime); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidBinding, err)
		}
	}
	// A copy: the caller may reuse its slice while requests resolve.
	in := &Input{claimTypes: slices.Clone(b.ClaimTypeList), lifetime: opts.TokenLifetime}
	var err error
	if in.hub, err = parseExpression("hubName", b.HubName, settings); err != nil {
		return nil, err
	}
	if hub, ok := in.hub.constant(); ok {
		if err := validateHub(hub); err != nil {
			return nil, fmt.Errorf("hubName: %w", err)
		}
	}
	if in.userID, err = parseExpression("userId", b.UserID, settings); err != nil {
		return nil, err
	}
	if in.idToken, err = parseExpression("idToken", b.IDToken, settings); err != nil {
		return nil, err
	}
	in.hasIDToken = b.IDToken != ""
	if len(b.ClaimTypeList) > 0 && !in.hasIDToken {
		return nil, fmt.Errorf("%w: claimTypeList is set but idToken is not; set idToken to the token to copy claims from, such as {headers.authorization}", ErrInvalidBinding)
	}
	if in.hasIDToken && len(b.ClaimTypeList) == 0 {
		return nil, fmt.Errorf("%w: idToken is set but claimTypeList is empty; list the claim types to copy", ErrInvalidBinding)
	}
	if opts.Client != nil {
		in.cs, in.client = opts.Client.cs, opts.Client
		return in, nil
	}
	if err := refuseEndpointsSection(opts); err != nil {
		return nil, err
	}
	if in.cs, err = resolveConnectionString(b.ConnectionStringSetting, opts); err != nil {
		return nil, err
	}
	if co := opts.clientOptions(); in.cs.IdentityBased() || co.Credential != nil || co.ClientTokensFromService {
		if in.client, err = opts.newClient(in.cs); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Resolve evaluates the binding for r and mints the client's ConnectionInfo.
// With an identity-based connection string (see BindOptions.ClientOptions) the
// first call waits for the signing key, bounded by r's context.
// A binding expression that refers to a missing header or query parameter is
// a *BindingDataError (wrapping ErrMissingBindingData): no anonymous token is
// minted in its place.
func (in *Input) Resolve(r *http.Request) (ConnectionInfo, error) {
	if in.resolve != nil {
		return in.resolve(r)
	}
	hub, opts, err := in.tokenOptions(r)
	if err != nil {
		return ConnectionInfo{}, err
	}
	if in.client != nil {
		// The request's context bounds the wait for the first key.
		return in.client.ConnectionInfo(r.Context(), hub, &opts)
	}
	return in.cs.connectionInfo(hub, &opts)
}

// tokenOptions evaluates the hub and the token options for r.
func (in *Input) tokenOptions(r *http.Request) (string, ClientTokenOptions, error) {
	hub, err := in.hub.eval(r)
	if err != nil {
		return "", ClientTokenOptions{}, err
	}
	opts := ClientTokenOptions{Lifetime: in.lifetime, Now: in.now}
	if opts.UserID, err = in.userID.eval(r); err != nil {
		return "", ClientTokenOptions{}, err
	}
	if in.hasIDToken {
		raw, err := in.idToken.eval(r)
		if err != nil {
			return "", ClientTokenOptions{}, err
		}
		if opts.Claims, err = claimsFromIDToken(raw, in.claimTypes); err != nil {
			return "", ClientTokenOptions{}, err
		}
	}
	return hub, opts, nil
}

// claimsFromIDToken reads the payload of the JWT raw, without validating it
// (as the Functions extension does), and returns the claims whose type is in
// types, in the order of types.
func claimsFromIDToken(raw string, types []string) ([]Claim, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: idToken is not a JWT (want three dot-separated parts)", ErrInvalidClaim)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("%w: idToken payload is not base64url", ErrInvalidClaim)
	}
	if err := hubproto.CheckJSONDepth(payload); err != nil {
		return nil, fmt.Errorf("%w: idToken payload: %w", ErrInvalidClaim, err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("%w: idToken payload is not a JSON object", ErrInvalidClaim)
	}
	out := make([]Claim, 0, len(types))
	for _, t := range types {
		if v, ok := claims[t]; ok {
			out = append(out, Claim{Type: t, Value: v})
		}
	}
	return out, nil
}
