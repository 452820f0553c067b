package signalr

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
)

// EndpointsSection is the app-setting section of named endpoints, as the
// Azure Functions SignalR extension reads it:
//
//	Azure:SignalR:Endpoints:<name>           = <connection string>  (a Primary)
//	Azure:SignalR:Endpoints:<name>:primary   = <connection string>
//	Azure:SignalR:Endpoints:<name>:secondary = <connection string>
//	Azure:SignalR:Endpoints:<name>:serviceUri = https://…  (identity, AuthType=azure)
//	Azure:SignalR:Endpoints:<name>:type       = primary | secondary (with serviceUri)
//
// In environment variables every ':' is "__"
// (Azure__SignalR__Endpoints__east__secondary). Key segments match
// case-insensitively.
const EndpointsSection = "Azure:SignalR:Endpoints"

// ErrInvalidSetting means an app setting of an endpoint cannot be used: an
// unknown type after the name, a duplicate endpoint, or a value that is not
// a connection string. The error names the setting.
var ErrInvalidSetting = errors.New("signalr: invalid endpoint setting")

// SettingsLister is Settings that can also list the names it has, so that
// the endpoints under EndpointsSection can be found. EnvSettings,
// DefaultSettings, *LocalSettings and ChainSettings of them implement it.
type SettingsLister interface {
	Settings
	// SettingNames returns the names of the settings that are set, in any
	// order.
	SettingNames() []string
}

// EndpointsFromSettings reads the endpoints a Functions app configures: the
// connection string in setting ("" means DefaultConnectionStringSetting),
// when set, as a Primary endpoint named by its host (host:port), and every
// endpoint under EndpointsSection when s is a SettingsLister (nil s means
// DefaultSettings()). The result is sorted by name then type, the default
// endpoint first. A setting whose name has an unknown segment after the
// endpoint's name (east:primry), two settings for the same name and type,
// two endpoints with the same URL, or a value that does not parse are
// errors wrapping ErrInvalidSetting that name the setting (never its
// value). No endpoint at all is an error wrapping ErrMissingSetting.
//
// Unlike the .NET configuration walk, which would make "east:primry" a
// Primary endpoint named "east:primry", a typo is refused: a Go user would
// rather know.
func EndpointsFromSettings(s Settings, setting string) ([]Endpoint, error) {
	if s == nil {
		s = DefaultSettings()
	}
	if setting == "" {
		setting = DefaultConnectionStringSetting
	}
	var out []Endpoint
	seen := map[string]string{} // endpointKey -> setting name
	urls := map[string]string{} // endpoint URL -> setting name
	add := func(e Endpoint, from string) error {
		k := endpointKey(e.Name, e.Type)
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("%w: setting %s: %s endpoint %q is also configured by %s; keep one", ErrInvalidSetting, from, e.Type, e.Name, prev)
		}
		u := strings.ToLower(e.ConnectionString.Endpoint())
		if prev, dup := urls[u]; dup {
			return fmt.Errorf("%w: setting %s: endpoint %s is also configured by %s; each service instance is configured once, or every message would reach it twice", ErrInvalidSetting, from, e.ConnectionString.Endpoint(), prev)
		}
		seen[k], urls[u] = from, from
		out = append(out, e)
		return nil
	}
	if raw, ok := s.LookupSetting(setting); ok && strings.TrimSpace(raw) != "" {
		cs, err := ParseConnectionString(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: setting %s: %w", ErrInvalidSetting, setting, err)
		}
		if err := add(Endpoint{Name: hostOf(cs.Endpoint()), Type: Primary, ConnectionString: cs}, setting); err != nil {
			return nil, err
		}
	}
	if l, ok := s.(SettingsLister); ok {
		named, err := endpointsUnder(l)
		if err != nil {
			return nil, err
		}
		for _, n := range named {
			if err := add(n.ep, n.setting); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: neither %s nor any %s:<name> is set; set one to a SignalR Service connection string", ErrMissingSetting, setting, EndpointsSection)
	}
	return out, nil
}

type namedEndpoint struct {
	ep      Endpoint
	setting string
}

