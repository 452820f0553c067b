package signalr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// FunctionJSON holds the bindings of one Azure Functions function.json file: the
// SignalR ones decoded, the others (httpTrigger, http, ...) kept by type and
// name so the file loads unchanged.
type FunctionJSON struct {
	// ConnectionInfo are the "signalRConnectionInfo" input bindings.
	ConnectionInfo []ConnectionInfoBinding
	// Outputs are the "signalR" output bindings.
	Outputs []OutputBinding
	// Triggers are the "signalRTrigger" bindings.
	Triggers []TriggerBinding
	// Endpoints are the "signalREndpoints" input bindings.
	Endpoints []EndpointsBinding
	// Negotiations are the "signalRNegotiation" input bindings.
	Negotiations []NegotiationBinding
	// Others are the bindings of other types, which this library does not
	// interpret.
	Others []OtherBinding
}

// OtherBinding is a function.json binding of a type this library leaves to
// the application, such as httpTrigger.
type OtherBinding struct {
	// Type is the binding type as written, such as "httpTrigger".
	Type string
	// Name is the binding's name.
	Name string
	// Direction is "in", "out" or "inout", as written.
	Direction string
}

// ConnectionInfoBinding returns the signalRConnectionInfo binding called name
// ("" matches the only one).
func (f *FunctionJSON) ConnectionInfoBinding(name string) (ConnectionInfoBinding, error) {
	for _, b := range f.ConnectionInfo {
		if name == "" && len(f.ConnectionInfo) == 1 || strings.EqualFold(b.Name, name) && name != "" {
			return b, nil
		}
	}
	return ConnectionInfoBinding{}, fmt.Errorf("%w: no signalRConnectionInfo binding named %q (have %s)", ErrInvalidBinding, name, bindingNames(len(f.ConnectionInfo), func(i int) string { return f.ConnectionInfo[i].Name }))
}

// TriggerBinding returns the signalRTrigger binding called name ("" matches
// the only one).
func (f *FunctionJSON) TriggerBinding(name string) (TriggerBinding, error) {
	for _, b := range f.Triggers {
		if name == "" && len(f.Triggers) == 1 || strings.EqualFold(b.Name, name) && name != "" {
			return b, nil
		}
	}
	return TriggerBinding{}, fmt.Errorf("%w: no signalRTrigger binding named %q (have %s)", ErrInvalidBinding, name, bindingNames(len(f.Triggers), func(i int) string { return f.Triggers[i].Name }))
}

// OutputBinding returns the signalR output binding called name ("" matches
// the only one).
func (f *FunctionJSON) OutputBinding(name string) (OutputBinding, error) {
	for _, b := range f.Outputs {
		if name == "" && len(f.Outputs) == 1 || strings.EqualFold(b.Name, name) && name != "" {
			return b, nil
		}
	}
	return OutputBinding{}, fmt.Errorf("%w: no signalR output binding named %q (have %s)", ErrInvalidBinding, name, bindingNames(len(f.Outputs), func(i int) string { return f.Outputs[i].Name }))
}

func bindingNames(n int, name func(int) string) string {
	if n == 0 {
		return "none"
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%q", name(i))
	}
	return strings.Join(names, ", ")
}

