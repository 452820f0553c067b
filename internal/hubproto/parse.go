package hubproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Message is what a server routes a client's message on: its type and,
// when it has them, its invocation id and target.
type Message struct {
	Type MessageType `json:"type"`
	// InvocationID is nil when the message has none (or it is null).
	InvocationID *string `json:"invocationId"`
	Target       string  `json:"target"`
}

// Parse decodes the Message of one client message, without its framing.
// JSON needs one JSON object; MessagePack one well-formed array whose
// elements fit the type (headers a map, the id a string or nil, the
// target a string, the arguments an array). Neither looks at arguments or
// results, but both refuse a message nested deeper than MaxNestingDepth
// with an error wrapping ErrTooDeep.
func (p Protocol) Parse(msg []byte) (Message, error) {
	if p == MessagePack {
		return parseMessagePack(msg)
	}
	var m Message
	if len(bytes.TrimSpace(msg)) == 0 {
		return m, ErrEmpty
	}
	if err := CheckJSONDepth(msg); err != nil {
		return m, fmt.Errorf("hub protocol message: %w", err)
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return m, fmt.Errorf("hub protocol message is not a valid JSON object: %w", err)
	}
	if m.Type == 0 {
		return m, errors.New("hub protocol message has no type")
	}
	return m, nil
}

func parseMessagePack(record []byte) (Message, error) {
	var m Message
	if len(record) == 0 {
		return m, ErrEmpty
	}
	end, err := skipMessagePack(record, 0)
	if err != nil {
		return m, fmt.Errorf("hub protocol message: %w", err)
	}
	if end != len(record) {
		return m, errors.New("MessagePack hub message has bytes after its array")
	}
	r := bytes.NewReader(record)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 1 {
		return m, errors.New("MessagePack hub message is not a non-empty array")
	}
	typ, err := dec.DecodeInt()
	if err != nil {
		return m, errors.New("MessagePack hub message type is not an integer")
	}
	m.Type = MessageType(typ)
	if m.Type == 0 {
		return m, errors.New("hub protocol message has no type")
	}
	var minLen int
	switch m.Type {
	case TypeInvocation, TypeStreamInvocation:
		minLen = 5
	case TypeCompletion:
		minLen = 4
	case TypeCancelInvocation, TypeStreamItem:
		minLen = 3
	default:
		return m, nil
	}
	if n < minLen {
		return m, fmt.Errorf("MessagePack hub message of type %d has %d elements, fewer than %d", m.Type, n, minLen)
	}
	// Headers: a map, which is not decoded.
	if code, err := dec.PeekCode(); err != nil || !msgpcode.IsFixedMap(code) && code != msgpcode.Map16 && code != msgpcode.Map32 {
		return m, errors.New("MessagePack hub message headers are not a map")
	}
	pos := len(record) - r.Len()
	next, _ := skipMessagePack(record, pos)
	if _, err := r.Seek(int64(next), io.SeekStart); err != nil {
		return m, err
	}
	dec.Reset(r)
	if code, _ := dec.PeekCode(); code == msgpcode.Nil {
		_ = dec.DecodeNil()
	} else {
		id, err := dec.DecodeString()
		if err != nil {
			return m, errors.New("MessagePack hub message invocation id is not a string or nil")
		}
		m.InvocationID = &id
	}
	if m.Type == TypeInvocation || m.Type == TypeStreamInvocation {
		if m.Target, err = dec.DecodeString(); err != nil {
			return m, errors.New("MessagePack hub message target is not a string")
		}
		if code, err := dec.PeekCode(); err != nil || !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
			return m, errors.New("MessagePack hub message arguments are not an array")
		}
	}
	return m, nil
}

// Completion is a Completion message, decoded.
type Completion struct {
	// InvocationID is the invocation it completes.
	InvocationID string
	// Error is the error text; nil when the Completion carries none.
	Error *string
	// Result is the result in the protocol's encoding (a JSON or a
	// MessagePack value), nil when there is none.
	Result []byte
}

