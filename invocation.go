package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// InvocationContext is what a trigger handler receives: one upstream event
// (a connection opened or closed, or a client invoked a hub method) with the
// connection it came from. It mirrors the Functions InvocationContext.
type InvocationContext struct {
	// Arguments are the invocation's arguments, in order (messages only).
	// Decode them with DecodeArguments, Argument or Argument.Decode.
	Arguments []Argument
	// Error is why the connection closed (disconnected only); empty for a
	// clean close.
	Error string
	// Category is CategoryConnections or CategoryMessages.
	Category string
	// Event is EventConnected, EventDisconnected or the invoked hub method
	// as the client wrote it.
	Event string
	// Hub is the hub the connection belongs to.
	Hub string
	// ConnectionID is the client connection's id.
	ConnectionID string
	// UserID is the connection's user, empty for an anonymous one.
	UserID string
	// InvocationID is the id of a blocking invocation (the client called
	// invoke and waits for a result); empty for send and for connection
	// events.
	InvocationID string
	// Headers are the upstream request's headers.
	Headers http.Header
	// Query is the client's query string (X-ASRS-Client-Query), parsed.
	Query url.Values
	// Claims are the connection's claims (X-ASRS-User-Claims), type to
	// value; the first value of a repeated type wins. Nil when there are
	// none.
	Claims map[string]string

	names []string // the binding's parameterNames
}

// Argument is one invocation argument as it arrived, JSON or MessagePack,
// decoded on demand. It marshals to JSON and to MessagePack as its value, so
// a handler can pass it on (in a Message's Arguments, or as its result)
// without decoding it.
type Argument struct {
	raw     []byte
	msgpack bool
}

// JSONArgument returns an Argument holding the JSON value raw, as a JSON
// client sends it. It is meant for tests; raw is not validated here, but
// Decode and the Marshal methods refuse it if it nests deeper than
// MaxNestingDepth.
func JSONArgument(raw []byte) Argument { return Argument{raw: raw} }

// MessagePackArgument returns an Argument holding the MessagePack value raw,
// as a MessagePack client sends it. It is meant for tests; raw is not
// validated here, but Decode and the Marshal methods refuse it if it is not
// one well-formed value or nests deeper than MaxNestingDepth.
func MessagePackArgument(raw []byte) Argument { return Argument{raw: raw, msgpack: true} }

// Raw returns the argument's encoding: JSON, or MessagePack when
// IsMessagePack reports true.
func (a Argument) Raw() []byte { return a.raw }

// IsMessagePack reports whether the argument came from a MessagePack client.
func (a Argument) IsMessagePack() bool { return a.msgpack }

// Decode stores the argument in the value v points to, the way
// json.Unmarshal does. A MessagePack argument is first converted to JSON
// (map keys in order, integer keys as decimal strings, binary as base64,
// timestamps as RFC 3339 strings, as MarshalJSON writes it), so one Go type
// with json tags serves both protocols. An argument nested deeper than
// MaxNestingDepth is refused with an error wrapping ErrTooDeep.
func (a Argument) Decode(v any) error {
	if len(a.raw) == 0 {
		return errors.New("signalr: argument is empty")
	}
	raw, err := a.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// MarshalJSON returns the argument as JSON, converting a MessagePack one as
// Decode does. An argument nested deeper than MaxNestingDepth is refused
// with an error wrapping ErrTooDeep: a Message carrying it fails to
// encode instead of recursing without bound.
func (a Argument) MarshalJSON() ([]byte, error) {
	if len(a.raw) == 0 {
		return []byte("null"), nil
	}
	if !a.msgpack {
		if err := hubproto.CheckJSONDepth(a.raw); err != nil {
			return nil, fmt.Errorf("signalr: argument: %w", err)
		}
		return a.raw, nil
	}
	out, err := hubproto.MessagePackToJSON(a.raw)
	if err != nil {
		return nil, fmt.Errorf("signalr: MessagePack argument has no JSON form: %w", err)
	}
	return out, nil
}

// UnmarshalJSON keeps a copy of data as a JSON argument.
func (a *Argument) UnmarshalJSON(data []byte) error {
	a.raw = append([]byte(nil), data...)
	a.msgpack = false
	return nil
}

// MarshalMsgpack returns the argument as MessagePack (converting a JSON one
// as the emulator converts REST arguments: integers stay integers, object
// keys keep their order). An argument nested deeper than MaxNestingDepth,
// or MessagePack that is not one well-formed value, is refused.
func (a Argument) MarshalMsgpack() ([]byte, error) {
	if len(a.raw) == 0 {
		return []byte{0xc0}, nil // nil, as an empty argument marshals to JSON null
	}
	if a.msgpack {
		if err := hubproto.CheckMessagePackDepth(a.raw); err != nil {
			return nil, fmt.Errorf("signalr: argument: %w", err)
		}
		return a.raw, nil
	}
	out, err := hubproto.JSONToMessagePack(a.raw)
	if err != nil {
		return nil, fmt.Errorf("signalr: JSON argument has no MessagePack form: %w", err)
	}
	return out, nil
}

// DecodeArguments decodes the arguments into the values vs point to, in
// order, as json.Unmarshal would. The number of values must equal the number
// of arguments; the error names the argument that failed.
func (inv *InvocationContext) DecodeArguments(vs ...any) error {
	if len(vs) != len(inv.Arguments) {
		return fmt.Errorf("signalr: %s takes %d argument(s), the client sent %d", inv.Event, len(vs), len(inv.Arguments))
	}
	for i, v := range vs {
		if err := inv.Arguments[i].Decode(v); err != nil {
			return fmt.Errorf("signalr: %s argument %d: %w", inv.Event, i, err)
		}
	}
	return nil
}

// Argument returns the argument the binding's ParameterNames call name
// (case-insensitive), and whether there is one.
func (inv *InvocationContext) Argument(name string) (Argument, bool) {
	for i, n := range inv.names {
		if strings.EqualFold(n, name) && i < len(inv.Arguments) {
			return inv.Arguments[i], true
		}
	}
	return Argument{}, false
}

// ParameterNames returns the names the binding gives the arguments.
func (inv *InvocationContext) ParameterNames() []string { return inv.names }

// jsonArgument and msgpackArgument wrap an argument's bytes as the upstream
// body decoder finds them.
func jsonArgument(raw []byte) Argument    { return Argument{raw: raw} }
func msgpackArgument(raw []byte) Argument { return Argument{raw: raw, msgpack: true} }

// decodeBody decodes an upstream body in p; the errors wrap
// hubproto.ErrNotUpstream.
func decodeBody(p hubproto.Protocol, body []byte) (hubproto.Upstream[Argument], error) {
	if p == hubproto.MessagePack {
		return hubproto.DecodeUpstream(p, body, msgpackArgument)
	}
	return hubproto.DecodeUpstream(p, body, jsonArgument)
}
