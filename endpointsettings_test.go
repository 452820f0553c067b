package signalr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
)

const (
	csA = "Endpoint=https://a.service.signalr.net;AccessKey=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw;Version=1.0;"
	csB = "Endpoint=https://b.service.signalr.net;AccessKey=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw;Version=1.0;"
	csC = "Endpoint=http://localhost;Port=8888;AccessKey=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw;Version=1.0;"
	csI = "Endpoint=https://m.service.signalr.net;AuthType=azure.msi;ClientId=abc;Version=1.0;"
)

type epSummary struct {
	Name, Type, URL string
	Identity        bool
}

func summarize(eps []signalr.Endpoint) []epSummary {
	out := make([]epSummary, len(eps))
	for i, e := range eps {
		out[i] = epSummary{e.Name, e.Type.String(), e.ConnectionString.Endpoint(), e.ConnectionString.IdentityBased()}
	}
	return out
}

// TestEndpointsFromSettings: the Functions shapes, from local.settings.json
// values, with the default setting as a Primary named by its host.
func TestEndpointsFromSettings(t *testing.T) {
	t.Parallel()
	s := &signalr.LocalSettings{Values: map[string]string{
		"AzureSignalRConnectionString":                 csC,
		"Azure:SignalR:Endpoints:east":                 csA,
		"Azure__SignalR__Endpoints__Backup__SECONDARY": csB,
		"azure:signalr:endpoints:ident:serviceUri":     "https://i.service.signalr.net",
		"Azure:SignalR:Endpoints:ident:type":           "Secondary",
		"Azure:SignalR:Endpoints:msi:primary":          csI,
		"Azure:SignalR:Endpoints:empty":                "",
		"Unrelated":                                    "x",
	}}
	eps, err := signalr.EndpointsFromSettings(s, "")
	require.NoError(t, err)
	got := summarize(eps)
	assert.Equal(t, []epSummary{
		{"localhost:8888", "Primary", "http://localhost:8888", false},
		{"Backup", "Secondary", "https://b.service.signalr.net", false},
		{"east", "Primary", "https://a.service.signalr.net", false},
		{"ident", "Secondary", "https://i.service.signalr.net", true},
		{"msi", "Primary", "https://m.service.signalr.net", true},
	}, got)
}

// TestEndpointsFromSettingsEnv: environment variables with "__".
func TestEndpointsFromSettingsEnv(t *testing.T) {
	t.Setenv("AzureSignalRConnectionString", "")
	t.Setenv("Azure__SignalR__Endpoints__west", csA)
	t.Setenv("Azure__SignalR__Endpoints__west__secondary", csB)
	eps, err := signalr.EndpointsFromSettings(signalr.EnvSettings(), "")
	require.NoError(t, err)
	assert.Equal(t, []epSummary{
		{"west", "Primary", "https://a.service.signalr.net", false},
		{"west", "Secondary", "https://b.service.signalr.net", false},
	}, summarize(eps))
}

// TestEndpointsFromSettingsErrors: every bad setting is an error naming
// it, and no key appears in the message.
func TestEndpointsFromSettingsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		values   map[string]string
		setting  string // the setting the error must name
		sentinel error
	}{
		{"typo'd type", map[string]string{"Azure:SignalR:Endpoints:east:primry": csA}, "Azure:SignalR:Endpoints:east:primry", signalr.ErrInvalidSetting},
		{"too many segments", map[string]string{"Azure:SignalR:Endpoints:east:primary:x": csA}, "Azure:SignalR:Endpoints:east:primary:x", signalr.ErrInvalidSetting},
		{"unparsable", map[string]string{"Azure:SignalR:Endpoints:east": "Endpoint=nope;AccessKey=secretsecret"}, "Azure:SignalR:Endpoints:east", signalr.ErrInvalidSetting},
		{"unparsable default", map[string]string{"AzureSignalRConnectionString": "AccessKey=secretsecret"}, "AzureSignalRConnectionString", signalr.ErrInvalidSetting},
		{"duplicate name and type", map[string]string{"Azure:SignalR:Endpoints:east": csA, "Azure:SignalR:Endpoints:east:primary": csB}, "Azure:SignalR:Endpoints:east", signalr.ErrInvalidSetting},
		{"duplicate URL", map[string]string{"Azure:SignalR:Endpoints:east": csA, "Azure:SignalR:Endpoints:west": csA}, "Azure:SignalR:Endpoints:", signalr.ErrInvalidSetting},
		{"empty name", map[string]string{"Azure:SignalR:Endpoints::primary": csA}, "Azure:SignalR:Endpoints::primary", signalr.ErrInvalidSetting},
		{"bad identity type", map[string]string{"Azure:SignalR:Endpoints:i:serviceUri": "https://i.service.signalr.net", "Azure:SignalR:Endpoints:i:type": "tertiary"}, "Azure:SignalR:Endpoints:i:type", signalr.ErrInvalidSetting},
		{"type without uri", map[string]string{"Azure:SignalR:Endpoints:i:type": "primary"}, "Azure:SignalR:Endpoints:i:type", signalr.ErrInvalidSetting},
		{"bad uri", map[string]string{"Azure:SignalR:Endpoints:i:serviceUri": "ftp://x"}, "Azure:SignalR:Endpoints:i:serviceUri", signalr.ErrInvalidSetting},
		{"nothing", map[string]string{"Other": "x"}, "AzureSignalRConnectionString", signalr.ErrMissingSetting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signalr.EndpointsFromSettings(&signalr.LocalSettings{Values: tt.values}, "")
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.sentinel)
			assert.Contains(t, err.Error(), tt.setting)
			assert.NotContains(t, err.Error(), "secretsecret")
			assert.NotContains(t, err.Error(), "QUJDREVG")
		})
	}
}

