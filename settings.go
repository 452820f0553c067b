package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/funcsignalr/signalr/internal/hubproto"
)

// DefaultConnectionStringSetting is the app setting a binding reads its
// connection string from when connectionStringSetting is not given.
const DefaultConnectionStringSetting = "AzureSignalRConnectionString"

// Settings looks up app settings by name, the way the Functions host looks
// up connectionStringSetting.
type Settings interface {
	// LookupSetting returns the value of the named setting and whether it
	// is set.
	LookupSetting(name string) (string, bool)
}

// SettingsFunc adapts a function to Settings.
type SettingsFunc func(name string) (string, bool)

// LookupSetting calls f.
func (f SettingsFunc) LookupSetting(name string) (string, bool) { return f(name) }

// EnvSettings reads settings from environment variables. A name with ':'
// is also looked up with "__" in its place, as the Functions host does. A
// variable set to the empty string counts as unset, so `export
// AzureSignalRConnectionString=` does not hide local.settings.json.
func EnvSettings() Settings {
	return SettingsFunc(func(name string) (string, bool) {
		if v := os.Getenv(name); v != "" {
			return v, true
		}
		if strings.Contains(name, ":") {
			if v := os.Getenv(strings.ReplaceAll(name, ":", "__")); v != "" {
				return v, true
			}
		}
		return "", false
	})
}

// LocalSettings is the content of a Functions local.settings.json file: its
// Values and ConnectionStrings sections. Setting names are matched
// case-insensitively, as in .NET configuration.
type LocalSettings struct {
	// Values are the app settings.
	Values map[string]string `json:"Values"`
	// ConnectionStrings are looked up before Values.
	ConnectionStrings map[string]string `json:"ConnectionStrings"`
}

