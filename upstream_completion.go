package signalr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// recordSeparator ends every JSON hub protocol message.
const recordSeparator = 0x1e

// methodFailed is the Completion error when a handler fails without a
// message, as in the Functions extension.
const methodFailed = "Method execution failed."

// completionError is the text a client sees for a failed handler.
func completionError(err error) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return methodFailed
}

// encodeJSONCompletion returns a JSON hub protocol Completion, framed with
// the record separator: the error when err is set, else result (none when
// result is nil).
func encodeJSONCompletion(invocationID string, result any, err error) []byte {
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"type":3,"invocationId":`...)
	buf = appendJSONString(buf, invocationID)
	if err == nil && result != nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			err = fmt.Errorf("the result could not be encoded as JSON: %v", merr)
		} else {
			buf = append(buf, `,"result":`...)
			buf = append(buf, b...)
		}
	}
	if err != nil {
		buf = append(buf, `,"error":`...)
		buf = appendJSONString(buf, completionError(err))
	}
	return append(buf, '}', recordSeparator)
}

// MessagePack Completion result kinds.
const (
	resultKindError    = 1
	resultKindVoid     = 2
	resultKindNonVoid  = 3
	completionElements = 5
)

// encodeMsgpackCompletion returns a MessagePack hub protocol Completion
// [3, {}, invocationId, resultKind(, result|error)], prefixed with its
// VarInt length.
func encodeMsgpackCompletion(invocationID string, result any, err error) []byte {
	var body bytes.Buffer
	enc := msgpack.NewEncoder(&body)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	head := func(n int, kind int) {
		body.Reset()
		_ = enc.EncodeArrayLen(n)
		_ = enc.EncodeInt(messageCompletion)
		_ = enc.EncodeMapLen(0)
		_ = enc.EncodeString(invocationID)
		_ = enc.EncodeInt(int64(kind))
	}
	switch {
	case err != nil:
	case result == nil:
		head(completionElements-1, resultKindVoid)
	default:
		head(completionElements, resultKindNonVoid)
		if merr := enc.Encode(result); merr != nil {
			err = fmt.Errorf("the result could not be encoded as MessagePack: %v", merr)
		}
	}
	if err != nil {
		head(completionElements, resultKindError)
		_ = enc.EncodeString(completionError(err))
	}
	out := binary.AppendUvarint(make([]byte, 0, body.Len()+5), uint64(body.Len()))
	return append(out, body.Bytes()...)
}

// appendJSONString appends s as a JSON string literal, escaped as
// encoding/json escapes it.
func appendJSONString(buf []byte, s string) []byte {
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
