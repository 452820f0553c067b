package signalr

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ConnectionString is a parsed Azure SignalR Service connection string such
// as
//
//	Endpoint=https://example.service.signalr.net;AccessKey=...;Version=1.0;
//
// or the local emulator's
//
//	Endpoint=http://localhost;Port=8888;AccessKey=...;Version=1.0;
//
// Get one with ParseConnectionString: its parts are read through methods, so
// it cannot be built half-filled. A zero ConnectionString is unusable, and
// everything that needs it returns an error wrapping
// ErrInvalidConnectionString. Its String method and fmt verbs never print
// the access key.
type ConnectionString struct {
	endpoint       string // scheme://host[:port], Port applied
	clientEndpoint string
	serverEndpoint string
	version        string
	// key is the access key; nothing else keeps it.
	key []byte
}

// Endpoint returns the service's base URL, scheme://host[:port], with the
// Port key applied and no trailing slash ("" for a zero ConnectionString).
func (c *ConnectionString) Endpoint() string { return c.endpoint }

// ClientEndpoint returns the base of the URL handed to clients by
// negotiate: the ClientEndpoint key, or else Endpoint. The Port key does
// not apply to it.
func (c *ConnectionString) ClientEndpoint() string { return c.clientEndpoint }

// ServerEndpoint returns the base of REST API requests: the ServerEndpoint
// key, or else Endpoint.
func (c *ConnectionString) ServerEndpoint() string { return c.serverEndpoint }

// Version returns the Version key as written, or "" when absent. It is
// checked (1.x) but has no effect, as in the Azure SDKs.
func (c *ConnectionString) Version() string { return c.version }

// usable returns an error unless c came from ParseConnectionString.
func (c *ConnectionString) usable() error {
	if c == nil || len(c.key) == 0 || c.endpoint == "" {
		return fmt.Errorf("%w: the ConnectionString is empty; get one from ParseConnectionString", ErrInvalidConnectionString)
	}
	return nil
}

// String returns the connection string with the access key replaced by
// "***", so it is safe to log.
func (c ConnectionString) String() string {
	var b strings.Builder
	if c.endpoint != "" {
		fmt.Fprintf(&b, "Endpoint=%s;", c.endpoint)
	}
	if c.clientEndpoint != "" && c.clientEndpoint != c.endpoint {
		fmt.Fprintf(&b, "ClientEndpoint=%s;", c.clientEndpoint)
	}
	if c.serverEndpoint != "" && c.serverEndpoint != c.endpoint {
		fmt.Fprintf(&b, "ServerEndpoint=%s;", c.serverEndpoint)
	}
	b.WriteString("AccessKey=***;")
	if c.version != "" {
		fmt.Fprintf(&b, "Version=%s;", c.version)
	}
	return b.String()
}

// GoString is String, so that %#v does not print the access key either.
func (c ConnectionString) GoString() string { return "signalr.ConnectionString(" + c.String() + ")" }

// versionPattern is the service SDK's rule for the Version key.
var versionPattern = regexp.MustCompile(`^1\.\d+(?:[\w\-.]+)?$`)

