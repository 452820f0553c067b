package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// protocol is a hub protocol a client chose in its handshake. The emulator
// speaks JSON (text) and MessagePack (binary); both share the JSON
// handshake.
type protocol int

const (
	protocolJSON protocol = iota
	protocolMessagePack
	protocolCount // how many there are
)

// Protocol names as clients send them in the handshake.
const (
	protocolNameJSON        = "json"
	protocolNameMessagePack = "messagepack"
)

func (p protocol) String() string {
	if p == protocolMessagePack {
		return protocolNameMessagePack
	}
	return protocolNameJSON
}

// binary reports whether the protocol needs a transport that carries
// binary frames (the Binary transfer format).
func (p protocol) binary() bool { return p == protocolMessagePack }

// contentType is the media type of one of the protocol's messages sent in
// an HTTP body, as the upstream receives a client's invocation.
func (p protocol) contentType() string {
	if p == protocolMessagePack {
		return "application/x-msgpack"
	}
	return contentTypeJSON
}

// messageReader cuts a client's stream of transport frames into hub
// messages: records separated by 0x1E for JSON, length-prefixed messages
// for MessagePack.
type messageReader interface {
	// split returns the complete messages once frame is added. They stay
	// valid until the next call.
	split(frame []byte) ([][]byte, error)
}

// newReader returns the protocol's reader, refusing messages over limit
// bytes.
func (p protocol) newReader(limit int) messageReader {
	if p == protocolMessagePack {
		return &lengthPrefixedReader{limit: limit}
	}
	return &recordSplitter{limit: limit}
}

// parse decodes what the emulator needs of one client message.
func (p protocol) parse(record []byte) (clientMessage, error) {
	if p == protocolMessagePack {
		return parseMessagePackMessage(record)
	}
	return parseClientMessage(record)
}

// ping returns the Ping message.
func (p protocol) ping() []byte {
	if p == protocolMessagePack {
		return msgpackPingRecord
	}
	return pingRecord
}

// close returns a Close message; an empty errorText means a clean close.
func (p protocol) close(errorText string, allowReconnect bool) []byte {
	if p == protocolMessagePack {
		return encodeMessagePackClose(errorText, allowReconnect)
	}
	return encodeClose(errorText, allowReconnect)
}

// completionError returns a Completion carrying an error.
func (p protocol) completionError(invocationID, message string) []byte {
	if p == protocolMessagePack {
		return encodeMessagePackCompletionError(invocationID, message)
	}
	return encodeCompletionError(invocationID, message)
}

// emptyCompletion returns a Completion without a result, which resolves
// the client's invoke with null.
func (p protocol) emptyCompletion(invocationID string) []byte {
	if p == protocolMessagePack {
		return encodeMessagePackVoidCompletion(invocationID)
	}
	return encodeEmptyCompletion(invocationID)
}

// invocationWithID returns an Invocation that expects a Completion with
// the invocation id, or nil if arguments (a JSON array) cannot be encoded.
func (p protocol) invocationWithID(id, target string, arguments json.RawMessage) []byte {
	if p == protocolMessagePack {
		out, _ := encodeMessagePackInvocationWithID(id, target, arguments)
		return out
	}
	return encodeInvocationWithID(id, target, arguments)
}

// streamItem returns a StreamItem of item, one JSON value, for stream id.
func (p protocol) streamItem(id string, item json.RawMessage) []byte {
	if p == protocolMessagePack {
		out, _ := encodeMessagePackStreamItem(id, item)
		return out
	}
	rec := []byte(`{"type":2,"invocationId":`)
	rec = appendJSONString(rec, id)
	rec = append(rec, `,"item":`...)
	rec = append(rec, item...)
	return append(rec, '}', recordSeparator)
}

// streamCompletion returns the Completion that ends stream id, with an
// error when errorText is not empty.
func (p protocol) streamCompletion(id, errorText string) []byte {
	if errorText != "" {
		return p.completionError(id, errorText)
	}
	return p.emptyCompletion(id)
}

// completionResult reads a client's Completion: its result as JSON (nil
// for none), or its error text.
func (p protocol) completionResult(record []byte) (result json.RawMessage, errorText *string, err error) {
	if p == protocolMessagePack {
		return parseMessagePackCompletion(record)
	}
	var body struct {
		Result json.RawMessage `json:"result"`
		Error  *string         `json:"error"`
	}
	if err := json.Unmarshal(record, &body); err != nil {
		return nil, nil, err
	}
	return body.Result, body.Error, nil
}

// handshakeRequest is the first record a client sends.
type handshakeRequest struct {
	Protocol string `json:"protocol"`
	Version  *int   `json:"version"`
}

// parseHandshake checks a handshake request and returns the protocol the
// client chose, or the error text to send back. binaryOK says whether the
// transport carries binary frames; without them MessagePack is refused, as
// ASP.NET Core refuses it.
func parseHandshake(record []byte, binaryOK bool) (p protocol, problem string) {
	var req handshakeRequest
	if !bytes.HasPrefix(bytes.TrimSpace(record), []byte("{")) || json.Unmarshal(record, &req) != nil {
		return 0, "Handshake request is not valid JSON: expected {\"protocol\":\"json\",\"version\":1}."
	}
	switch req.Protocol {
	case "":
		return 0, "Handshake request is missing the protocol."
	case protocolNameJSON:
		p = protocolJSON
	case protocolNameMessagePack:
		p = protocolMessagePack
	default:
		return 0, fmt.Sprintf("The protocol '%s' is not supported; this emulator speaks the 'json' and 'messagepack' hub protocols.", req.Protocol)
	}
	switch {
	case req.Version == nil:
		return 0, "Handshake request is missing the version."
	case *req.Version != 1:
		return 0, fmt.Sprintf("The server does not support version %d of the '%s' protocol.", *req.Version, p)
	case p.binary() && !binaryOK:
		return 0, fmt.Sprintf("Cannot use the '%s' protocol on the current transport. The transport does not support 'Binary' transfer format.", p)
	}
	return p, ""
}

// outMessage is an Invocation of a REST send, on its way to any number of
// connections. It is encoded at most once per protocol, the first time a
// connection speaking that protocol needs it, however many connections
// get it.
type outMessage struct {
	target    string
	arguments json.RawMessage // a compact JSON array

	json []byte // encoded at once: most clients speak JSON

	msgpackOnce sync.Once
	msgpack     []byte
	msgpackErr  error
}

// newOutMessage returns the Invocation of target with arguments, which
// must be a valid JSON array (or empty, meaning none).
func newOutMessage(target string, arguments json.RawMessage) *outMessage {
	return &outMessage{target: target, arguments: arguments, json: encodeInvocation(target, arguments)}
}

// record returns the message encoded in p, or nil if it cannot be (the
// arguments were not a JSON array, which REST sends never let through).
func (m *outMessage) record(p protocol) []byte {
	if p != protocolMessagePack {
		return m.json
	}
	m.msgpackOnce.Do(func() {
		m.msgpack, m.msgpackErr = encodeMessagePackInvocation(m.target, m.arguments)
	})
	return m.msgpack
}
