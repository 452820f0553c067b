package signalr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// Message is an invocation of a client method, the Go form of the Functions
// SignalRMessage. It goes to every connection of the hub, unless one of
// UserID, GroupName or ConnectionID names a narrower audience; setting more
// than one of them is an error (the Functions host would silently pick one).
//
// It marshals with the Functions binding's property names (target,
// arguments, userId, groupName, connectionId) and unmarshals them in any
// letter case, so the JSON a JavaScript or Python function assigns to its
// output binding decodes unchanged.
type Message struct {
	// Target is the name of the client method to invoke. Required.
	Target string `json:"target"`
	// Arguments are passed to the client method; each must marshal to JSON.
	// Nil is sent as []. Unmarshalled arguments are what json.Decoder with
	// UseNumber produces, so numbers keep every digit.
	Arguments []any `json:"arguments"`
	// UserID sends the message to every connection of that user.
	UserID string `json:"userId,omitempty"`
	// GroupName sends the message to every connection in that group.
	GroupName string `json:"groupName,omitempty"`
	// ConnectionID sends the message to that one connection.
	ConnectionID string `json:"connectionId,omitempty"`
	// Excluded lists connection ids that must not receive a broadcast or a
	// group send. It is not allowed with UserID or ConnectionID.
	Excluded []string `json:"excluded,omitempty"`
	// Endpoints, when not nil, are the endpoints of a multi-endpoint
	// Client the message goes to (the Functions "endpoints" property,
	// typically a filtered copy of the signalREndpoints input), matched by
	// name, type and URL (an empty URL matches any), whatever their online
	// state. Nil means where the Router sends it. An empty list, or one that
	// names an endpoint the Client does not have, is an error wrapping
	// ErrNoEndpoint: nothing is dropped silently.
	Endpoints []EndpointInfo `json:"endpoints,omitempty"`
}

func (Message) outputItem() {}

// MarshalJSON writes the message with its Functions property names and
// arguments as [] when there are none.
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message
	p := plain(m)
	if p.Arguments == nil {
		p.Arguments = []any{}
	}
	return json.Marshal(p)
}

// UnmarshalJSON reads a message object, matching property names
// case-insensitively (the .NET SDK writes Target and Arguments). Unknown
// properties, such as the host's "endpoints", are ignored. A property given
// twice in different cases, or a value of the wrong JSON type, is an error
// wrapping ErrInvalidMessage that names the property.
func (m *Message) UnmarshalJSON(data []byte) error {
	if isJSONNull(data) {
		return nil
	}
	if err := hubproto.CheckJSONDepth(data); err != nil {
		return outErrorf(ErrInvalidMessage, "message: %w", err)
	}
	fields, err := foldFields(data, "message", ErrInvalidMessage, messageFieldNames)
	if err != nil {
		return err
	}
	var out Message
	for _, f := range []struct {
		name string
		dst  *string
	}{{"target", &out.Target}, {"userId", &out.UserID}, {"groupName", &out.GroupName}, {"connectionId", &out.ConnectionID}} {
		if err := decodeStringField(fields, f.name, "message", ErrInvalidMessage, f.dst); err != nil {
			return err
		}
	}
	if raw, ok := fields["arguments"]; ok && !isJSONNull(raw) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.Arguments); err != nil {
			return outErrorf(ErrInvalidMessage, "arguments must be a JSON array, got %s", jsonKind(raw))
		}
	}
	if raw, ok := fields["excluded"]; ok && !isJSONNull(raw) {
		if err := json.Unmarshal(raw, &out.Excluded); err != nil {
			return outErrorf(ErrInvalidMessage, "excluded must be a JSON array of connection id strings")
		}
	}
	if out.Endpoints, err = decodeEndpointsField(fields, "message", ErrInvalidMessage); err != nil {
		return err
	}
	*m = out
	return nil
}

var messageFieldNames = []string{"target", "arguments", "userId", "groupName", "connectionId", "excluded", "endpoints"}

// Validate reports whether the message can be sent, without any I/O. The
// error wraps ErrInvalidMessage (and ErrInvalidGroupName for a bad group
// name), names the field at fault and says how to fix it. Every id
// (userId, groupName, connectionId, excluded) must be valid UTF-8.
func (m Message) Validate() error {
	if strings.TrimSpace(m.Target) == "" {
		return outErrorf(ErrInvalidMessage, `target is empty; set Target (JSON "target") to the name of the client method to invoke`)
	}
	var set []string
	if m.UserID != "" {
		set = append(set, "userId")
	}
	if m.GroupName != "" {
		set = append(set, "groupName")
	}
	if m.ConnectionID != "" {
		set = append(set, "connectionId")
	}
	if len(set) > 1 {
		which := "both " + set[0] + " and " + set[1] + " are set"
		if len(set) == 3 {
			which = "userId, groupName and connectionId are all set"
		}
		return outErrorf(ErrInvalidMessage, "%s; a message goes to everyone, one user, one group or one connection, so keep one of them and send one message per audience", which)
	}
	if m.GroupName != "" {
		if err := validateGroup(m.GroupName); err != nil {
			return fmt.Errorf("%w: groupName: %w", ErrInvalidMessage, err)
		}
	}
	for _, f := range [...]struct{ name, id string }{{"userId", m.UserID}, {"connectionId", m.ConnectionID}} {
		if err := checkText(f.name, f.id); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
		}
	}
	if len(m.Excluded) > 0 && (m.UserID != "" || m.ConnectionID != "") {
		return outErrorf(ErrInvalidMessage, "excluded is set together with %s; excluded applies only to broadcasts and group sends, so remove it", set[0])
	}
	for i, id := range m.Excluded {
		if id == "" {
			return outErrorf(ErrInvalidMessage, "excluded[%d] is empty; list only connection ids", i)
		}
		if err := checkText(fmt.Sprintf("excluded[%d]", i), id); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
		}
	}
	return nil
}

