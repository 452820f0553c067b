package hubproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// MessagePack Completion result kinds.
const (
	resultError   = 1
	resultVoid    = 2
	resultNonVoid = 3
)

// Pre-encoded messages.
var (
	jsonPing        = []byte("{\"type\":6}\x1e")
	msgpackPing     = []byte{0x02, 0x91, byte(TypePing)} // [6]
	handshakeOK     = []byte("{}\x1e")
	openConnection  = []byte(`{"type":10}`)
	closeConnection = []byte(`{"Type":11}`)
)

// errArgumentsNotArray is returned by Invocation for arguments that are not
// a JSON array.
var errArgumentsNotArray = errors.New("arguments must be a JSON array")

// Ping returns the Ping message: {"type":6} or [6].
func (p Protocol) Ping() []byte {
	if p == MessagePack {
		return msgpackPing
	}
	return jsonPing
}

// Close returns a Close message: {"type":7,"error":…,"allowReconnect":true}
// or [7, error|nil, allowReconnect]. An empty errorText means a clean
// close (JSON leaves the field out).
func (p Protocol) Close(errorText string, allowReconnect bool) []byte {
	if p == MessagePack {
		return mustMessagePack(func(enc *msgpack.Encoder) error {
			_ = enc.EncodeArrayLen(3)
			_ = enc.EncodeInt(int64(TypeClose))
			if errorText == "" {
				_ = enc.EncodeNil()
			} else {
				_ = enc.EncodeString(errorText)
			}
			return enc.EncodeBool(allowReconnect)
		})
	}
	buf := []byte(`{"type":7`)
	if errorText != "" {
		buf = append(buf, `,"error":`...)
		buf = AppendJSONString(buf, errorText)
	}
	if allowReconnect {
		buf = append(buf, `,"allowReconnect":true`...)
	}
	return append(buf, '}', RecordSeparator)
}

// CompletionError returns a Completion carrying an error, which rejects
// the caller's invoke: {"type":3,"invocationId":…,"error":…} or
// [3, {}, invocationId, 1, message].
func (p Protocol) CompletionError(invocationID, message string) []byte {
	if p == MessagePack {
		return mustMessagePack(func(enc *msgpack.Encoder) error {
			completionHead(enc, 5, invocationID, resultError)
			return enc.EncodeString(message)
		})
	}
	buf := make([]byte, 0, 48+len(invocationID)+len(message))
	buf = append(buf, `{"type":3,"invocationId":`...)
	buf = AppendJSONString(buf, invocationID)
	buf = append(buf, `,"error":`...)
	buf = AppendJSONString(buf, message)
	return append(buf, '}', RecordSeparator)
}

// CompletionVoid returns a Completion without a result, which resolves the
// caller's invoke with null: {"type":3,"invocationId":…} or
// [3, {}, invocationId, 2].
func (p Protocol) CompletionVoid(invocationID string) []byte {
	if p == MessagePack {
		return mustMessagePack(func(enc *msgpack.Encoder) error {
			completionHead(enc, 4, invocationID, resultVoid)
			return nil
		})
	}
	buf := make([]byte, 0, 32+len(invocationID))
	buf = append(buf, `{"type":3,"invocationId":`...)
	buf = AppendJSONString(buf, invocationID)
	return append(buf, '}', RecordSeparator)
}

// CompletionResult returns a Completion carrying result, a Go value:
// {"type":3,"invocationId":…,"result":…} with result as encoding/json
// writes it, or [3, {}, invocationId, 3, result] with result as msgpack
// writes it, struct fields named by their json tags (so one Go type serves
// both protocols) and integers in their smallest form. The error says why
// result cannot be encoded.
func (p Protocol) CompletionResult(invocationID string, result any) ([]byte, error) {
	if p == MessagePack {
		return encodeMessagePack(func(enc *msgpack.Encoder) error {
			completionHead(enc, 5, invocationID, resultNonVoid)
			return encodeGoValue(enc, result)
		})
	}
	b, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 48+len(invocationID)+len(b))
	buf = append(buf, `{"type":3,"invocationId":`...)
	buf = AppendJSONString(buf, invocationID)
	buf = append(buf, `,"result":`...)
	buf = append(buf, b...)
	return append(buf, '}', RecordSeparator), nil
}

// completionHead writes the start of a Completion of n elements:
// 3, {}, invocationID, kind.
func completionHead(enc *msgpack.Encoder, n int, invocationID string, kind int) {
	_ = enc.EncodeArrayLen(n)
	_ = enc.EncodeInt(int64(TypeCompletion))
	_ = enc.EncodeMapLen(0)
	_ = enc.EncodeString(invocationID)
	_ = enc.EncodeInt(int64(kind))
}

// Invocation returns an Invocation of target with arguments, a JSON array
// (empty means none): {"type":1,"invocationId":…,"target":…,"arguments":…}
// or [1, {}, invocationId|nil, target, arguments]. An empty invocationID
// leaves the id out (nil in MessagePack): the call expects no Completion.
// MessagePack converts arguments as JSONToMessagePack does. The error says
// why arguments are not a JSON array.
func (p Protocol) Invocation(invocationID, target string, arguments json.RawMessage) ([]byte, error) {
	if len(arguments) == 0 {
		arguments = json.RawMessage("[]")
	}
	if p == MessagePack {
		args, err := readJSON(arguments)
		if err != nil {
			return nil, err
		}
		if _, ok := args.([]any); !ok {
			return nil, errArgumentsNotArray
		}
		return encodeMessagePack(func(enc *msgpack.Encoder) error {
			invocationHead(enc, invocationID, target)
			return writeJSONValue(enc, args)
		})
	}
	buf := make([]byte, 0, 64+len(invocationID)+len(target)+len(arguments))
	buf = append(buf, `{"type":1,`...)
	if invocationID != "" {
		buf = append(buf, `"invocationId":`...)
		buf = AppendJSONString(buf, invocationID)
		buf = append(buf, ',')
	}
	buf = append(buf, `"target":`...)
	buf = AppendJSONString(buf, target)
	buf = append(buf, `,"arguments":`...)
	buf = append(buf, arguments...)
	return append(buf, '}', RecordSeparator), nil
}