// ParseCompletion decodes a Completion, without its framing; one nested
// deeper than MaxNestingDepth is refused with an error wrapping ErrTooDeep.
// A JSON
// Completion's result and error are read as encoding/json reads them (a
// "result":null is the result null); a MessagePack one must be
// [3, headers, invocationId, kind(, result|error)].
func (p Protocol) ParseCompletion(msg []byte) (Completion, error) {
	if p == MessagePack {
		return parseMessagePackCompletion(msg)
	}
	var body struct {
		Type         MessageType     `json:"type"`
		InvocationID string          `json:"invocationId"`
		Result       json.RawMessage `json:"result"`
		Error        *string         `json:"error"`
	}
	if err := CheckJSONDepth(msg); err != nil {
		return Completion{}, fmt.Errorf("Completion: %w", err)
	}
	if err := json.Unmarshal(msg, &body); err != nil {
		return Completion{}, err
	}
	if body.Type != TypeCompletion {
		return Completion{}, fmt.Errorf("message type %d, want 3 (Completion)", body.Type)
	}
	return Completion{InvocationID: body.InvocationID, Error: body.Error, Result: body.Result}, nil
}

func parseMessagePackCompletion(record []byte) (Completion, error) {
	var c Completion
	// Checked first: the decoder's Skip and DecodeRaw below recurse.
	if err := CheckMessagePackDepth(record); err != nil {
		return c, fmt.Errorf("Completion: %w", err)
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(record))
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 4 {
		return c, errors.New("not a MessagePack Completion: want an array of 4 or 5 elements")
	}
	if typ, err := dec.DecodeInt(); err != nil || typ != int(TypeCompletion) {
		return c, fmt.Errorf("message type %d, want 3 (Completion)", typ)
	}
	if err := dec.Skip(); err != nil { // headers
		return c, err
	}
	if c.InvocationID, err = dec.DecodeString(); err != nil {
		return c, errors.New("MessagePack Completion invocation id is not a string")
	}
	kind, err := dec.DecodeInt()
	if err != nil {
		return c, err
	}
	switch {
	case kind == resultVoid:
		return c, nil
	case n < 5:
		return c, errors.New("MessagePack Completion has no result")
	case kind == resultError:
		text, err := dec.DecodeString()
		if err != nil {
			return c, err
		}
		c.Error = &text
		return c, nil
	case kind == resultNonVoid:
		raw, err := dec.DecodeRaw()
		if err != nil {
			return c, err
		}
		c.Result = raw
		return c, nil
	}
	return c, fmt.Errorf("MessagePack Completion has result kind %d", kind)
}

// ParseHandshake checks a client's handshake request (without its record
// separator) and returns the protocol it chose, or the error text to send
// back with HandshakeResponse. binaryOK says whether the transport carries
// binary frames; without them MessagePack is refused, as ASP.NET Core
// refuses it.
func ParseHandshake(msg []byte, binaryOK bool) (p Protocol, problem string) {
	p, _, problem = ParseHandshakeVersion(msg, binaryOK)
	return p, problem
}

// ParseHandshakeVersion is ParseHandshake that also returns the version the
// client asked for: 1, or 2 when it negotiated stateful reconnect (see
// HandshakeVersionStatefulReconnect). Other versions are refused.
func ParseHandshakeVersion(msg []byte, binaryOK bool) (p Protocol, version int, problem string) {
	var req struct {
		Protocol string `json:"protocol"`
		Version  *int   `json:"version"`
	}
	if !bytes.HasPrefix(bytes.TrimSpace(msg), []byte("{")) || CheckJSONDepth(msg) != nil || json.Unmarshal(msg, &req) != nil {
		return 0, 0, "Handshake request is not valid JSON: expected {\"protocol\":\"json\",\"version\":1}."
	}
	switch req.Protocol {
	case "":
		return 0, 0, "Handshake request is missing the protocol."
	case NameJSON:
		p = JSON
	case NameMessagePack:
		p = MessagePack
	default:
		return 0, 0, fmt.Sprintf("The protocol '%s' is not supported; this emulator speaks the 'json' and 'messagepack' hub protocols.", req.Protocol)
	}
	switch {
	case req.Version == nil:
		return 0, 0, "Handshake request is missing the version."
	case *req.Version != 1 && *req.Version != HandshakeVersionStatefulReconnect:
		return 0, 0, fmt.Sprintf("The server does not support version %d of the '%s' protocol.", *req.Version, p)
	case p.Binary() && !binaryOK:
		return 0, 0, fmt.Sprintf("Cannot use the '%s' protocol on the current transport. The transport does not support 'Binary' transfer format.", p)
	}
	return p, *req.Version, ""
}

