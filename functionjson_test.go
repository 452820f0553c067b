package signalr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadFunctionJSONSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir    string
		input  *ConnectionInfoBinding
		output *OutputBinding
	}{
		{"negotiate", &ConnectionInfoBinding{Name: "connectionInfo", HubName: "chat", ConnectionStringSetting: "AzureSignalRConnectionString"}, nil},
		{"negotiate-authenticated", &ConnectionInfoBinding{Name: "connectionInfo", HubName: "chat", UserID: "{headers.x-ms-client-principal-id}", ConnectionStringSetting: "AzureSignalRConnectionString"}, nil},
		{"broadcast", nil, &OutputBinding{Name: "signalRMessages", HubName: "chat", ConnectionStringSetting: "AzureSignalRConnectionString"}},
		{"send-to-user", nil, &OutputBinding{Name: "signalRMessages", HubName: "chat", ConnectionStringSetting: "AzureSignalRConnectionString"}},
		{"send-to-group", nil, &OutputBinding{Name: "signalRMessages", HubName: "chat", ConnectionStringSetting: "AzureSignalRConnectionString"}},
		{"group-add", nil, &OutputBinding{Name: "signalRGroupActions", HubName: "chat", ConnectionStringSetting: "AzureSignalRConnectionString"}},
		{"group-remove", nil, &OutputBinding{Name: "signalRGroupActions", HubName: "chat", ConnectionStringSetting: "AzureSignalRConnectionString"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			f, err := LoadFunctionJSON(filepath.Join("testdata", "functions", tt.dir, "function.json"))
			require.NoError(t, err)
			assert.Equal(t, []OtherBinding{{"httpTrigger", "req", "in"}, {"http", "res", "out"}}, f.Others)
			if tt.input != nil {
				require.Len(t, f.ConnectionInfo, 1)
				assert.Equal(t, *tt.input, f.ConnectionInfo[0])
				b, err := f.ConnectionInfoBinding("")
				require.NoError(t, err)
				assert.Equal(t, *tt.input, b)
				b, err = f.ConnectionInfoBinding("CONNECTIONINFO")
				require.NoError(t, err)
				assert.Equal(t, *tt.input, b)
				_, err = f.OutputBinding("")
				assert.ErrorIs(t, err, ErrInvalidBinding)

				// The loaded binding binds and negotiates like one declared in Go.
				in, err := b.Bind(&BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})})
				require.NoError(t, err)
				r := request("/api/negotiate", map[string]string{"x-ms-client-principal-id": "u1"})
				info, err := in.Resolve(r)
				require.NoError(t, err)
				assert.Equal(t, "http://localhost:8888/client/?hub=chat", info.URL)
			}
			if tt.output != nil {
				require.Len(t, f.Outputs, 1)
				assert.Equal(t, *tt.output, f.Outputs[0])
				_, err := f.OutputBinding("nope")
				assert.ErrorContains(t, err, `have "`+tt.output.Name+`"`)
			}
		})
	}
}

func TestLoadFunctionJSONTriggers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir     string
		trigger TriggerBinding
		outputs int
	}{
		{"connected", TriggerBinding{Name: "invocation", HubName: "chat", Category: "connections", Event: "connected", ConnectionStringSetting: "AzureSignalRConnectionString"}, 0},
		{"disconnected", TriggerBinding{Name: "invocation", HubName: "chat", Category: "connections", Event: "disconnected"}, 0},
		{"broadcast-message", TriggerBinding{Name: "invocation", HubName: "chat", Category: "messages", Event: "broadcast", ParameterNames: []string{"message"}, ConnectionStringSetting: "AzureSignalRConnectionString"}, 1},
		// "connection" is the newer name of connectionStringSetting.
		{"echo", TriggerBinding{Name: "invocation", HubName: "chat", Category: "messages", Event: "echo", ParameterNames: []string{"x"}, ConnectionStringSetting: "AzureSignalRConnectionString"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			f, err := LoadFunctionJSON(filepath.Join("testdata", "functions", tt.dir, "function.json"))
			require.NoError(t, err)
			assert.Empty(t, f.Others)
			assert.Len(t, f.Outputs, tt.outputs)
			require.Len(t, f.Triggers, 1)
			assert.Equal(t, tt.trigger, f.Triggers[0])
			b, err := f.TriggerBinding("INVOCATION")
			require.NoError(t, err)
			assert.Equal(t, tt.trigger, b)
			_, err = f.TriggerBinding("other")
			assert.ErrorContains(t, err, `have "invocation"`)

			// The loaded trigger registers on an Upstream like one declared in Go.
			up, err := NewUpstream(&UpstreamOptions{Bind: &BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})}})
			require.NoError(t, err)
			require.NoError(t, up.HandleFunc(b, func(context.Context, *InvocationContext) (any, error) { return nil, nil }))
		})
	}
	_, err := ParseFunctionJSON([]byte(`{"bindings":[{"type":"signalRTrigger","name":"t","hubName":"chat","category":"messages","event":"x","direction":"out"}]}`))
	assert.ErrorContains(t, err, `"direction": "in", not "out"`)
	_, err = ParseFunctionJSON([]byte(`{"bindings":[{"type":"signalRTrigger","name":"t","hubName":"chat","category":"messages","direction":"in"}]}`))
	assert.ErrorContains(t, err, "needs an event")
	_, err = ParseFunctionJSON([]byte(`{"bindings":[{"type":"signalRTrigger","name":"t","hubName":"chat","category":"messages","event":"x","parameterNames":"a","direction":"in"}]}`))
	assert.ErrorIs(t, err, ErrInvalidBinding)
}

