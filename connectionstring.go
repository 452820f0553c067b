package signalr

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/funcsignalr/signalr/internal/textutil"
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
// or an identity-based one (Microsoft Entra ID, no access key):
//
//	Endpoint=https://example.service.signalr.net;AuthType=azure.msi;Version=1.0;
//
// Get one with ParseConnectionString: its parts are read through methods, so
// it cannot be built half-filled. A zero ConnectionString is unusable, and
// everything that needs it returns an error wrapping
// ErrInvalidConnectionString. Its String method and fmt verbs never print
// the access key or the client secret.
type ConnectionString struct {
	endpoint       string // scheme://host[:port], Port applied
	clientEndpoint string
	serverEndpoint string
	version        string
	// key is the access key; nothing else keeps it. It is empty for an
	// identity-based connection string.
	key []byte

	// The identity-based keys; authType is "" for an access key.
	authType     AuthType
	clientID     string
	tenantID     string
	clientSecret string // never printed
	clientCert   string // a certificate file path
}

// AuthType is the AuthType key of a connection string: how the app proves
// who it is to the service.
type AuthType string

// The AuthType values the Azure SDKs define. Any other value of the key
// means an access key, as in the SDKs.
const (
	// AuthTypeAccessKey (no AuthType key) signs requests with AccessKey.
	AuthTypeAccessKey AuthType = ""
	// AuthTypeAzure uses the default Azure credential chain (environment,
	// workload identity, managed identity, Azure CLI...).
	AuthTypeAzure AuthType = "azure"
	// AuthTypeAzureMSI uses a managed identity: system-assigned, or the
	// user-assigned one named by ClientId.
	AuthTypeAzureMSI AuthType = "azure.msi"
	// AuthTypeAzureApp uses a service principal: TenantId, ClientId and
	// ClientSecret or ClientCert (a certificate file).
	AuthTypeAzureApp AuthType = "azure.app"
	// AuthTypeAAD is the older spelling: a system-assigned managed
	// identity without ClientId, a user-assigned one with ClientId alone,
	// a service principal with ClientId and TenantId.
	AuthTypeAAD AuthType = "aad"
)

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

// AuthType returns how the connection string authenticates:
// AuthTypeAccessKey ("") for an access key, else the AuthType key in lower
// case. An identity-based connection string needs a credential (see
// ClientOptions.Credential and BindOptions.NewCredential).
func (c *ConnectionString) AuthType() AuthType { return c.authType }

// IdentityBased reports whether the connection string has no access key
// and authenticates with Microsoft Entra ID instead.
func (c *ConnectionString) IdentityBased() bool { return c != nil && c.authType != "" }

// ClientID returns the ClientId key: the application (client) id of a
// service principal or of a user-assigned managed identity ("" if absent).
func (c *ConnectionString) ClientID() string { return c.clientID }

// TenantID returns the TenantId key ("" if absent).
func (c *ConnectionString) TenantID() string { return c.tenantID }

// ClientCertPath returns the certificate file of a service principal: the
// ClientCert key (the Azure SDKs' name) or ClientCertPath ("" if absent).
func (c *ConnectionString) ClientCertPath() string { return c.clientCert }

// ClientSecret returns the ClientSecret key of a service principal ("" if
// absent). It is a secret: hand it to a credential constructor and never
// log it. String and the fmt verbs print "***" in its place.
func (c *ConnectionString) ClientSecret() string { return c.clientSecret }

// usable returns an error unless c came from ParseConnectionString.
func (c *ConnectionString) usable() error {
	if c == nil || (len(c.key) == 0 && c.authType == "") || c.endpoint == "" {
		return fmt.Errorf("%w: the ConnectionString is empty; get one from ParseConnectionString", ErrInvalidConnectionString)
	}
	return nil
}