// TestNewMultiEndpointClientErrors: bad endpoint lists are refused.
func TestNewMultiEndpointClientErrors(t *testing.T) {
	t.Parallel()
	a, err := signalr.ParseConnectionString(csA)
	require.NoError(t, err)
	i, err := signalr.ParseConnectionString(csI)
	require.NoError(t, err)
	for name, eps := range map[string][]signalr.Endpoint{
		"none":     nil,
		"nil cs":   {{Name: "x"}},
		"dup":      {{Name: "x", ConnectionString: a}, {Name: "X", ConnectionString: a}},
		"dup url":  {{Name: "x", ConnectionString: a}, {Name: "y", Type: signalr.Secondary, ConnectionString: a}},
		"bad type": {{Name: "x", Type: 7, ConnectionString: a}},
		"identity": {{Name: "i", ConnectionString: i}},
	} {
		c, err := signalr.NewMultiEndpointClient(eps, &signalr.MultiEndpointOptions{HealthInterval: -1})
		assert.Error(t, err, name)
		assert.Nil(t, c, name)
	}
	_, err = signalr.NewMultiEndpointClient([]signalr.Endpoint{{Name: "i", ConnectionString: i}}, nil)
	assert.ErrorIs(t, err, signalr.ErrMissingCredential)
}

// TestMultiClientStringHidesKeys: String names the endpoints, never a key.
func TestMultiClientStringHidesKeys(t *testing.T) {
	t.Parallel()
	c, err := signalr.NewClientFromSettings(&signalr.LocalSettings{Values: map[string]string{
		"Azure:SignalR:Endpoints:east": csA, "Azure:SignalR:Endpoints:west:secondary": csB}}, "", &signalr.MultiEndpointOptions{HealthInterval: -1})
	require.NoError(t, err)
	defer c.Close()
	s := c.String()
	assert.Contains(t, s, `Primary "east"`)
	assert.Contains(t, s, `Secondary "west"`)
	assert.NotContains(t, s, "QUJDREVG")
	assert.Len(t, c.Endpoints(), 2)
}

// FuzzEndpointsFromSettings: any setting name and value either parse into
// endpoints or give an error naming a setting; no panic, no key echoed.
func FuzzEndpointsFromSettings(f *testing.F) {
	f.Add("Azure:SignalR:Endpoints:east", csA, "Azure:SignalR:Endpoints:east:secondary", csB)
	f.Add("Azure__SignalR__Endpoints__x__serviceUri", "https://x", "Azure:SignalR:Endpoints:x:type", "secondary")
	f.Add("Azure:SignalR:Endpoints:east:primry", csA, "AzureSignalRConnectionString", csC)
	f.Add("Azure:SignalR:Endpoints:", "", "Azure:SignalR:Endpoints:::", csA)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		s := &signalr.LocalSettings{Values: map[string]string{k1: v1, k2: v2}}
		eps, err := signalr.EndpointsFromSettings(s, "")
		if err != nil {
			if !errors.Is(err, signalr.ErrInvalidSetting) && !errors.Is(err, signalr.ErrMissingSetting) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			if errors.Is(err, signalr.ErrInvalidSetting) && !strings.Contains(err.Error(), "setting ") {
				t.Fatalf("error names no setting: %v", err)
			}
			return
		}
		if len(eps) == 0 {
			t.Fatal("no endpoints and no error")
		}
		for _, e := range eps {
			if e.ConnectionString == nil || e.Name == "" {
				t.Fatalf("half-filled endpoint %+v", e)
			}
		}
	})
}
