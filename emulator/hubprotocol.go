package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// recordSeparator ends every message of the JSON hub protocol, the handshake
// included.
const recordSeparator = 0x1e

// Hub protocol message types used by the emulator.
const (
	typeInvocation       = 1
	typeStreamItem       = 2
	typeCompletion       = 3
	typeStreamInvocation = 4
	typeCancelInvocation = 5
	typePing             = 6
	typeClose            = 7
)

// Pre-encoded records the emulator sends often.
var (
	pingRecord             = []byte("{\"type\":6}\x1e")
	handshakeSuccessRecord = []byte("{}\x1e")
	errEmptyRecord         = errors.New("empty hub protocol message")
)

// clientMessage is the part of a client's hub message the emulator looks at.
type clientMessage struct {
	Type         int     `json:"type"`
	InvocationID *string `json:"invocationId"`
	Target       string  `json:"target"`
}

// parseClientMessage decodes one JSON record sent by a client after the
// handshake.
func parseClientMessage(record []byte) (clientMessage, error) {
	var m clientMessage
	if len(bytes.TrimSpace(record)) == 0 {
		return m, errEmptyRecord
	}
	if err := json.Unmarshal(record, &m); err != nil {
		return m, fmt.Errorf("hub protocol message is not a valid JSON object: %w", err)
	}
	if m.Type == 0 {
		return m, errors.New("hub protocol message has no type")
	}
	return m, nil
}

// encodeInvocation returns the record of a fire-and-forget Invocation of
// target with arguments, which must be a valid JSON array.
func encodeInvocation(target string, arguments json.RawMessage) []byte {
	buf := make([]byte, 0, 40+len(target)+len(arguments))
	buf = append(buf, `{"type":1,"target":`...)
	buf = appendJSONString(buf, target)
	buf = append(buf, `,"arguments":`...)
	if len(arguments) == 0 {
		buf = append(buf, "[]"...)
	} else {
		buf = append(buf, arguments...)
	}
	buf = append(buf, '}', recordSeparator)
	return buf
}

// encodeCompletionError returns the record of a Completion carrying an
// error for invocationID.
func encodeCompletionError(invocationID, message string) []byte {
	buf := []byte(`{"type":3,"invocationId":`)
	buf = appendJSONString(buf, invocationID)
	buf = append(buf, `,"error":`...)
	buf = appendJSONString(buf, message)
	return append(buf, '}', recordSeparator)
}

// encodeClose returns the record of a Close message. An empty errorText
// leaves the error field out, which clients read as a clean close.
func encodeClose(errorText string, allowReconnect bool) []byte {
	buf := []byte(`{"type":7`)
	if errorText != "" {
		buf = append(buf, `,"error":`...)
		buf = appendJSONString(buf, errorText)
	}
	if allowReconnect {
		buf = append(buf, `,"allowReconnect":true`...)
	}
	return append(buf, '}', recordSeparator)
}

// encodeHandshakeError returns the handshake response that rejects a client.
func encodeHandshakeError(problem string) []byte {
	buf := []byte(`{"error":`)
	buf = appendJSONString(buf, problem)
	return append(buf, '}', recordSeparator)
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(buf []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, b...)
}
