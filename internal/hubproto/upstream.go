package hubproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ErrNotUpstream is wrapped by the errors of DecodeUpstream.
var ErrNotUpstream = errors.New("not a serverless message")

// Upstream is a serverless upstream body, decoded: a client's Invocation
// (TypeInvocation), or the connected (TypeOpenConnection) or disconnected
// (TypeCloseConnection) event. A is the caller's argument type.
type Upstream[A any] struct {
	Type MessageType
	// InvocationID is empty for a send (no Completion expected).
	InvocationID string
	Target       string
	Arguments    []A
	// Error is why the connection closed (disconnected only).
	Error string
}

// DecodeUpstream decodes an upstream body in protocol p, which the service
// sends without its framing. Each argument's bytes, a subslice of body in
// the protocol's encoding, become an A through wrap.
//
// A JSON body may be an Invocation or a connection event; its property
// names match case-insensitively, as the service writes "Type" and
// "Error" for the disconnected event. A MessagePack body is an Invocation,
// [1, headers, invocationId|nil, target, arguments(, streamIds)]. The
// errors wrap ErrNotUpstream, and also ErrTooDeep for a body nested deeper
// than MaxNestingDepth.
func DecodeUpstream[A any](p Protocol, body []byte, wrap func(raw []byte) A) (Upstream[A], error) {
	if p == MessagePack {
		return decodeUpstreamMessagePack(body, wrap)
	}
	return decodeUpstreamJSON(body, wrap)
}

func decodeUpstreamJSON[A any](body []byte, wrap func(raw []byte) A) (Upstream[A], error) {
	var out Upstream[A]
	typ, id, target, errText, args, ok := scanJSONBody(body, wrap)
	if !ok {
		// The slow path, which also words the errors. Plain fields and a
		// sentinel rather than pointers: each pointer costs an allocation.
		m := struct {
			Type         int               `json:"type"`
			InvocationID string            `json:"invocationId"`
			Target       string            `json:"target"`
			Arguments    []json.RawMessage `json:"arguments"`
			Error        string            `json:"error"`
		}{Type: -1}
		if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
			return out, fmt.Errorf("%w: body is not a JSON object", ErrNotUpstream)
		}
		if err := CheckJSONDepth(body); err != nil {
			return out, fmt.Errorf("%w: body: %w", ErrNotUpstream, err)
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return out, fmt.Errorf("%w: body is not valid JSON: %v", ErrNotUpstream, err)
		}
		typ, id, target, errText = m.Type, m.InvocationID, m.Target, m.Error
		if m.Arguments != nil {
			args = make([]A, len(m.Arguments))
			for i, raw := range m.Arguments {
				args[i] = wrap(raw)
			}
		}
	}
	out.Type = MessageType(typ)
	switch out.Type {
	case -1:
		return Upstream[A]{}, fmt.Errorf("%w: body has no \"type\"", ErrNotUpstream)
	case TypeOpenConnection:
	case TypeCloseConnection:
		out.Error = errText
	case TypeInvocation:
		if target == "" {
			return Upstream[A]{}, fmt.Errorf("%w: invocation has no \"target\"", ErrNotUpstream)
		}
		out.Target, out.InvocationID, out.Arguments = target, id, args
	default:
		return Upstream[A]{}, fmt.Errorf("%w: type %d; want 1 (invocation), 10 (connected) or 11 (disconnected)", ErrNotUpstream, typ)
	}
	return out, nil
}

func decodeUpstreamMessagePack[A any](body []byte, wrap func(raw []byte) A) (Upstream[A], error) {
	bad := func(what string, err error) (Upstream[A], error) {
		if err != nil {
			return Upstream[A]{}, fmt.Errorf("%w: MessagePack body: %s: %v", ErrNotUpstream, what, err)
		}
		return Upstream[A]{}, fmt.Errorf("%w: MessagePack body: %s", ErrNotUpstream, what)
	}
	// The whole body is walked first, without recursion: the decoder's
	// Skip and DecodeRaw below recurse, and must not meet deep nesting.
	if err := CheckMessagePackDepth(body); err != nil {
		return Upstream[A]{}, fmt.Errorf("%w: MessagePack body: %w", ErrNotUpstream, err)
	}
	r := bytes.NewReader(body)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
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
	if typ != int(TypeInvocation) {
		return bad(fmt.Sprintf("type %d; want 1 (invocation)", typ), nil)
	}
	if n < 5 {
		return bad(fmt.Sprintf("invocation array has %d elements; want at least 5", n), nil)
	}
	if err := dec.Skip(); err != nil { // headers
		return bad("headers", err)
	}
	out := Upstream[A]{Type: TypeInvocation}
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
	out.Arguments = make([]A, 0, max(args, 0))
	// Each argument is a subslice of body, found by the same walk that
	// checked it; the decoder reads from r without buffering ahead, so r
	// says where the arguments start. The elements after them (streamIds
	// and anything newer) were checked with the rest.
	pos := len(body) - r.Len()
	for i := 0; i < args; i++ {
		end, err := skipMessagePack(body, pos)
		if err != nil {
			return bad(fmt.Sprintf("argument %d", i), err)
		}
		out.Arguments = append(out.Arguments, wrap(body[pos:end:end]))
		pos = end
	}
	return out, nil
}
