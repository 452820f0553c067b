package signalr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
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

// MarshalMsgpack returns the argument as MessagePack (converting a JSON one).
func (a Argument) MarshalMsgpack() ([]byte, error) {
	if a.msgpack {
		return a.raw, nil
	}
	var v any
	if len(a.raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(a.raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return msgpack.Marshal(numbersFromJSON(v))
}

// numbersFromJSON replaces the json.Numbers in v with int64 when they are
// whole and fit, float64 otherwise, so that integers stay integers in
// MessagePack.
func numbersFromJSON(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbersFromJSON(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbersFromJSON(e)
		}
	}
	return v
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

// Hub protocol message types of serverless bodies.
const (
	messageInvocation = 1
	messageCompletion = 3
	messageOpen       = 10
	messageClose      = 11
)

// serverlessMessage is an upstream body, decoded.
type serverlessMessage struct {
	Type         int
	InvocationID string
	Target       string
	Arguments    []Argument
	Error        string
}

// errNotServerless is wrapped by body decoding errors.
var errNotServerless = errors.New("not a serverless message")

// decodeJSONBody decodes a JSON upstream body: an Invocation (type 1), an
// open (10) or a close (11) connection message. Property names match
// case-insensitively, as the service writes "Type" and "Error" for close.
func decodeJSONBody(body []byte) (serverlessMessage, error) {
	// Plain fields and sentinels rather than pointers: this is the hot path
	// of every upstream call, and pointers cost an allocation each.
	m := struct {
		Type         int        `json:"type"`
		InvocationID string     `json:"invocationId"`
		Target       string     `json:"target"`
		Arguments    []Argument `json:"arguments"`
		Error        string     `json:"error"`
	}{Type: -1}
	if typ, id, target, errText, args, ok := scanJSONBody(body); ok {
		m.Type, m.InvocationID, m.Target, m.Error, m.Arguments = typ, id, target, errText, args
	} else if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
		return serverlessMessage{}, fmt.Errorf("%w: body is not a JSON object", errNotServerless)
	} else if err := json.Unmarshal(body, &m); err != nil {
		return serverlessMessage{}, fmt.Errorf("%w: body is not valid JSON: %v", errNotServerless, err)
	}
	out := serverlessMessage{Type: m.Type}
	switch out.Type {
	case -1:
		return serverlessMessage{}, fmt.Errorf("%w: body has no \"type\"", errNotServerless)
	case messageOpen:
	case messageClose:
		out.Error = m.Error
	case messageInvocation:
		if m.Target == "" {
			return serverlessMessage{}, fmt.Errorf("%w: invocation has no \"target\"", errNotServerless)
		}
		out.Target = m.Target
		out.InvocationID = m.InvocationID
		out.Arguments = m.Arguments
	default:
		return serverlessMessage{}, fmt.Errorf("%w: type %d; want 1 (invocation), 10 (connected) or 11 (disconnected)", errNotServerless, out.Type)
	}
	return out, nil
}

// decodeMsgpackBody decodes a MessagePack upstream body: the bare array
// [1, headers, invocationId|nil, target, arguments(, streamIds)] with no
// length prefix.
func decodeMsgpackBody(body []byte) (serverlessMessage, error) {
	bad := func(what string, err error) (serverlessMessage, error) {
		if err != nil {
			return serverlessMessage{}, fmt.Errorf("%w: MessagePack body: %s: %v", errNotServerless, what, err)
		}
		return serverlessMessage{}, fmt.Errorf("%w: MessagePack body: %s", errNotServerless, what)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(body))
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return bad("not an array", err)
	}
	if n < 1 {
		return bad("empty array", nil)
	}
	typ, err := dec.DecodeInt()
	if err != nil {
		return bad("message type is not an integer", err)
	}
	if typ != messageInvocation {
		return bad(fmt.Sprintf("type %d; want 1 (invocation)", typ), nil)
	}
	if n < 5 {
		return bad(fmt.Sprintf("invocation array has %d elements; want at least 5", n), nil)
	}
	if err := dec.Skip(); err != nil { // headers
		return bad("headers", err)
	}
	out := serverlessMessage{Type: messageInvocation}
	// The id is nil or a string; anything else is refused before it is
	// decoded (a generic decode would allocate what a header claims).
	code, err := dec.PeekCode()
	if err != nil {
		return bad("invocation id", err)
	}
	if code == msgpcode.Nil {
		_ = dec.Skip()
	} else if msgpcode.IsString(code) {
		if out.InvocationID, err = dec.DecodeString(); err != nil {
			return bad("invocation id", err)
		}
	} else {
		return bad("invocation id is neither nil nor a string", nil)
	}
	if out.Target, err = dec.DecodeString(); err != nil || out.Target == "" {
		return bad("target is not a non-empty string", err)
	}
	args, err := dec.DecodeArrayLen()
	if err != nil {
		return bad("arguments is not an array", err)
	}
	if args > len(body) { // each element takes at least one byte
		return bad("arguments array is longer than the body", nil)
	}
	out.Arguments = make([]Argument, 0, max(args, 0))
	for i := 0; i < args; i++ {
		raw, err := dec.DecodeRaw()
		if err != nil {
			return bad(fmt.Sprintf("argument %d", i), err)
		}
		out.Arguments = append(out.Arguments, Argument{raw: raw, msgpack: true})
	}
	for i := 5; i < n; i++ { // streamIds and anything newer
		if err := dec.Skip(); err != nil {
			return bad("trailing elements", err)
		}
	}
	return out, nil
}
