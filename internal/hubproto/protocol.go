package hubproto

import "strconv"

// MessageType is the "type" of a hub protocol message.
type MessageType int

// Hub protocol message types. The serverless upstream adds the connection
// events (10 and 11), which never reach a client.
const (
	TypeInvocation       MessageType = 1
	TypeStreamItem       MessageType = 2
	TypeCompletion       MessageType = 3
	TypeStreamInvocation MessageType = 4
	TypeCancelInvocation MessageType = 5
	TypePing             MessageType = 6
	TypeClose            MessageType = 7
	// TypeAck (8) and TypeSequence (9) belong to stateful reconnect; see
	// Protocol.Ack, Protocol.Sequence and Protocol.ParseSequenceID.
	TypeAck      MessageType = 8
	TypeSequence MessageType = 9
	// TypeOpenConnection and TypeCloseConnection are the upstream's
	// connected and disconnected event bodies.
	TypeOpenConnection  MessageType = 10
	TypeCloseConnection MessageType = 11
)

// RecordSeparator ends every message of the JSON hub protocol, the
// handshake included.
const RecordSeparator = 0x1e

// Protocol is a hub protocol a client chooses in its handshake. Both share
// the JSON handshake.
type Protocol int

const (
	// JSON is the text protocol: one JSON object per message, each
	// followed by RecordSeparator.
	JSON Protocol = iota
	// MessagePack is the binary protocol: one MessagePack array per
	// message, each preceded by its length as a VarInt.
	MessagePack
	// NumProtocols is how many protocols there are, for arrays indexed
	// by Protocol.
	NumProtocols
)

// Protocol names as clients write them in the handshake.
const (
	NameJSON        = "json"
	NameMessagePack = "messagepack"
)

// Media types of a message sent in an HTTP body, as an upstream receives a
// client's invocation.
const (
	ContentTypeJSON        = "application/json"
	ContentTypeMessagePack = "application/x-msgpack"
)

// String returns the protocol's handshake name.
func (p Protocol) String() string {
	switch p {
	case JSON:
		return NameJSON
	case MessagePack:
		return NameMessagePack
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// Binary reports whether the protocol needs a transport that carries
// binary frames (the Binary transfer format).
func (p Protocol) Binary() bool { return p == MessagePack }

// ContentType is the media type of one of the protocol's messages in an
// HTTP body.
func (p Protocol) ContentType() string {
	if p == MessagePack {
		return ContentTypeMessagePack
	}
	return ContentTypeJSON
}
