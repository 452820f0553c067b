package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EndpointType says whether an endpoint takes negotiates in the normal
// course (Primary) or only when no primary is online (Secondary). Sends go
// to every online endpoint of either type.
type EndpointType int

// The endpoint types, as in the Azure SignalR SDKs (Primary is the zero
// value and the default).
const (
	// Primary endpoints take negotiates while any of them is online.
	Primary EndpointType = iota
	// Secondary endpoints take negotiates only when no primary is online.
	Secondary
)

// String returns "Primary" or "Secondary", the names the Functions
// bindings write.
func (t EndpointType) String() string {
	if t == Secondary {
		return "Secondary"
	}
	if t == Primary {
		return "Primary"
	}
	return fmt.Sprintf("EndpointType(%d)", int(t))
}

// MarshalJSON writes the type as "Primary" or "Secondary".
func (t EndpointType) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON reads "Primary" or "Secondary" (any case) or the numbers 0
// and 1, as the .NET SDKs accept both.
func (t *EndpointType) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		var n int
		if err := json.Unmarshal(data, &n); err != nil || (n != 0 && n != 1) {
			return fmt.Errorf("%w: endpointType must be \"Primary\" or \"Secondary\"", ErrInvalidArgument)
		}
		*t = EndpointType(n)
		return nil
	}
	v, ok := parseEndpointType(s)
	if !ok {
		return fmt.Errorf("%w: endpointType %q is not \"Primary\" or \"Secondary\"", ErrInvalidArgument, truncateEcho(s))
	}
	*t = v
	return nil
}

func parseEndpointType(s string) (EndpointType, bool) {
	switch {
	case strings.EqualFold(s, "primary"):
		return Primary, true
	case strings.EqualFold(s, "secondary"):
		return Secondary, true
	}
	return Primary, false
}

// Endpoint is one SignalR Service instance a Client sends through: its
// name (unique per type within a Client; the endpoint of
// AzureSignalRConnectionString is named by its host), its type and its
// connection string (with an access key or identity-based).
type Endpoint struct {
	// Name identifies the endpoint in routing, errors and EndpointState.
	Name string
	// Type is Primary (the zero value) or Secondary.
	Type EndpointType
	// ConnectionString is the endpoint's, from ParseConnectionString.
	ConnectionString *ConnectionString
}

// String describes the endpoint without its key.
func (e Endpoint) String() string {
	url := ""
	if e.ConnectionString != nil {
		url = e.ConnectionString.Endpoint()
	}
	return fmt.Sprintf("%s endpoint %q (%s)", e.Type, e.Name, url)
}

// EndpointState is what a Client knows of one of its endpoints, for logs,
// metrics, readiness probes and Routers.
type EndpointState struct {
	// Name and Type are the Endpoint's.
	Name string
	Type EndpointType
	// URL is the endpoint's service URL, scheme://host[:port].
	URL string
	// Online is false after a failed health probe or a failed request
	// (a transport error or a 5xx answer), true again after a probe
	// passes. Endpoints start online, as in the Azure SDKs.
	Online bool
	// Since is when Online last changed (the Client's creation at first).
	Since time.Time
	// LastError is why the endpoint went offline; nil while online.
	LastError error
}

// EndpointInfo is an endpoint as the Functions bindings write it: an item
// of the signalREndpoints input, of signalRNegotiation's "endpoints", and
// of the "endpoints" property of output messages and group actions (which
// selects the endpoints the item goes to). No key is ever part of it.
type EndpointInfo struct {
	// EndpointType is "Primary" or "Secondary".
	EndpointType EndpointType `json:"endpointType"`
	// Name is the endpoint's name.
	Name string `json:"name"`
	// Endpoint is the endpoint's service URL, scheme://host[:port].
	Endpoint string `json:"endpoint"`
	// Online is the endpoint's state when the input was resolved; it is
	// ignored when the item selects endpoints for an output.
	Online bool `json:"online"`
}

// EndpointError is one endpoint's failure in an operation that went to
// several: the error of such an operation joins one per endpoint that
// failed, so errors.As finds which endpoint failed and errors.Is sees
// through to the cause (ErrMaybeApplied, a *ResponseError...).
type EndpointError struct {
	// Endpoint and Type name the endpoint.
	Endpoint string
	Type     EndpointType
	// Err is what the endpoint's request returned.
	Err error
}

// Error names the endpoint and its error.
func (e *EndpointError) Error() string {
	return fmt.Sprintf("signalr: %s endpoint %q: %v", e.Type, e.Endpoint, e.Err)
}

// Unwrap returns Err.
func (e *EndpointError) Unwrap() error { return e.Err }

// ErrNoEndpoint means an operation had no endpoint to go to: none is
// online (negotiate then answers 503 with Retry-After), the Router chose
// none, or an item's "endpoints" list matches no configured endpoint.
// Where the Azure SDKs log and drop such a message, this library returns
// this error, so nothing is lost silently.
var ErrNoEndpoint = errors.New("signalr: no SignalR Service endpoint to use")

// endpointKey identifies an endpoint within a Client.
func endpointKey(name string, t EndpointType) string {
	return t.String() + "\x00" + strings.ToLower(name)
}

// truncateEcho shortens a value echoed in an error.
func truncateEcho(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// decodeEndpointsField reads an output item's "endpoints": null or absent
// gives nil, [] an empty non-nil list (refused at send time).
func decodeEndpointsField(fields map[string]json.RawMessage, what string, sentinel error) ([]EndpointInfo, error) {
	raw, ok := fields["endpoints"]
	if !ok || isJSONNull(raw) {
		return nil, nil
	}
	var eps []EndpointInfo
	if err := json.Unmarshal(raw, &eps); err != nil {
		return nil, outErrorf(sentinel, "%s: endpoints must be a JSON array of endpoint objects ({\"name\",\"endpoint\",\"endpointType\"}) as the signalREndpoints input gives them: %v", what, err)
	}
	if eps == nil {
		eps = []EndpointInfo{}
	}
	return eps, nil
}
