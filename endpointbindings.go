package signalr

import (
	"fmt"
	"net/http"
	"strings"
)

// refuseEndpointsSection fails a binding that would make its own Client from
// one setting while the settings configure endpoints under
// EndpointsSection: it would send through one endpoint and silently leave
// out the others. Such apps make one Client with NewClientFromSettings and
// pass it as BindOptions.Client.
func refuseEndpointsSection(opts *BindOptions) error {
	if opts == nil || opts.ConnectionString != nil || opts.Client != nil {
		return nil
	}
	l, ok := opts.Settings.(SettingsLister)
	if !ok {
		return nil
	}
	prefix := strings.ToLower(EndpointsSection) + ":"
	for _, name := range l.SettingNames() {
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "__", ":")), prefix) {
			return fmt.Errorf("%w: the settings configure several endpoints (%s); a binding alone would use one of them, so make one Client with NewClientFromSettings and pass it as BindOptions.Client", ErrInvalidBinding, name)
		}
	}
	return nil
}

// EndpointsBinding declares a signalREndpoints input binding (function.json
// "type": "signalREndpoints"): the endpoints of the Client, with their
// online state, for a function that routes by itself.
type EndpointsBinding struct {
	// Name is the binding's name in function.json; informational in Go.
	Name string `json:"name"`
	// HubName is the hub; the endpoints are the same for every hub.
	HubName string `json:"hubName"`
	// ConnectionStringSetting names the app setting of the default
	// endpoint; empty means DefaultConnectionStringSetting. Connection is
	// its newer name; give one.
	ConnectionStringSetting string `json:"connectionStringSetting"`
	Connection              string `json:"connection"`
}

// EndpointsInput is a bound EndpointsBinding.
type EndpointsInput struct {
	client *Client
	cs     *ConnectionString
}

// Bind loads the binding's Client (BindOptions.Client, the one with several
// endpoints) or, without one, its one connection string setting.
func (b EndpointsBinding) Bind(opts *BindOptions) (*EndpointsInput, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if opts.Client != nil {
		return &EndpointsInput{client: opts.Client}, nil
	}
	if err := refuseEndpointsSection(opts); err != nil {
		return nil, err
	}
	setting := b.ConnectionStringSetting
	if setting == "" {
		setting = b.Connection
	}
	cs, err := resolveConnectionString(setting, opts)
	if err != nil {
		return nil, err
	}
	return &EndpointsInput{cs: cs}, nil
}

// Resolve returns the endpoints as the signalREndpoints input gives them: a
// JSON array of {"endpointType","name","endpoint","online"}, no keys.
func (in *EndpointsInput) Resolve(_ *http.Request) []EndpointInfo {
	if in == nil {
		return nil
	}
	var states []EndpointState
	if in.client != nil {
		states = in.client.Endpoints()
	} else if in.cs != nil {
		states = []EndpointState{{Name: hostOf(in.cs.Endpoint()), Type: Primary, URL: in.cs.Endpoint(), Online: true}}
	}
	out := make([]EndpointInfo, len(states))
	for i, st := range states {
		out[i] = EndpointInfo{EndpointType: st.Type, Name: st.Name, Endpoint: st.URL, Online: st.Online}
	}
	return out
}

// NegotiationBinding declares a signalRNegotiation input binding
// (function.json "type": "signalRNegotiation"): a negotiate answer for
// every endpoint, online or not, so that the function picks one (custom
// routing) and returns its ConnectionInfo. Its properties are those of
// ConnectionInfoBinding.
type NegotiationBinding ConnectionInfoBinding

// NegotiationContext is the value of a signalRNegotiation input:
// {"endpoints":[{...endpoint..., "connectionInfo":{"url","accessToken"}}]}.
type NegotiationContext struct {
	Endpoints []EndpointConnectionInfo `json:"endpoints"`
}

// EndpointConnectionInfo is one endpoint and the ConnectionInfo a client
// connects to it with.
type EndpointConnectionInfo struct {
	EndpointInfo
	ConnectionInfo ConnectionInfo `json:"connectionInfo"`
}

// NegotiationInput is a bound NegotiationBinding.
type NegotiationInput struct{ in *Input }

// Bind checks the declaration and loads its Client, as
// ConnectionInfoBinding.Bind does.
func (b NegotiationBinding) Bind(opts *BindOptions) (*NegotiationInput, error) {
	in, err := ConnectionInfoBinding(b).Bind(opts)
	if err != nil {
		return nil, err
	}
	return &NegotiationInput{in: in}, nil
}

// Resolve evaluates the binding for r and mints a token for every endpoint,
// in parallel. Any endpoint's failure fails it, as an *EndpointError.
func (n *NegotiationInput) Resolve(r *http.Request) (NegotiationContext, error) {
	hub, opts, err := n.in.tokenOptions(r)
	if err != nil {
		return NegotiationContext{}, err
	}
	var eps []EndpointInfo
	var infos []ConnectionInfo
	if n.in.client != nil {
		eps, infos, err = n.in.client.connectionInfos(r.Context(), hub, &opts)
		if err != nil {
			return NegotiationContext{}, err
		}
	} else {
		info, err := n.in.cs.connectionInfo(hub, &opts)
		if err != nil {
			return NegotiationContext{}, err
		}
		eps = []EndpointInfo{{EndpointType: Primary, Name: hostOf(n.in.cs.Endpoint()), Endpoint: n.in.cs.Endpoint(), Online: true}}
		infos = []ConnectionInfo{info}
	}
	out := NegotiationContext{Endpoints: make([]EndpointConnectionInfo, len(eps))}
	for i := range eps {
		out.Endpoints[i] = EndpointConnectionInfo{EndpointInfo: eps[i], ConnectionInfo: infos[i]}
	}
	return out, nil
}