// LoadFunctionJSON reads and parses a function.json file.
func LoadFunctionJSON(path string) (*FunctionJSON, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseFunctionJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// signalRProperties are the properties each SignalR binding type may carry
// (lower case; function.json property names are case-insensitive).
var signalRProperties = map[string]map[string]bool{
	"signalrconnectioninfo": set("type", "direction", "name", "hubname", "userid", "idtoken", "claimtypelist", "connectionstringsetting"),
	"signalrendpoints":      set("type", "direction", "name", "hubname", "connectionstringsetting", "connection"),
	"signalrnegotiation":    set("type", "direction", "name", "hubname", "userid", "idtoken", "claimtypelist", "connectionstringsetting"),
	"signalr":               set("type", "direction", "name", "hubname", "connectionstringsetting"),
	"signalrtrigger":        set("type", "direction", "name", "hubname", "category", "event", "parameternames", "connectionstringsetting", "connection"),
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// ParseFunctionJSON parses the content of a function.json file: an object with
// a "bindings" array. Bindings of types other than signalRConnectionInfo,
// signalR, signalRTrigger, signalREndpoints and signalRNegotiation are kept
// as OtherBinding. A SignalR binding with an unknown property, a wrong
// direction or a missing hubName is an error wrapping
// ErrInvalidBinding that name the binding and the property.
func ParseFunctionJSON(data []byte) (*FunctionJSON, error) {
	var doc struct {
		Bindings []json.RawMessage `json:"bindings"`
	}
	if err := hubproto.CheckJSONDepth(data); err != nil {
		return nil, fmt.Errorf("%w: function.json: %w", ErrInvalidBinding, err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: function.json is not valid JSON: %v", ErrInvalidBinding, err)
	}
	if doc.Bindings == nil {
		return nil, fmt.Errorf("%w: function.json has no \"bindings\" array", ErrInvalidBinding)
	}
	f := &FunctionJSON{}
	for i, raw := range doc.Bindings {
		var props map[string]json.RawMessage
		if err := json.Unmarshal(raw, &props); err != nil || props == nil {
			return nil, fmt.Errorf("%w: bindings[%d] is not a JSON object", ErrInvalidBinding, i)
		}
		lower := make(map[string]json.RawMessage, len(props))
		for k, v := range props {
			lower[strings.ToLower(k)] = v
		}
		typ, err := stringProp(lower, "type", i)
		if err != nil {
			return nil, err
		}
		name, err := stringProp(lower, "name", i)
		if err != nil {
			return nil, err
		}
		direction, err := stringProp(lower, "direction", i)
		if err != nil {
			return nil, err
		}
		where := fmt.Sprintf("bindings[%d] (%s %q)", i, typ, name)
		switch t := strings.ToLower(typ); t {
		case "":
			return nil, fmt.Errorf("%w: bindings[%d] has no \"type\"", ErrInvalidBinding, i)
		case "signalrconnectioninfo", "signalr":
			if err := checkProperties(where, t, props, direction); err != nil {
				return nil, err
			}
			if t == "signalr" {
				var b OutputBinding
				if err := decodeBinding(where, raw, &b); err != nil {
					return nil, err
				}
				f.Outputs = append(f.Outputs, b)
			} else {
				var b ConnectionInfoBinding
				if err := decodeBinding(where, raw, &b); err != nil {
					return nil, err
				}
				f.ConnectionInfo = append(f.ConnectionInfo, b)
			}
		case "signalrtrigger":
			if err := checkProperties(where, t, props, direction); err != nil {
				return nil, err
			}
			b, err := decodeTrigger(where, raw)
			if err != nil {
				return nil, err
			}
			f.Triggers = append(f.Triggers, b)
		case "signalrendpoints":
			if err := checkProperties(where, t, props, direction); err != nil {
				return nil, err
			}
			var b EndpointsBinding
			if err := decodeBinding(where, raw, &b); err != nil {
				return nil, err
			}
			f.Endpoints = append(f.Endpoints, b)
		case "signalrnegotiation":
			if err := checkProperties(where, t, props, direction); err != nil {
				return nil, err
			}
			var b NegotiationBinding
			if err := decodeBinding(where, raw, &b); err != nil {
				return nil, err
			}
			f.Negotiations = append(f.Negotiations, b)
		default:
			if strings.HasPrefix(t, "signalr") {
				return nil, fmt.Errorf("%w: %s: unknown SignalR binding type %q; use signalRConnectionInfo or signalR", ErrInvalidBinding, where, typ)
			}
			f.Others = append(f.Others, OtherBinding{Type: typ, Name: name, Direction: direction})
		}
	}
	return f, nil
}

func stringProp(props map[string]json.RawMessage, key string, i int) (string, error) {
	raw, ok := props[key]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: bindings[%d].%s must be a string", ErrInvalidBinding, i, key)
	}
	return s, nil
}

func checkProperties(where, typ string, props map[string]json.RawMessage, direction string) error {
	allowed := signalRProperties[typ]
	var unknown []string
	for k := range props {
		if !allowed[strings.ToLower(k)] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(allowed))
		for k := range allowed {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("%w: %s has unknown property %q; known properties are %s (case-insensitive)", ErrInvalidBinding, where, unknown[0], strings.Join(known, ", "))
	}
	want := "in"
	if typ == "signalr" {
		want = "out"
	}
	if !strings.EqualFold(direction, want) {
		return fmt.Errorf("%w: %s must have \"direction\": %q, not %q", ErrInvalidBinding, where, want, direction)
	}
	var hub string
	for k, v := range props {
		if strings.EqualFold(k, "hubName") {
			_ = json.Unmarshal(v, &hub)
		}
	}
	if strings.TrimSpace(hub) == "" {
		return fmt.Errorf("%w: %s needs a \"hubName\"", ErrInvalidBinding, where)
	}
	return nil
}

// decodeBinding decodes raw into b; encoding/json matches property names
// case-insensitively, as the Functions host does.
func decodeBinding(where string, raw json.RawMessage, b any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(b); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidBinding, where, err)
	}
	return nil
}