// String returns the connection string with the access key and the client
// secret replaced by "***", so it is safe to log.
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
	if c.authType == "" {
		b.WriteString("AccessKey=***;")
	} else {
		fmt.Fprintf(&b, "AuthType=%s;", c.authType)
		if c.clientID != "" {
			fmt.Fprintf(&b, "ClientId=%s;", c.clientID)
		}
		if c.tenantID != "" {
			fmt.Fprintf(&b, "TenantId=%s;", c.tenantID)
		}
		if c.clientSecret != "" {
			b.WriteString("ClientSecret=***;")
		}
		if c.clientCert != "" {
			// A path has no business holding a secret, but one
			// swallowed by a missing ';' is hidden all the same.
			fmt.Fprintf(&b, "ClientCert=%s;", redact(c.clientCert, c.clientSecret))
		}
	}
	if c.version != "" {
		fmt.Fprintf(&b, "Version=%s;", c.version)
	}
	return b.String()
}

// GoString is String, so that %#v does not print the secrets either.
func (c ConnectionString) GoString() string { return "signalr.ConnectionString(" + c.String() + ")" }

// versionPattern is the service SDK's rule for the Version key.
var versionPattern = regexp.MustCompile(`^1\.\d+(?:[\w\-.]+)?$`)

// ParseConnectionString parses an Azure SignalR Service connection string.
//
// It accepts what the Azure SDKs accept: keys Endpoint, AccessKey, Version,
// Port, ClientEndpoint, ServerEndpoint and AuthType in any ASCII letter case, in
// any order, with spaces around keys and values and with or without a
// trailing ";", skipping segments without "=" as the SDKs do. Port replaces
// the port of Endpoint (and so of the client and server URLs unless
// ClientEndpoint or ServerEndpoint are given). Unknown keys are ignored.
//
// AuthType selects Microsoft Entra ID instead of an access key (AccessKey
// is then not needed, and ignored when present):
//
//   - AuthType=azure: the default Azure credential chain.
//   - AuthType=azure.msi: a managed identity; ClientId (optional) names a
//     user-assigned one.
//   - AuthType=azure.app: a service principal; TenantId, ClientId and
//     either ClientSecret or ClientCert (a certificate file path;
//     ClientCertPath is accepted as another name for it) are required.
//   - AuthType=aad: the older form; see AuthTypeAAD.
//
// Any other AuthType value means an access key, as in the SDKs. Keys that
// an AuthType does not use (a ClientSecret with azure.msi, say) are an
// error rather than silently ignored. Turning the identity keys into a
// credential is the job of package
// github.com/funcsignalr/signalr/azidentity, which this package does not
// import.
//
// Errors wrap ErrInvalidConnectionString and name the offending key; they
// never contain the access key or the client secret.
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
		k = textutil.LowerASCII(strings.TrimSpace(k))
		if k == "" {
			return nil, fmt.Errorf("%w: segment %d has an empty key before '='", ErrInvalidConnectionString, i+1)
		}
		if _, dup := props[k]; dup {
			return nil, fmt.Errorf("%w: key %s appears more than once; keep one", ErrInvalidConnectionString, canonicalKey(k))
		}
		props[k] = strings.TrimSpace(v)
	}

	// Values are echoed in errors to help fix them, but a value can hold the
	// access key or the client secret when a ';' is missing, so they are
	// redacted first.
	show := func(v string) string { return redact(v, props["accesskey"], props["clientsecret"]) }

	var authType AuthType
	switch a := AuthType(textutil.LowerASCII(props["authtype"])); a {
	case AuthTypeAAD, AuthTypeAzure, AuthTypeAzureApp, AuthTypeAzureMSI:
		authType = a
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

	base := endpoint.Scheme + "://" + endpoint.Host
	cs := &ConnectionString{endpoint: base, clientEndpoint: base, serverEndpoint: base}
	if authType == "" {
		key, ok := props["accesskey"]
		if !ok || key == "" {
			return nil, fmt.Errorf("%w: AccessKey is missing; add AccessKey=<key> from the service's Keys page, or AuthType=azure.msi (or azure, azure.app) to use Microsoft Entra ID", ErrInvalidConnectionString)
		}
		cs.key = []byte(key)
	} else if err := cs.parseIdentity(authType, props, show); err != nil {
		return nil, err
	}
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

// parseIdentity reads and checks the identity keys for authType.
func (cs *ConnectionString) parseIdentity(authType AuthType, props map[string]string, show func(string) string) error {
	cs.authType = authType
	cs.clientID, cs.tenantID, cs.clientSecret = props["clientid"], props["tenantid"], props["clientsecret"]
	cert, hasCert := props["clientcert"]
	if p, ok := props["clientcertpath"]; ok {
		if hasCert {
			return fmt.Errorf("%w: ClientCert and ClientCertPath are both set; they mean the same file, keep one", ErrInvalidConnectionString)
		}
		cert = p
	}
	cs.clientCert = cert
	for _, k := range []string{"clientid", "tenantid", "clientsecret", "clientcert", "clientcertpath"} {
		if v, ok := props[k]; ok && v == "" {
			return fmt.Errorf("%w: %s is empty; give it a value or remove it", ErrInvalidConnectionString, canonicalKey(k))
		}
	}
	if !isIDText(cs.clientID) {
		return fmt.Errorf("%w: ClientId=%q holds characters an id cannot have; copy the application (client) id GUID from the portal", ErrInvalidConnectionString, show(cs.clientID))
	}
	if !isIDText(cs.tenantID) {
		return fmt.Errorf("%w: TenantId=%q holds characters a tenant id cannot have; copy the directory (tenant) id GUID or domain from the portal", ErrInvalidConnectionString, show(cs.tenantID))
	}
	servicePrincipal := authType == AuthTypeAzureApp || (authType == AuthTypeAAD && cs.tenantID != "")
	if !servicePrincipal {
		switch {
		case cs.clientSecret != "":
			return fmt.Errorf("%w: ClientSecret is set but AuthType=%s does not use it; remove it, or use AuthType=azure.app with TenantId and ClientId", ErrInvalidConnectionString, authType)
		case cs.clientCert != "":
			return fmt.Errorf("%w: ClientCert is set but AuthType=%s does not use it; remove it, or use AuthType=azure.app with TenantId and ClientId", ErrInvalidConnectionString, authType)
		case authType == AuthTypeAzureMSI && cs.tenantID != "":
			return fmt.Errorf("%w: TenantId is set but a managed identity (AuthType=azure.msi) does not use it; remove it, or use AuthType=azure.app for a service principal", ErrInvalidConnectionString)
		}
		return nil
	}
	switch {
	case cs.clientID == "":
		return fmt.Errorf("%w: ClientId is missing; AuthType=%s (a service principal) needs ClientId=<application id>", ErrInvalidConnectionString, authType)
	case cs.tenantID == "":
		return fmt.Errorf("%w: TenantId is missing; AuthType=%s (a service principal) needs TenantId=<directory id>", ErrInvalidConnectionString, authType)
	case cs.clientSecret == "" && cs.clientCert == "":
		return fmt.Errorf("%w: ClientSecret or ClientCert is missing; AuthType=%s (a service principal) needs ClientSecret=<secret> or ClientCert=<certificate file path>", ErrInvalidConnectionString, authType)
	case cs.clientSecret != "" && cs.clientCert != "":
		return fmt.Errorf("%w: ClientSecret and ClientCert are both set; keep the one the service principal uses", ErrInvalidConnectionString)
	}
	return nil
}

// isIDText reports whether s can be a client id (a GUID) or a tenant id (a
// GUID or a domain name): ASCII letters, digits, '-', '.' and '_'.
func isIDText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
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
	for _, k := range []string{"Endpoint", "AccessKey", "Version", "Port", "ClientEndpoint", "ServerEndpoint", "AuthType", "ClientId", "TenantId", "ClientSecret", "ClientCert", "ClientCertPath"} {
		if strings.EqualFold(k, lower) {
			return k
		}
	}
	return lower
}

// redact hides the secrets, and anything from an "AccessKey" or
// "ClientSecret" on, in a value that is about to be echoed in an error. It
// works on the bytes of v itself: an offset found in a transformed copy
// (say, a lower-cased one, whose length differs when a character's case
// forms differ in length or the value is not UTF-8) would cut v in the
// wrong place or out of range.
func redact(v string, secrets ...string) string {
	for _, marker := range [...]string{"accesskey", "clientsecret"} {
		for i := 0; i+len(marker) <= len(v); i++ {
			if textutil.LowerASCII(v[i:i+len(marker)]) == marker {
				v = v[:i] + "***"
				break
			}
		}
	}
	for _, s := range secrets {
		if s != "" {
			v = strings.ReplaceAll(v, s, "***")
		}
	}
	return v
}