// InvocationValues is Invocation with arguments as Go values, written as
// CompletionResult writes a result.
func (p Protocol) InvocationValues(invocationID, target string, arguments []any) ([]byte, error) {
	if arguments == nil {
		arguments = []any{}
	}
	if p == MessagePack {
		return encodeMessagePack(func(enc *msgpack.Encoder) error {
			invocationHead(enc, invocationID, target)
			return encodeGoValue(enc, arguments)
		})
	}
	args, err := json.Marshal(arguments)
	if err != nil {
		return nil, err
	}
	return p.Invocation(invocationID, target, args)
}

// invocationHead writes the start of a five-element Invocation:
// 1, {}, invocationId|nil, target.
func invocationHead(enc *msgpack.Encoder, invocationID, target string) {
	_ = enc.EncodeArrayLen(5)
	_ = enc.EncodeInt(int64(TypeInvocation))
	_ = enc.EncodeMapLen(0)
	if invocationID == "" {
		_ = enc.EncodeNil()
	} else {
		_ = enc.EncodeString(invocationID)
	}
	_ = enc.EncodeString(target)
}

// StreamItem returns a StreamItem of item, one JSON value, for stream
// invocationID: {"type":2,"invocationId":…,"item":…} or
// [2, {}, invocationId, item], item converted as JSONToMessagePack does.
func (p Protocol) StreamItem(invocationID string, item json.RawMessage) ([]byte, error) {
	if p == MessagePack {
		v, err := readJSON(item)
		if err != nil {
			return nil, err
		}
		return encodeMessagePack(func(enc *msgpack.Encoder) error {
			_ = enc.EncodeArrayLen(4)
			_ = enc.EncodeInt(int64(TypeStreamItem))
			_ = enc.EncodeMapLen(0)
			_ = enc.EncodeString(invocationID)
			return writeJSONValue(enc, v)
		})
	}
	buf := make([]byte, 0, 48+len(invocationID)+len(item))
	buf = append(buf, `{"type":2,"invocationId":`...)
	buf = AppendJSONString(buf, invocationID)
	buf = append(buf, `,"item":`...)
	buf = append(buf, item...)
	return append(buf, '}', RecordSeparator), nil
}

// CancelInvocation returns a CancelInvocation of stream invocationID:
// {"type":5,"invocationId":…} or [5, {}, invocationId].
func (p Protocol) CancelInvocation(invocationID string) []byte {
	if p == MessagePack {
		return mustMessagePack(func(enc *msgpack.Encoder) error {
			_ = enc.EncodeArrayLen(3)
			_ = enc.EncodeInt(int64(TypeCancelInvocation))
			_ = enc.EncodeMapLen(0)
			return enc.EncodeString(invocationID)
		})
	}
	buf := AppendJSONString([]byte(`{"type":5,"invocationId":`), invocationID)
	return append(buf, '}', RecordSeparator)
}

// HandshakeRequest returns the handshake request a client of p sends
// first: {"protocol":"json","version":1} and the record separator.
func (p Protocol) HandshakeRequest() []byte {
	buf := []byte(`{"protocol":`)
	buf = AppendJSONString(buf, p.String())
	return append(buf, `,"version":1}`+"\x1e"...)
}

// HandshakeResponse returns the server's answer to a handshake: {} when
// problem is empty, else {"error":problem}, with the record separator in
// either protocol.
func HandshakeResponse(problem string) []byte {
	if problem == "" {
		return handshakeOK
	}
	buf := []byte(`{"error":`)
	buf = AppendJSONString(buf, problem)
	return append(buf, '}', RecordSeparator)
}

// OpenConnectionBody is the upstream body of the connected event,
// {"type":10}. It is shared; do not modify it.
func OpenConnectionBody() []byte { return openConnection }

// CloseConnectionBody is the upstream body of the disconnected event:
// {"Type":11}, with "Error" when errorText is not empty (the service
// capitalises both keys).
func CloseConnectionBody(errorText string) []byte {
	if errorText == "" {
		return closeConnection
	}
	buf := AppendJSONString([]byte(`{"Type":11,"Error":`), errorText)
	return append(buf, '}')
}

// AppendJSONString appends s as a JSON string literal, escaped as
// encoding/json escapes it.
func AppendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// encodeMessagePack encodes one message with fill and frames it.
func encodeMessagePack(fill func(enc *msgpack.Encoder) error) ([]byte, error) {
	var body bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&body)
	if err := fill(enc); err != nil {
		return nil, err
	}
	return MessagePack.Frame(make([]byte, 0, body.Len()+maxVarIntBytes), body.Bytes()), nil
}

// mustMessagePack is encodeMessagePack for messages made only of strings,
// integers, booleans and nil, whose encoding cannot fail.
func mustMessagePack(fill func(enc *msgpack.Encoder) error) []byte {
	out, err := encodeMessagePack(fill)
	if err != nil {
		panic(fmt.Sprintf("hubproto: encoding a MessagePack message failed: %v", err))
	}
	return out
}