// endpointsUnder parses the settings under EndpointsSection.
func endpointsUnder(l SettingsLister) ([]namedEndpoint, error) {
	prefix := strings.ToLower(EndpointsSection) + ":"
	// One entry per normalised key; the first raw name looks it up.
	byKey := map[string]string{}
	for _, raw := range l.SettingNames() {
		norm := strings.ToLower(strings.ReplaceAll(raw, "__", ":"))
		if !strings.HasPrefix(norm, prefix) {
			continue
		}
		if _, ok := byKey[norm]; !ok {
			byKey[norm] = raw
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type identityParts struct{ uri, uriSetting, typ, typSetting, name string }
	identities := map[string]*identityParts{}
	var out []namedEndpoint
	for _, k := range keys {
		name := byKey[k]
		value, ok := l.LookupSetting(name)
		if !ok || strings.TrimSpace(value) == "" {
			continue
		}
		// The endpoint's name keeps its case from the raw setting name.
		rest := strings.ReplaceAll(name, "__", ":")[len(prefix):]
		parts := strings.Split(rest, ":")
		if parts[0] == "" {
			return nil, fmt.Errorf("%w: setting %s: the endpoint name after %s: is empty", ErrInvalidSetting, name, EndpointsSection)
		}
		switch len(parts) {
		case 1:
			cs, err := ParseConnectionString(value)
			if err != nil {
				return nil, fmt.Errorf("%w: setting %s: %w", ErrInvalidSetting, name, err)
			}
			out = append(out, namedEndpoint{Endpoint{Name: parts[0], Type: Primary, ConnectionString: cs}, name})
		case 2:
			if t, ok := parseEndpointType(parts[1]); ok {
				cs, err := ParseConnectionString(value)
				if err != nil {
					return nil, fmt.Errorf("%w: setting %s: %w", ErrInvalidSetting, name, err)
				}
				out = append(out, namedEndpoint{Endpoint{Name: parts[0], Type: t, ConnectionString: cs}, name})
				continue
			}
			id := identities[strings.ToLower(parts[0])]
			if id == nil {
				id = &identityParts{name: parts[0]}
				identities[strings.ToLower(parts[0])] = id
			}
			switch {
			case strings.EqualFold(parts[1], "serviceUri"):
				id.uri, id.uriSetting = value, name
			case strings.EqualFold(parts[1], "type"):
				id.typ, id.typSetting = value, name
			default:
				return nil, fmt.Errorf("%w: setting %s: %q after the endpoint name is not primary or secondary (nor serviceUri or type); fix the name, e.g. %s:%s:secondary", ErrInvalidSetting, name, truncateEcho(parts[1]), EndpointsSection, parts[0])
			}
		default:
			return nil, fmt.Errorf("%w: setting %s: too many segments after %s; use %s:<name> or %s:<name>:<primary|secondary>", ErrInvalidSetting, name, EndpointsSection, EndpointsSection, EndpointsSection)
		}
	}
	ids := make([]string, 0, len(identities))
	for k := range identities {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	for _, k := range ids {
		id := identities[k]
		if id.uri == "" {
			return nil, fmt.Errorf("%w: setting %s: it needs %s:%s:serviceUri beside it", ErrInvalidSetting, id.typSetting, EndpointsSection, id.name)
		}
		t := Primary
		if id.typ != "" {
			var ok bool
			if t, ok = parseEndpointType(strings.TrimSpace(id.typ)); !ok {
				return nil, fmt.Errorf("%w: setting %s: the type is not primary or secondary", ErrInvalidSetting, id.typSetting)
			}
		}
		u, err := url.Parse(strings.TrimSpace(id.uri))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(id.uri, ";") {
			return nil, fmt.Errorf("%w: setting %s: not an http(s) service URI such as https://name.service.signalr.net", ErrInvalidSetting, id.uriSetting)
		}
		cs, err := ParseConnectionString("Endpoint=" + strings.TrimSpace(id.uri) + ";AuthType=azure;Version=1.0;")
		if err != nil {
			return nil, fmt.Errorf("%w: setting %s: %w", ErrInvalidSetting, id.uriSetting, err)
		}
		out = append(out, namedEndpoint{Endpoint{Name: id.name, Type: t, ConnectionString: cs}, id.uriSetting})
	}
	slices.SortStableFunc(out, func(a, b namedEndpoint) int {
		if c := strings.Compare(strings.ToLower(a.ep.Name), strings.ToLower(b.ep.Name)); c != 0 {
			return c
		}
		return int(a.ep.Type) - int(b.ep.Type)
	})
	return out, nil
}

// hostOf returns the host[:port] of scheme://host[:port].
func hostOf(endpoint string) string {
	if i := strings.Index(endpoint, "://"); i >= 0 {
		return endpoint[i+3:]
	}
	return endpoint
}

// envSettings is EnvSettings: a lookup plus a listing of the environment.
type envSettings struct{}

func (envSettings) LookupSetting(name string) (string, bool) {
	if v := os.Getenv(name); v != "" {
		return v, true
	}
	if strings.Contains(name, ":") {
		if v := os.Getenv(strings.ReplaceAll(name, ":", "__")); v != "" {
			return v, true
		}
	}
	return "", false
}

// SettingNames lists the environment's variables that are not empty.
func (envSettings) SettingNames() []string {
	var names []string
	for _, kv := range os.Environ() {
		if i := strings.IndexByte(kv, '='); i > 0 && i < len(kv)-1 {
			names = append(names, kv[:i])
		}
	}
	return names
}

// SettingNames lists the names in ConnectionStrings and Values.
func (s *LocalSettings) SettingNames() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.Values)+len(s.ConnectionStrings))
	for k := range s.ConnectionStrings {
		names = append(names, k)
	}
	for k := range s.Values {
		names = append(names, k)
	}
	return names
}

// SettingNames lists the environment's names, then the file's.
func (d *defaultSettings) SettingNames() []string {
	names := []string{}
	if l, ok := d.env.(SettingsLister); ok {
		names = append(names, l.SettingNames()...)
	}
	d.load()
	return append(names, d.local.SettingNames()...)
}

// chainSettings is ChainSettings.
type chainSettings []Settings

func (c chainSettings) LookupSetting(name string) (string, bool) {
	for _, s := range c {
		if s == nil {
			continue
		}
		if v, ok := s.LookupSetting(name); ok {
			return v, true
		}
	}
	return "", false
}

// SettingNames lists the names of every source that can list them.
func (c chainSettings) SettingNames() []string {
	var names []string
	for _, s := range c {
		if l, ok := s.(SettingsLister); ok {
			names = append(names, l.SettingNames()...)
		}
	}
	return names
}
