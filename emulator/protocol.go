package emulator

import (
	"encoding/json"
	"sync"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// The emulator speaks the JSON (text) and MessagePack (binary) hub
// protocols through internal/hubproto; a connection's hubproto.Protocol is
// the one its client chose in the handshake.

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
	record, _ := hubproto.JSON.Invocation("", target, arguments) // JSON copies arguments as they are
	return &outMessage{target: target, arguments: arguments, json: record}
}

// record returns the message encoded in p, or nil if it cannot be (the
// arguments were not a JSON array, which REST sends never let through).
func (m *outMessage) record(p hubproto.Protocol) []byte {
	if p != hubproto.MessagePack {
		return m.json
	}
	m.msgpackOnce.Do(func() {
		m.msgpack, m.msgpackErr = hubproto.MessagePack.Invocation("", m.target, m.arguments)
	})
	return m.msgpack
}

// streamItem returns a StreamItem of item, one compact JSON value, for
// stream id; nil if item is not JSON, which the REST handler checked.
func streamItem(p hubproto.Protocol, id string, item json.RawMessage) []byte {
	record, _ := p.StreamItem(id, item)
	return record
}

// streamCompletion returns the Completion that ends stream id, with an
// error when errorText is not empty.
func streamCompletion(p hubproto.Protocol, id, errorText string) []byte {
	if errorText != "" {
		return p.CompletionError(id, errorText)
	}
	return p.CompletionVoid(id)
}