// ParseConnectionString parses an Azure SignalR Service connection string.
//
// It accepts what the Azure SDKs accept: keys Endpoint, AccessKey, Version,
// Port, ClientEndpoint, ServerEndpoint and AuthType in any ASCII letter case, in
// any order, with spaces around keys and values and with or without a
// trailing ";", skipping segments without "=" as the SDKs do. Port replaces the port of Endpoint (and so of the client and
// server URLs unless ClientEndpoint or ServerEndpoint are given). Keys the
// SDKs define for identity-based auth (ClientId, TenantId, ClientSecret,
// ClientCert) and unknown keys are ignored.
//
// Errors wrap ErrInvalidConnectionString (or ErrUnsupportedAuthType for
// AuthType=aad, azure, azure.app and azure.msi) and name the offending key;
// they never contain the access key.
func ParseConnectionString(s string) (*ConnectionString, error) {
	props := make(map[string]string, 6)
	for i, seg := range strings.Split(s, ";") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			// The Azure SDKs skip such a segment, so this parser does too;
			// if it was a misplaced key, the missing-key error follows.
			continue
		}
		k = asciiLower(strings.TrimSpace(k))
		if k == "" {
			return nil, fmt.Errorf("%w: segment %d has an empty key before '='", ErrInvalidConnectionString, i+1)
		}
		if _, dup := props[k]; dup {
			return nil, fmt.Errorf("%w: key %s appears more than once; keep one", ErrInvalidConnectionString, canonicalKey(k))
		}
		props[k] = strings.TrimSpace(v)
	}

	// Values are echoed in errors to help fix them, but a value can hold the
	// access key when a ';' is missing, so it is redacted first.
	show := func(v string) string { return redact(v, props["accesskey"]) }

	switch strings.ToLower(props["authtype"]) {
	case "aad", "azure", "azure.app", "azure.msi":
		return nil, fmt.Errorf("%w: AuthType=%s; use a connection string with an AccessKey (from the portal's Keys page, or the local emulator's)", ErrUnsupportedAuthType, show(props["authtype"]))
	}

	raw, ok := props["endpoint"]
	if !ok || raw == "" {
		return nil, fmt.Errorf("%w: Endpoint is missing; add Endpoint=https://<name>.service.signalr.net (or Endpoint=http://localhost;Port=8888 for the emulator)", ErrInvalidConnectionString)
	}
	endpoint, err := parseBaseURL("Endpoint", raw, show)
	if err != nil {
		return nil, err
	}
	if p, ok := props["port"]; ok {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("%w: Port=%q is not a whole number from 1 to 65535", ErrInvalidConnectionString, show(p))
		}
		endpoint.Host = joinHostPort(endpoint.Hostname(), strconv.Itoa(port))
	}

	key, ok := props["accesskey"]
	if !ok || key == "" {
		return nil, fmt.Errorf("%w: AccessKey is missing; add AccessKey=<key> from the service's Keys page", ErrInvalidConnectionString)
	}

	base := endpoint.Scheme + "://" + endpoint.Host
	cs := &ConnectionString{endpoint: base, clientEndpoint: base, serverEndpoint: base, key: []byte(key)}
	if v, ok := props["version"]; ok {
		if !versionPattern.MatchString(v) {
			return nil, fmt.Errorf("%w: Version=%q is not supported; use Version=1.0 or leave it out", ErrInvalidConnectionString, show(v))
		}
		cs.version = v
	}
	if v, ok := props["clientendpoint"]; ok {
		u, err := parseBaseURL("ClientEndpoint", v, show)
		if err != nil {
			return nil, err
		}
		cs.clientEndpoint = u.Scheme + "://" + u.Host
	}
	if v, ok := props["serverendpoint"]; ok {
		u, err := parseBaseURL("ServerEndpoint", v, show)
		if err != nil {
			return nil, err
		}
		cs.serverEndpoint = u.Scheme + "://" + u.Host
	}
	return cs, nil
}

// parseBaseURL checks that raw is an absolute http(s) URL with no path beyond
// "/", no query and no fragment, and returns it without the trailing slash.
func parseBaseURL(key, raw string, show func(string) string) (*url.URL, error) {
	u, err := url.Parse(raw)
	raw = show(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("%w: %s=%q is not an absolute URL; write it as https://<host>", ErrInvalidConnectionString, key, raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %s=%q must start with http:// or https://", ErrInvalidConnectionString, key, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s must not carry user information", ErrInvalidConnectionString, key)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %s=%q must be the service root, with no path, query or fragment", ErrInvalidConnectionString, key, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: %s=%q has a port outside 1 to 65535", ErrInvalidConnectionString, key, raw)
		}
	}
	return &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, nil
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func canonicalKey(lower string) string {
	for _, k := range []string{"Endpoint", "AccessKey", "Version", "Port", "ClientEndpoint", "ServerEndpoint", "AuthType", "ClientId", "TenantId", "ClientSecret", "ClientCert"} {
		if strings.EqualFold(k, lower) {
			return k
		}
	}
	return lower
}

// asciiLower lower-cases the ASCII letters of a key name and nothing else,
// so that key names match as the SDKs' ordinal case-insensitive comparison
// matches them (no Unicode folding: "Access\u212Aey" is not AccessKey).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// redact hides key, and anything from an "AccessKey" on, in a value that is
// about to be echoed in an error. It works on the bytes of v itself: an
// offset found in a transformed copy (say, a lower-cased one, whose length
// differs when a character's case forms differ in length or the value is
// not UTF-8) would cut v in the wrong place or out of range.
func redact(v, key string) string {
	const marker = "accesskey"
	for i := 0; i+len(marker) <= len(v); i++ {
		if asciiLower(v[i:i+len(marker)]) == marker {
			v = v[:i] + "***"
			break
		}
	}
	if key != "" {
		v = strings.ReplaceAll(v, key, "***")
	}
	return v
}