// errBadMessagePack is returned for bytes that are not MessagePack.
var errBadMessagePack = errors.New("hub protocol message is not valid MessagePack")

// skipMessagePack returns the offset just past the MessagePack value that
// starts at off. It walks nested arrays and maps with a stack of counters
// instead of recursion, so no nesting depth can exhaust the stack, and
// refuses nesting deeper than MaxNestingDepth with an error wrapping
// ErrTooDeep.
func skipMessagePack(p []byte, off int) (int, error) {
	// open[i] is how many values the i-th open array or map still holds;
	// depth is how many are open.
	var open [MaxNestingDepth]int
	depth := 0
	for {
		if off >= len(p) {
			return 0, errBadMessagePack
		}
		c := p[off]
		off++
		var size, children int // bytes of payload, nested values
		container := false
		switch {
		case c <= msgpcode.PosFixedNumHigh, c >= msgpcode.NegFixedNumLow:
		case msgpcode.IsFixedMap(c):
			children, container = 2*int(c&0x0f), true
		case msgpcode.IsFixedArray(c):
			children, container = int(c&0x0f), true
		case msgpcode.IsFixedString(c):
			size = int(c & 0x1f)
		default:
			switch c {
			case msgpcode.Nil, msgpcode.False, msgpcode.True:
			case msgpcode.Uint8, msgpcode.Int8:
				size = 1
			case msgpcode.Uint16, msgpcode.Int16:
				size = 2
			case msgpcode.Uint32, msgpcode.Int32, msgpcode.Float:
				size = 4
			case msgpcode.Uint64, msgpcode.Int64, msgpcode.Double:
				size = 8
			case msgpcode.FixExt1:
				size = 2
			case msgpcode.FixExt2:
				size = 3
			case msgpcode.FixExt4:
				size = 5
			case msgpcode.FixExt8:
				size = 9
			case msgpcode.FixExt16:
				size = 17
			case msgpcode.Str8, msgpcode.Bin8, msgpcode.Ext8,
				msgpcode.Str16, msgpcode.Bin16, msgpcode.Ext16, msgpcode.Array16, msgpcode.Map16,
				msgpcode.Str32, msgpcode.Bin32, msgpcode.Ext32, msgpcode.Array32, msgpcode.Map32:
				var width int
				switch c {
				case msgpcode.Str8, msgpcode.Bin8, msgpcode.Ext8:
					width = 1
				case msgpcode.Str16, msgpcode.Bin16, msgpcode.Ext16, msgpcode.Array16, msgpcode.Map16:
					width = 2
				default:
					width = 4
				}
				if len(p)-off < width {
					return 0, errBadMessagePack
				}
				var n uint64
				for _, b := range p[off : off+width] {
					n = n<<8 | uint64(b)
				}
				off += width
				if n > uint64(len(p)) {
					return 0, errBadMessagePack // cannot fit, whatever it is
				}
				switch c {
				case msgpcode.Array16, msgpcode.Array32:
					children, container = int(n), true
				case msgpcode.Map16, msgpcode.Map32:
					children, container = 2*int(n), true
				case msgpcode.Ext8, msgpcode.Ext16, msgpcode.Ext32:
					size = int(n) + 1 // the type byte
				default:
					size = int(n)
				}
			default:
				return 0, errBadMessagePack // 0xc1, never used
			}
		}
		if len(p)-off < size {
			return 0, errBadMessagePack
		}
		off += size
		// Each nested value takes at least a byte: more than the bytes
		// left cannot be there.
		if children > len(p)-off {
			return 0, errBadMessagePack
		}
		if container {
			if depth == MaxNestingDepth {
				return 0, fmt.Errorf("MessagePack %w", ErrTooDeep)
			}
			if children > 0 {
				open[depth] = children
				depth++
				continue
			}
		}
		// A value ended; so did every container it was the last value of.
		for depth > 0 {
			open[depth-1]--
			if open[depth-1] > 0 {
				break
			}
			depth--
		}
		if depth == 0 {
			return off, nil
		}
	}
}