// restPayload is the body of every :send request.
type restPayload struct {
	Target    string `json:"target"`
	Arguments []any  `json:"arguments"`
}

// encodeSendBody returns {"target":..,"arguments":[..]}.
func encodeSendBody(target string, args []any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	if b, ok := appendSendBody(nil, target, args); ok {
		return b, nil
	}
	b, err := json.Marshal(restPayload{Target: target, Arguments: args})
	if err != nil {
		return nil, fmt.Errorf("%w: arguments of %q cannot be encoded as JSON: %w", ErrInvalidMessage, target, err)
	}
	return b, nil
}

// appendSendBody is encodeSendBody without reflection for what a Collector
// snapshot holds: a plain target and arguments that are json.RawMessage
// already in the form json.Marshal would write (compact, HTML-escaped). It
// reports false, having appended nothing, for anything else.
func appendSendBody(dst []byte, target string, args []any) ([]byte, bool) {
	n := len(target) + 32
	for _, a := range args {
		r, ok := a.(json.RawMessage)
		if !ok || !marshalForm(r) {
			return dst, false
		}
		n += len(r) + 1
	}
	if !plainTarget(target) {
		return dst, false
	}
	b := slices.Grow(dst, n)
	b = append(b, sendBodyPrefix...)
	b = append(b, target...)
	b = append(b, sendBodyMiddle...)
	b = append(b, '[')
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a.(json.RawMessage)...)
	}
	return append(b, "]}"...), true
}

// The REST send body is sendBodyPrefix, the target, sendBodyMiddle, the
// arguments array and "}".
const (
	sendBodyPrefix = `{"target":"`
	sendBodyMiddle = `","arguments":`
)

// plainTarget reports whether json.Marshal writes target unchanged
// between its quotes: printable ASCII with nothing it escapes.
func plainTarget(target string) bool {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendPlainJSON appends what json.Marshal writes for v, when v is nil, a
// bool, an integer, a float64 or float32 (finite), or a string that
// json.Marshal copies unchanged between its quotes; for anything else it
// reports false. FuzzAppendPlainJSON checks it against json.Marshal.
func appendPlainJSON(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		if !plainString(v) {
			return b, false
		}
		b = append(b, '"')
		b = append(b, v...)
		return append(b, '"'), true
	case bool:
		return strconv.AppendBool(b, v), true
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case int32:
		return strconv.AppendInt(b, int64(v), 10), true
	case int16:
		return strconv.AppendInt(b, int64(v), 10), true
	case int8:
		return strconv.AppendInt(b, int64(v), 10), true
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint64:
		return strconv.AppendUint(b, v, 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), true
	case float64:
		return appendJSONFloat(b, v, 64)
	case float32:
		return appendJSONFloat(b, float64(v), 32)
	}
	return b, false
}

// appendJSONFloat writes f as json.Marshal does: the shortest decimal
// that reads back as f, in exponent form below 1e-6 and from 1e21 up
// (1e-6 and 1e21 for a float32 too), with a one-digit negative exponent
// written without its leading zero. NaN and infinities are not JSON: it
// reports false for them.
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 is written 1e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// plainString reports whether json.Marshal writes s unchanged between its
// quotes: valid UTF-8 without control characters, '"', '\\', the HTML
// characters it escapes (<, >, &) or U+2028 and U+2029.
func plainString(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c == 0xE2:
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				return false
			}
			ascii = false
		case c >= 0x80:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// marshalForm reports whether r is valid JSON that json.Marshal would copy
// unchanged: no whitespace outside strings, and inside strings none of the
// characters it escapes (<, >, &, U+2028, U+2029).
func marshalForm(r json.RawMessage) bool {
	inString := false
	for i := 0; i < len(r); i++ {
		c := r[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			case '<', '>', '&':
				return false
			case 0xE2:
				if i+2 < len(r) && r[i+1] == 0x80 && (r[i+2] == 0xA8 || r[i+2] == 0xA9) {
					return false
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			return false
		}
	}
	return !inString && json.Valid(r)
}

// foldFields decodes a JSON object and returns the members whose names match
// names case-insensitively, keyed by the canonical name. Other members are
// ignored.
func foldFields(data []byte, what string, sentinel error, names []string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, outErrorf(sentinel, "a %s must be a JSON object, got %s", what, jsonKind(data))
	}
	out := make(map[string]json.RawMessage, len(names))
	seen := make(map[string]string, len(names))
	for k, v := range obj {
		for _, n := range names {
			if !strings.EqualFold(k, n) {
				continue
			}
			if prev, dup := seen[n]; dup {
				a, b := prev, k
				if a > b {
					a, b = b, a
				}
				return nil, outErrorf(sentinel, "%s has both %q and %q; property names are case-insensitive, so keep one", what, a, b)
			}
			seen[n] = k
			out[n] = v
		}
	}
	return out, nil
}

func decodeStringField(fields map[string]json.RawMessage, name, what string, sentinel error, dst *string) error {
	raw, ok := fields[name]
	if !ok || isJSONNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return outErrorf(sentinel, "%s property %q must be a string, got %s", what, name, jsonKind(raw))
	}
	return nil
}

func isJSONNull(data []byte) bool {
	return string(bytes.TrimSpace(data)) == "null"
}

// jsonKind names the JSON type of data for error messages.
func jsonKind(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "nothing"
	}
	switch c := data[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return "invalid JSON"
}
