package signalr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/vmihailenco/msgpack/v5"
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
// client sends it. It is meant for tests; raw is not validated here.
func JSONArgument(raw []byte) Argument { return Argument{raw: raw} }

// MessagePackArgument returns an Argument holding the MessagePack value raw,
// as a MessagePack client sends it. It is meant for tests; raw is not
// validated here.
func MessagePackArgument(raw []byte) Argument { return Argument{raw: raw, msgpack: true} }

// Raw returns the argument's encoding: JSON, or MessagePack when
// IsMessagePack reports true.
func (a Argument) Raw() []byte { return a.raw }

// IsMessagePack reports whether the argument came from a MessagePack client.
func (a Argument) IsMessagePack() bool { return a.msgpack }

// Decode stores the argument in the value v points to, the way
// json.Unmarshal does. A MessagePack argument is decoded with the same
// struct field names (json tags apply), so one Go type serves both
// protocols.
func (a Argument) Decode(v any) error {
	if len(a.raw) == 0 {
		return errors.New("signalr: argument is empty")
	}
	if a.msgpack {
		dec := msgpack.NewDecoder(bytes.NewReader(a.raw))
		dec.SetCustomStructTag("json")
		dec.SetMapDecoder(decodeJSONLikeMap)
		return dec.Decode(v)
	}
	return json.Unmarshal(a.raw, v)
}

// decodeJSONLikeMap decodes a MessagePack map into map[string]any, as a JSON
// object would decode, writing keys that are not strings with fmt.Sprint.
func decodeJSONLikeMap(dec *msgpack.Decoder) (any, error) {
	n, err := dec.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	m := make(map[string]any, min(n, 16))
	for i := 0; i < n; i++ {
		k, err := dec.DecodeInterface()
		if err != nil {
			return nil, err
		}
		v, err := dec.DecodeInterface()
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			key = fmt.Sprint(k)
		}
		if _, dup := m[key]; !dup {
			m[key] = v
		}
	}
	return m, nil
}

// MarshalJSON returns the argument as JSON (converting a MessagePack one).
func (a Argument) MarshalJSON() ([]byte, error) {
	if !a.msgpack {
		if len(a.raw) == 0 {
			return []byte("null"), nil
		}
		return a.raw, nil
	}
	var v any
	if err := a.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(jsonable(v))
}

// UnmarshalJSON keeps a copy of data as a JSON argument.
func (a *Argument) UnmarshalJSON(data []byte) error {
	a.raw = append([]byte(nil), data...)
	a.msgpack = false
	return nil
}

// MarshalMsgpack returns the argument as MessagePack (converting a JSON one
// as the emulator converts REST arguments: integers stay integers, object
// keys keep their order).
func (a Argument) MarshalMsgpack() ([]byte, error) {
	if a.msgpack {
		return a.raw, nil
	}
	if len(a.raw) == 0 {
		return []byte{0xc0}, nil // nil, as an empty argument marshals to JSON null
	}
	return hubproto.JSONToMessagePack(a.raw)
}

// jsonable turns the map[string]any / map[any]any values msgpack decodes
// into something encoding/json accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	}
	return v
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