// LookupSetting looks name up in ConnectionStrings, then in Values.
func (s *LocalSettings) LookupSetting(name string) (string, bool) {
	if s == nil {
		return "", false
	}
	for _, m := range []map[string]string{s.ConnectionStrings, s.Values} {
		if v, ok := m[name]; ok {
			return v, true
		}
		for k, v := range m {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
	}
	return "", false
}

// LoadLocalSettings reads a local.settings.json file. A file that does not
// exist is an error wrapping fs.ErrNotExist.
func LoadLocalSettings(path string) (*LocalSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s LocalSettings
	if err := hubproto.CheckJSONDepth(data); err != nil {
		return nil, fmt.Errorf("signalr: %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("signalr: %s is not a valid local.settings.json: %w", path, err)
	}
	return &s, nil
}

// ChainSettings looks a setting up in each of sources in turn and returns the
// first hit.
func ChainSettings(sources ...Settings) Settings {
	return SettingsFunc(func(name string) (string, bool) {
		for _, s := range sources {
			if s == nil {
				continue
			}
			if v, ok := s.LookupSetting(name); ok {
				return v, true
			}
		}
		return "", false
	})
}

// DefaultSettings is what a binding uses when BindOptions.Settings is nil:
// the environment first, then local.settings.json in the working directory,
// if that file exists (its ConnectionStrings, then its Values, as Functions
// Core Tools reads it). A local.settings.json that exists but cannot be read
// is not silently ignored: a binding whose setting is then missing reports
// the file's error.
func DefaultSettings() Settings {
	return &defaultSettings{env: EnvSettings(), path: "local.settings.json"}
}

type defaultSettings struct {
	env  Settings
	path string

	once  sync.Once
	local *LocalSettings
	err   error // why the file could not be used, if it exists
}

func (d *defaultSettings) LookupSetting(name string) (string, bool) {
	if v, ok := d.env.LookupSetting(name); ok {
		return v, true
	}
	d.once.Do(func() {
		d.local, d.err = LoadLocalSettings(d.path)
		if errors.Is(d.err, fs.ErrNotExist) {
			d.err = nil
		}
	})
	return d.local.LookupSetting(name)
}

// loadError is the error reading local.settings.json, if it exists and could
// not be read.
func (d *defaultSettings) loadError() error { return d.err }

// BindOptions tell a binding where its connection string comes from. The nil
// value means: look the setting up in DefaultSettings.
type BindOptions struct {
	// ConnectionString, when set, is used as is and no setting is read.
	ConnectionString *ConnectionString
	// Sender, when set, is what an output binding sends through, and its
	// connection string setting is not read: pass one *Client to every
	// output binding of a connection string so they share its connection
	// pool. Nil means a new Client for the binding's connection string.
	// Input bindings use it only when it is a *Client with a Credential or
	// ClientTokensFromService, so that negotiate shares its Microsoft
	// Entra token and key (fetched once for all bindings); otherwise they
	// ignore it.
	Sender Sender
	// Credential authenticates bindings whose connection string is
	// identity-based (AuthType=azure, azure.msi, azure.app or aad), and
	// switches those with an access key to Microsoft Entra ID too; see
	// ClientOptions.Credential. Nil means NewCredential is asked for one
	// when a connection string needs it.
	Credential azcore.TokenCredential
	// NewCredential makes the credential of an identity-based connection
	// string when Credential is nil, for example
	// azidentity.NewCredential from package
	// github.com/funcsignalr/signalr/azidentity (kept out of this package,
	// so apps that use access keys do not build the Azure identity
	// libraries). Nil means an identity-based connection string without
	// Credential fails to bind with ErrMissingCredential.
	NewCredential func(*ConnectionString) (azcore.TokenCredential, error)
	// ClientTokensFromService makes input bindings ask the service to
	// mint client tokens; see ClientOptions.ClientTokensFromService.
	ClientTokensFromService bool
	// Settings resolves connectionStringSetting and %NAME% references in
	// binding properties; nil means DefaultSettings().
	Settings Settings
	// TokenLifetime is the lifetime of client access tokens minted by an
	// input binding; zero means DefaultTokenLifetime. Otherwise it must be
	// at least one second, or Bind fails; a fraction of a second is
	// rounded up (tokens count whole seconds).
	TokenLifetime time.Duration
	// Now returns the current time; nil means time.Now. Tests set it to get
	// reproducible tokens.
	Now func() time.Time
}

// withDefaults returns a copy of opts (nil allowed) whose Settings is set,
// so that %NAME% references and the connection string come from one lookup
// chain.
func (opts *BindOptions) withDefaults() *BindOptions {
	var o BindOptions
	if opts != nil {
		o = *opts
	}
	if o.Settings == nil {
		o.Settings = DefaultSettings()
	}
	return &o
}

// resolveConnectionString finds and parses the connection string a binding
// names by setting ("" means DefaultConnectionStringSetting).
func resolveConnectionString(setting string, opts *BindOptions) (*ConnectionString, error) {
	if opts != nil && opts.ConnectionString != nil {
		if err := opts.ConnectionString.usable(); err != nil {
			return nil, fmt.Errorf("BindOptions.ConnectionString: %w", err)
		}
		return opts.ConnectionString, nil
	}
	if setting == "" {
		setting = DefaultConnectionStringSetting
	}
	var settings Settings
	if opts != nil {
		settings = opts.Settings
	}
	if settings == nil {
		settings = DefaultSettings()
	}
	raw, ok := settings.LookupSetting(setting)
	if !ok {
		// Functions also accepts ConnectionStrings:<name>.
		raw, ok = settings.LookupSetting("ConnectionStrings:" + setting)
	}
	if !ok || strings.TrimSpace(raw) == "" {
		if d, isDefault := settings.(*defaultSettings); isDefault && d.loadError() != nil {
			return nil, fmt.Errorf("%w: %s is not set in the environment, and local.settings.json could not be read: %v", ErrMissingSetting, setting, d.loadError())
		}
		return nil, fmt.Errorf("%w: %s is not set; set the environment variable %s or Values.%s in local.settings.json to the SignalR Service connection string (for a local one, run the emulator: `go run github.com/funcsignalr/signalr/cmd/signalr-emulator@latest`)",
			ErrMissingSetting, setting, setting, setting)
	}
	cs, err := ParseConnectionString(raw)
	if err != nil {
		return nil, fmt.Errorf("setting %s: %w", setting, err)
	}
	return cs, nil
}

// credentialFor returns the credential bindings use for cs: Credential,
// else NewCredential(cs) when cs is identity-based, else nil (the access
// key).
func (opts *BindOptions) credentialFor(cs *ConnectionString) (azcore.TokenCredential, error) {
	if opts != nil && opts.Credential != nil {
		return opts.Credential, nil
	}
	if !cs.IdentityBased() {
		return nil, nil
	}
	if opts == nil || opts.NewCredential == nil {
		return nil, fmt.Errorf("%w: the connection string has AuthType=%s; set BindOptions.Credential, or BindOptions.NewCredential to azidentity.NewCredential (package github.com/funcsignalr/signalr/azidentity)", ErrMissingCredential, cs.authType)
	}
	cred, err := opts.NewCredential(cs)
	if err != nil {
		return nil, fmt.Errorf("BindOptions.NewCredential for AuthType=%s: %w", cs.authType, err)
	}
	if cred == nil {
		return nil, fmt.Errorf("%w: BindOptions.NewCredential returned no credential for AuthType=%s", ErrMissingCredential, cs.authType)
	}
	return cred, nil
}

// newClient makes the Client a binding uses for cs, with its credential.
func (opts *BindOptions) newClient(cs *ConnectionString) (*Client, error) {
	cred, err := opts.credentialFor(cs)
	if err != nil {
		return nil, err
	}
	co := &ClientOptions{Credential: cred}
	if opts != nil {
		co.Now = opts.Now
		co.ClientTokensFromService = opts.ClientTokensFromService
	}
	return NewClient(cs, co)
}
