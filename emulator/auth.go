package emulator

import (
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/golang-jwt/jwt/v5"
)

// errUnknownKid is a kid header naming a key rotated out of the ring.
var errUnknownKid = errors.New("unknown kid")

// tokenError says why a token was refused. Its text is safe to return to the
// caller and to log: it never contains the token or the key.
type tokenError struct{ reason string }

func (e *tokenError) Error() string { return e.reason }

// bearerToken returns the access token of r: the Authorization header's
// Bearer token, else, when allowQuery is set, the access_token query
// parameter (browsers cannot set headers on a WebSocket).
func bearerToken(r *http.Request, allowQuery bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		const prefix = "bearer "
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			return strings.TrimSpace(h[len(prefix):])
		}
		return ""
	}
	if allowQuery {
		return r.URL.Query().Get("access_token")
	}
	return ""
}

// verifyToken checks raw: an HS256 signature made with the access key, an
// exp claim in the future, and an aud claim accepted by audienceOK.
//
// In identity mode a REST caller may instead present a Microsoft
// Entra-style token of the test issuer (see IdentityOptions), told apart
// by its algorithm.
func (e *Emulator) verifyToken(raw string, audienceOK func(aud string) bool) (jwt.MapClaims, error) {
	if err := checkTokenDepth(raw); err != nil {
		return nil, err
	}
	if s := e.ident; s.issuerKey != nil && isEntraToken(raw) {
		return s.verifyEntra(raw)
	}
	return e.verifyTokenKeys(raw, audienceOK, false)
}

// verifyClientToken is verifyToken for client tokens, which may also be
// signed with the dynamic key /api/auth/accessKey hands out, naming its
// key id in the kid header (see accesskey.go).
func (e *Emulator) verifyClientToken(raw string, audienceOK func(aud string) bool) (jwt.MapClaims, error) {
	if err := checkTokenDepth(raw); err != nil {
		return nil, err
	}
	return e.verifyTokenKeys(raw, audienceOK, true)
}

// checkTokenDepth refuses a token whose header or claims nest deeper than
// hubproto.MaxNestingDepth, before golang-jwt decodes them (with
// encoding/json, before it checks the signature). A segment that is not
// base64url is left for the parser to refuse.
func checkTokenDepth(raw string) error {
	for i, part := range strings.SplitN(raw, ".", 3)[:min(2, strings.Count(raw, ".")+1)] {
		seg, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
		if err != nil {
			continue
		}
		if hubproto.CheckJSONDepth(seg) != nil {
			what := "header"
			if i == 1 {
				what = "claims"
			}
			return &tokenError{"the access token's " + what + " nest arrays and objects more than " + strconv.Itoa(hubproto.MaxNestingDepth) + " deep, the limit"}
		}
	}
	return nil
}

func (e *Emulator) verifyTokenKeys(raw string, audienceOK func(aud string) bool, dynamic bool) (jwt.MapClaims, error) {
	if raw == "" {
		return nil, &tokenError{"no access token: send it as 'Authorization: Bearer <token>'"}
	}
	claims := jwt.MapClaims{}
	_, err := e.jwtParser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); ok && dynamic {
			// A kid of the ring names its key; one rotated out is refused
			// with a reason. Any other kid is the access key's (the .NET
			// SDK puts an arbitrary one there).
			key, known, retired := e.ident.keyByID(kid)
			if known {
				return key, nil
			}
			if retired {
				return nil, errUnknownKid
			}
		}
		return e.key, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, errUnknownKid):
		return nil, &tokenError{"access token is signed with a key (kid) that was rotated out; sign with the current one from /api/v1/auth/accessKey"}
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, &tokenError{"access token has expired"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, &tokenError{"access token has no exp claim"}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, &tokenError{"access token is not valid yet (nbf)"}
	case strings.Contains(err.Error(), "signing method"):
		return nil, &tokenError{"access token must be signed with HS256"}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, &tokenError{"access token signature is invalid: it must be HS256 signed with the access key"}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, &tokenError{"access token is malformed"}
	default:
		return nil, &tokenError{"access token is invalid"}
	}
	auds, err := claims.GetAudience()
	if err != nil || len(auds) == 0 {
		return nil, &tokenError{"access token has no aud claim"}
	}
	for _, aud := range auds {
		if audienceOK(aud) {
			return claims, nil
		}
	}
	return nil, &tokenError{"access token audience does not match the request URL"}
}

// requestBases returns scheme://host[:port] for r, as seen in its Host
// header, and the same without the port: the official SDKs leave the port
// out of aud.
func requestBases(r *http.Request) (withPort, withoutPort string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	hostOnly := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostOnly = h
		if strings.Contains(h, ":") {
			hostOnly = "[" + h + "]"
		}
	}
	return scheme + "://" + host, scheme + "://" + hostOnly
}

// clientAudience returns a check for the aud of a client token: the client
// URL <base>/client/?hub=<hub>, with or without the port.
func clientAudience(r *http.Request, hub string) func(string) bool {
	withPort, withoutPort := requestBases(r)
	suffix := "/client/?hub=" + hub
	return func(aud string) bool {
		return strings.EqualFold(aud, withPort+suffix) || strings.EqualFold(aud, withoutPort+suffix)
	}
}

// restAudience returns a check for the aud of a REST token: the request URL
// without its query, with or without the port; a query holding only
// api-version and application (as the official SDK mints it) is accepted
// too. Scheme and host compare case-insensitively, as URLs do; the path
// compares exactly, because user ids and group names in it are
// case-sensitive: a token for users/alice does not open users/ALICE.
func restAudience(r *http.Request) func(string) bool {
	withPort, withoutPort := requestBases(r)
	path := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	return func(aud string) bool {
		base, query, hasQuery := strings.Cut(aud, "?")
		base = strings.TrimSuffix(base, "/")
		if !sameURL(base, withPort, path) && !sameURL(base, withoutPort, path) {
			return false
		}
		if !hasQuery {
			return true
		}
		values, err := url.ParseQuery(query)
		if err != nil {
			return false
		}
		for k := range values {
			if k != "api-version" && k != "application" {
				return false
			}
		}
		return true
	}
}

// sameURL reports whether aud is origin followed by path, with the origin
// (scheme://host[:port]) in any case and the path exactly.
func sameURL(aud, origin, path string) bool {
	return len(aud) == len(origin)+len(path) &&
		strings.EqualFold(aud[:len(origin)], origin) && aud[len(origin):] == path
}

// userID returns the SignalR user id carried by claims: asrs.s.uid, else
// nameid, else sub. Empty means an anonymous connection.
func userID(claims jwt.MapClaims) string {
	for _, name := range []string{"asrs.s.uid", "nameid", "sub"} {
		switch v := claims[name].(type) {
		case string:
			if v != "" {
				return v
			}
		case []any:
			if len(v) > 0 {
				if s, ok := v[0].(string); ok && s != "" {
					return s
				}
			}
		}
	}
	return ""
}