func TestParseFunctionJSONCaseInsensitive(t *testing.T) {
	t.Parallel()
	f, err := ParseFunctionJSON([]byte(`{"bindings":[{"Type":"SignalRConnectionInfo","Name":"c","HUBNAME":"chat","UserId":"{query.u}","Direction":"IN","claimTypeList":["name"],"idToken":"{headers.authorization}"}]}`))
	require.NoError(t, err)
	assert.Equal(t, ConnectionInfoBinding{Name: "c", HubName: "chat", UserID: "{query.u}", ClaimTypeList: []string{"name"}, IDToken: "{headers.authorization}"}, f.ConnectionInfo[0])
}

func TestParseFunctionJSONRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"unknown-property.json":        `unknown property "hubNmae"`,
		"wrong-direction.json":         `"direction": "out", not "in"`,
		"missing-hub.json":             `needs a "hubName"`,
		"trigger-bad-category.json":    `category "nope" is not supported; use connections or messages`,
		"trigger-bad-event.json":       `event "joined" is not supported in connections`,
		"unknown-type.json":            `unknown SignalR binding type "signalRConnection"`,
		"hub-not-string.json":          `hubName`,
		"no-bindings-array.json":       `no "bindings" array`,
		"claimtypelist-not-array.json": `bindings[0] (signalRConnectionInfo "c")`,
	}
	for file, says := range tests {
		t.Run(file, func(t *testing.T) {
			_, err := LoadFunctionJSON(filepath.Join("testdata", "functions-invalid", file))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidBinding)
			assert.Contains(t, err.Error(), says)
			assert.Contains(t, err.Error(), file, "the error names the file")
		})
	}
	for _, doc := range []string{`[]`, `{"bindings":[1]}`, `{"bindings":[{"type":7}]}`, `{"bindings":[{"name":"x"}]}`, `not json`} {
		_, err := ParseFunctionJSON([]byte(doc))
		assert.ErrorIs(t, err, ErrInvalidBinding, doc)
	}
	_, err := LoadFunctionJSON(filepath.Join(t.TempDir(), "function.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func FuzzParseFunctionJSON(f *testing.F) {
	for _, dir := range []string{"negotiate", "negotiate-authenticated", "broadcast", "group-add", "broadcast-message", "connected"} {
		data, err := os.ReadFile(filepath.Join("testdata", "functions", dir, "function.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"bindings":[{"type":"signalR","direction":"out","hubName":" ","name":"x"}]}`))
	f.Add([]byte(`{"bindings":[{"type":"signalR","x":` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `}]}`)) // a million levels deep
	f.Fuzz(func(t *testing.T, data []byte) {
		fn, err := ParseFunctionJSON(data)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalidBinding), "error %v does not wrap ErrInvalidBinding", err)
			return
		}
		for _, b := range fn.ConnectionInfo {
			require.NotEmpty(t, b.HubName, "a connection info binding without a hub was accepted")
		}
		for _, b := range fn.Outputs {
			require.NotEmpty(t, b.HubName, "an output binding without a hub was accepted")
		}
		for _, b := range fn.Triggers {
			if _, err := b.check(); err != nil {
				require.FailNow(t, fmt.Sprintf("an invalid trigger was accepted: %v", err))
			}
		}
	})
}

// TestParseFunctionJSONEndpointBindings: signalRNegotiation and
// signalREndpoints are parsed, no longer refused.
func TestParseFunctionJSONEndpointBindings(t *testing.T) {
	t.Parallel()
	f, err := LoadFunctionJSON(filepath.Join("testdata", "functions-negotiation.json"))
	require.NoError(t, err)
	require.Len(t, f.Negotiations, 1)
	f, err = ParseFunctionJSON([]byte(`{"bindings":[{"type":"signalREndpoints","direction":"in","name":"endpoints","hubName":"chat","connection":"MySetting"}]}`))
	require.NoError(t, err)
	assert.Equal(t, []EndpointsBinding{{Name: "endpoints", HubName: "chat", Connection: "MySetting"}}, f.Endpoints)
	_, err = ParseFunctionJSON([]byte(`{"bindings":[{"type":"signalREndpoints","direction":"out","name":"e","hubName":"chat"}]}`))
	assert.ErrorIs(t, err, ErrInvalidBinding)
}
