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
func EnvSettings() Settings { return envSettings{} }

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
func ChainSettings(sources ...Settings) Settings { return chainSettings(sources) }

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
	d.load()
	return d.local.LookupSetting(name)
}

// load reads local.settings.json once.
func (d *defaultSettings) load() {
	d.once.Do(func() {
		d.local, d.err = LoadLocalSettings(d.path)
		if errors.Is(d.err, fs.ErrNotExist) {
			d.err = nil
		}
	})
}

// loadError is the error reading local.settings.json, if it exists and could
// not be read.
func (d *defaultSettings) loadError() error { return d.err }

// BindOptions tell a binding where its connection string comes from and
// which Client it goes through. The nil value means: look the setting up in
// DefaultSettings and make a Client with the default ClientOptions.
type BindOptions struct {
	// Client, when set, is the Client bindings go through: outputs send
	// through it and inputs mint client tokens with it (so a Credential's
	// Microsoft Entra token and key, or ClientTokensFromService, are
	// shared by every binding), and no connection string setting is read.
	// Pass one Client to every binding of a connection string so they
	// share its connection pool. Nil means each binding makes a Client for
	// its connection string, with ClientOptions. An output that sends
	// through something else (a fake from signalrtest, your own Sender) is
	// made with NewOutput.
	Client *Client
	// ConnectionString, when set, is used as is and no setting is read.
	// It cannot be set with Client, which has its own.
	ConnectionString *ConnectionString
	// ClientOptions tune the Client a binding makes when Client is nil
	// (see ClientOptions; its Credential then authenticates every binding
	// with Microsoft Entra ID, and ClientTokensFromService makes inputs ask
	// the service to mint client tokens). Nil means the defaults. It
	// cannot be set with Client.
	ClientOptions *ClientOptions
	// NewCredential makes the credential of an identity-based connection
	// string (AuthType=azure, azure.msi, azure.app or aad) when
	// ClientOptions.Credential is nil, for example
	// azidentity.NewCredential from package
	// github.com/funcsignalr/signalr/azidentity (kept out of this package,
	// so apps that use access keys do not build the Azure identity
	// libraries). Nil means an identity-based connection string without a
	// credential fails to bind with ErrMissingCredential.
	NewCredential func(*ConnectionString) (azcore.TokenCredential, error)
	// Settings resolves connectionStringSetting and %NAME% references in
	// binding properties; nil means DefaultSettings().
	Settings Settings
	// TokenLifetime is the lifetime of client access tokens minted by an
	// input binding; zero means DefaultTokenLifetime. Otherwise it must be
	// at least one second, or Bind fails; a fraction of a second is
	// rounded up (tokens count whole seconds).
	TokenLifetime time.Duration
}

// check reports options that contradict each other.
func (opts *BindOptions) check() error {
	if opts == nil || opts.Client == nil {
		return nil
	}
	if opts.ConnectionString != nil {
		return fmt.Errorf("%w: BindOptions.Client and BindOptions.ConnectionString are both set; set one (the Client has its own connection string)", ErrInvalidBinding)
	}
	if opts.ClientOptions != nil {
		return fmt.Errorf("%w: BindOptions.Client and BindOptions.ClientOptions are both set; set one (ClientOptions tune the Client a binding makes when it is given none)", ErrInvalidBinding)
	}
	if opts.Client.cs == nil || opts.Client.hc == nil {
		return fmt.Errorf("%w: BindOptions.Client is not a Client from NewClient", ErrInvalidBinding)
	}
	return nil
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

// credentialFor returns the credential bindings use for cs:
// ClientOptions.Credential, else NewCredential(cs) when cs is
// identity-based, else nil (the access key).
func (opts *BindOptions) credentialFor(cs *ConnectionString) (azcore.TokenCredential, error) {
	if opts != nil && opts.ClientOptions != nil && opts.ClientOptions.Credential != nil {
		return opts.ClientOptions.Credential, nil
	}
	if !cs.IdentityBased() {
		return nil, nil
	}
	if opts == nil || opts.NewCredential == nil {
		return nil, fmt.Errorf("%w: the connection string has AuthType=%s; set BindOptions.ClientOptions.Credential, or BindOptions.NewCredential to azidentity.NewCredential (package github.com/funcsignalr/signalr/azidentity)", ErrMissingCredential, cs.authType)
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

// clientOptions returns BindOptions.ClientOptions, or the defaults.
func (opts *BindOptions) clientOptions() ClientOptions {
	if opts != nil && opts.ClientOptions != nil {
		return *opts.ClientOptions
	}
	return ClientOptions{}
}

// newClient makes the Client a binding uses for cs: ClientOptions, with
// the credential credentialFor finds.
func (opts *BindOptions) newClient(cs *ConnectionString) (*Client, error) {
	cred, err := opts.credentialFor(cs)
	if err != nil {
		return nil, err
	}
	co := opts.clientOptions()
	co.Credential = cred
	if co.Transport == "" {
		if co.Transport, err = opts.transportSetting(); err != nil {
			return nil, err
		}
	}
	c, err := NewClient(cs, &co)
	if err != nil {
		return nil, fmt.Errorf("BindOptions.ClientOptions: %w", err)
	}
	return c, nil
}

// TransportSetting is the app setting that selects a binding Client's
// transport when BindOptions.ClientOptions.Transport is "": Transient
// (REST, the default) or Persistent (service connections; see
// TransportPersistent), as in the Functions extension.
const TransportSetting = "AzureSignalRServiceTransportType"

// transportSetting reads TransportSetting from the binding's settings.
func (opts *BindOptions) transportSetting() (Transport, error) {
	var settings Settings
	if opts != nil {
		settings = opts.Settings
	}
	if settings == nil {
		settings = DefaultSettings()
	}
	raw, ok := settings.LookupSetting(TransportSetting)
	if !ok {
		return ParseTransport("")
	}
	t, err := ParseTransport(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", TransportSetting, err)
	}
	return t, nil
}
