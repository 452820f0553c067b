package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/internal/httpjson"
)

// The system claims NegotiateOptions put in client tokens, as the Azure
// SignalR SDKs write them.
const (
	// ClaimDiagnosticClient ("true") marks a diagnostic client, whose
	// messages the service logs in both directions.
	ClaimDiagnosticClient = "asrs.s.dc"
	// ClaimDetailedErrors ("True") asks the service for detailed errors.
	ClaimDetailedErrors = "asrs.s.derror"
	// ClaimCloseOnAuthenticationExpiration ("true") makes the service close
	// the connection, allowing reconnect, once ClaimAuthenticationExpiresOn
	// has passed.
	ClaimCloseOnAuthenticationExpiration = "asrs.s.coae"
	// ClaimAuthenticationExpiresOn is when the connection's authentication
	// expires, in Unix seconds.
	ClaimAuthenticationExpiresOn = "asrs.s.aeo"
)

// NegotiateOptions are the negotiate knobs of the Azure SignalR SDKs
// (NegotiationOptions, AddDefaultAuth) on top of a ConnectionInfoBinding.
// The nil value means: no validation, the binding's user and lifetime, no
// diagnostic clients, no close on expiration, no application prefix.
type NegotiateOptions struct {
	// Validate, when set, checks the caller before a token is minted (as
	// AddDefaultAuth does), for instance the Authorization bearer token
	// with ValidateJWT. An error is answered 401 with the error's text and
	// no token. The identity it returns, when not nil, sets the token's
	// user (when its UserID is not empty; the binding's userId is then not
	// evaluated), adds its Claims and says when the authentication expires.
	Validate func(r *http.Request) (*NegotiateIdentity, error)
	// TokenLifetime is the lifetime of the access token; zero means the
	// binding's (BindOptions.TokenLifetime, else DefaultTokenLifetime). It
	// must be at least one second.
	TokenLifetime time.Duration
	// DiagnosticClient, when set, picks the callers whose connections are
	// diagnostic clients (ClaimDiagnosticClient), such as those with
	// ?diag=yes. The service allows at most 100 of them per instance.
	DiagnosticClient func(r *http.Request) bool
	// EnableDetailedErrors sets ClaimDetailedErrors.
	EnableDetailedErrors bool
	// CloseOnAuthenticationExpiration asks the service to close each
	// connection when its authentication expires
	// (ClaimCloseOnAuthenticationExpiration and
	// ClaimAuthenticationExpiresOn): at NegotiateIdentity.ExpiresOn when
	// the validator gives one, else when the token expires.
	CloseOnAuthenticationExpiration bool
	// ApplicationName prefixes the hub as the SDKs' ApplicationName does:
	// the client connects to hub lower(ApplicationName)_lower(hub), which
	// the token's audience names too. Use the same as
	// HubOptions.ApplicationName.
	ApplicationName string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// NegotiateIdentity is who a NegotiateOptions.Validate found the caller to
// be.
type NegotiateIdentity struct {
	// UserID is the token's user; empty keeps the binding's userId.
	UserID string
	// Claims are added to the token (see ClientTokenOptions.Claims).
	Claims []Claim
	// ExpiresOn is when the caller's authentication expires; zero means
	// unknown. CloseOnAuthenticationExpiration closes the connection then.
	ExpiresOn time.Time
}

// ErrUnauthenticated is wrapped by the 401 errors of a validated negotiate.
var ErrUnauthenticated = errors.New("signalr: the caller is not authenticated")

// NewNegotiateHandler returns the negotiate endpoint of NegotiateHandler
// with opts applied (nil opts is NegotiateHandler(in)). A failed
// NegotiateOptions.Validate is answered 401 with a WWW-Authenticate: Bearer
// header and never a token. An unusable option is an error wrapping
// ErrInvalidArgument.
func NewNegotiateHandler(in *Input, opts *NegotiateOptions) (http.Handler, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: NewNegotiateHandler needs an Input from ConnectionInfoBinding.Bind", ErrInvalidArgument)
	}
	var o NegotiateOptions
	if opts != nil {
		o = *opts
	}
	if o.TokenLifetime != 0 {
		if err := checkLifetime("NegotiateOptions.TokenLifetime", o.TokenLifetime); err != nil {
			return nil, err
		}
	}
	if o.ApplicationName != "" {
		if err := validateHub(strings.ToLower(o.ApplicationName) + "_hub"); err != nil {
			return nil, fmt.Errorf("%w: NegotiateOptions.ApplicationName %q cannot prefix a hub name: %w", ErrInvalidArgument, o.ApplicationName, err)
		}
	}
	if in.client != nil && in.client.serviceTokens && (o.DiagnosticClient != nil || o.EnableDetailedErrors || o.CloseOnAuthenticationExpiration) {
		return nil, fmt.Errorf("%w: NegotiateOptions: the service mints the tokens (ClientTokensFromService) and takes no system claims; unset the diagnostic, detailed-error and close-on-expiration options, or mint tokens locally", ErrInvalidArgument)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			w.Header().Set("Allow", "POST, GET")
			httpjson.WriteError(w, http.StatusMethodNotAllowed, "negotiate accepts POST and GET")
			return
		}
		info, err := in.resolveWith(r, &o)
		if err != nil {
			status := negotiateStatus(err)
			setRetryAfter(w, err)
			if errors.Is(err, ErrUnauthenticated) {
				status = http.StatusUnauthorized
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
			httpjson.WriteError(w, status, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(info)
	}), nil
}

// resolveWith is Resolve with the negotiate options applied.
func (in *Input) resolveWith(r *http.Request, o *NegotiateOptions) (ConnectionInfo, error) {
	var id *NegotiateIdentity
	if o.Validate != nil {
		var err error
		if id, err = o.Validate(r); err != nil {
			if errors.Is(err, ErrUnauthenticated) {
				return ConnectionInfo{}, err
			}
			return ConnectionInfo{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
		}
	}
	hub, err := in.hub.eval(r)
	if err != nil {
		return ConnectionInfo{}, err
	}
	if o.ApplicationName != "" {
		hub = strings.ToLower(o.ApplicationName) + "_" + strings.ToLower(hub)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	} else if in.now != nil {
		now = in.now
	}
	opts := ClientTokenOptions{Lifetime: in.lifetime, Now: now}
	if o.TokenLifetime != 0 {
		opts.Lifetime = o.TokenLifetime
	}
	if id != nil && id.UserID != "" {
		opts.UserID = id.UserID
	} else if opts.UserID, err = in.userID.eval(r); err != nil {
		return ConnectionInfo{}, err
	}
	if in.hasIDToken {
		raw, err := in.idToken.eval(r)
		if err != nil {
			return ConnectionInfo{}, err
		}
		if opts.Claims, err = claimsFromIDToken(raw, in.claimTypes); err != nil {
			return ConnectionInfo{}, err
		}
	}
	if id != nil {
		opts.Claims = append(opts.Claims, id.Claims...)
	}
	if o.DiagnosticClient != nil && o.DiagnosticClient(r) {
		opts.system = append(opts.system, Claim{ClaimDiagnosticClient, "true"})
	}
	if o.EnableDetailedErrors {
		opts.system = append(opts.system, Claim{ClaimDetailedErrors, "True"})
	}
	if o.CloseOnAuthenticationExpiration {
		lifetime := opts.Lifetime
		if lifetime == 0 {
			lifetime = DefaultTokenLifetime
		}
		expires := now().Add(lifetime)
		if id != nil && !id.ExpiresOn.IsZero() {
			expires = id.ExpiresOn
		}
		opts.system = append(opts.system,
			Claim{ClaimCloseOnAuthenticationExpiration, "true"},
			Claim{ClaimAuthenticationExpiresOn, strconv.FormatInt(expires.Unix(), 10)})
	}
	if in.client != nil {
		return in.client.ConnectionInfo(r.Context(), hub, &opts)
	}
	return in.cs.connectionInfo(hub, &opts)
}

// BearerToken returns the token of r's "Authorization: Bearer <token>"
// header (the scheme matched case-insensitively), and whether there is one.
func BearerToken(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(h[7:])
	return tok, tok != ""
}

// JWTValidationOptions tune ValidateJWT. The nil value means: the user is
// the sub claim, no claims are copied, tokens must have an expiry.
type JWTValidationOptions struct {
	// UserClaim names the claim that holds the user id; empty means "sub".
	UserClaim string
	// CopyClaims names claims copied from the caller's token into the
	// client token (string, number or boolean values, or arrays of them).
	CopyClaims []string
	// ParserOptions add checks to golang-jwt's parser, such as
	// jwt.WithAudience, jwt.WithIssuer and jwt.WithValidMethods (which
	// every validator should set). jwt.WithExpirationRequired is always
	// on, as in the Azure SignalR extension's default validation.
	ParserOptions []jwt.ParserOption
}

// ValidateJWT returns a NegotiateOptions.Validate that checks the
// Authorization bearer token with golang-jwt and keyFunc, the Go form of
// AddDefaultAuth: a missing, malformed, expired or badly signed token is
// refused (answered 401), a valid one gives the user, the copied claims and
// its expiry. opts may be nil.
func ValidateJWT(keyFunc jwt.Keyfunc, opts *JWTValidationOptions) func(*http.Request) (*NegotiateIdentity, error) {
	var o JWTValidationOptions
	if opts != nil {
		o = *opts
	}
	if o.UserClaim == "" {
		o.UserClaim = "sub"
	}
	parser := jwt.NewParser(append([]jwt.ParserOption{jwt.WithExpirationRequired()}, o.ParserOptions...)...)
	return func(r *http.Request) (*NegotiateIdentity, error) {
		raw, ok := BearerToken(r)
		if !ok {
			return nil, fmt.Errorf("%w: no Authorization: Bearer <token> header", ErrUnauthenticated)
		}
		if keyFunc == nil {
			return nil, fmt.Errorf("%w: ValidateJWT has no key function", ErrUnauthenticated)
		}
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(raw, claims, keyFunc); err != nil {
			return nil, fmt.Errorf("%w: the bearer token is not valid: %v", ErrUnauthenticated, err)
		}
		id := &NegotiateIdentity{}
		if v, ok := claims[o.UserClaim]; ok {
			s, isString := v.(string)
			if !isString {
				return nil, fmt.Errorf("%w: the bearer token's %s claim is not a string", ErrUnauthenticated, o.UserClaim)
			}
			id.UserID = s
		}
		for _, t := range o.CopyClaims {
			if v, ok := claims[t]; ok {
				id.Claims = append(id.Claims, Claim{Type: t, Value: v})
			}
		}
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			id.ExpiresOn = exp.Time
		}
		return id, nil
	}
}
