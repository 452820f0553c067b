package hubproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Stateful reconnect (ASP.NET Core SignalR 8 and later) numbers the
// trackable messages each side sends (Invocation, StreamItem, Completion,
// StreamInvocation, CancelInvocation) from 1, implicitly: the id is never on
// the wire. Ack tells the peer the highest id processed, so that it may
// drop what it buffered up to there; Sequence, sent first after a
// reconnect, gives the id of the next message the sender (re)sends.
// Neither has headers or an invocation id, and neither is numbered.

// Trackable reports whether messages of type t are numbered and buffered
// for replay by stateful reconnect: types 1 to 5.
func (t MessageType) Trackable() bool {
	return t >= TypeInvocation && t <= TypeCancelInvocation
}

// HandshakeVersionStatefulReconnect is the handshake version a client
// sends when stateful reconnect was negotiated; version 1 is the classic
// protocol.
const HandshakeVersionStatefulReconnect = 2

// Ack returns an Ack of sequenceID: {"type":8,"sequenceId":n} or [8, n],
// n in MessagePack's smallest unsigned form.
func (p Protocol) Ack(sequenceID uint64) []byte { return p.sequenceMessage(TypeAck, sequenceID) }

// Sequence returns a Sequence of sequenceID: {"type":9,"sequenceId":n} or
// [9, n].
func (p Protocol) Sequence(sequenceID uint64) []byte {
	return p.sequenceMessage(TypeSequence, sequenceID)
}

func (p Protocol) sequenceMessage(t MessageType, id uint64) []byte {
	if p == MessagePack {
		return mustMessagePack(func(enc *msgpack.Encoder) error {
			_ = enc.EncodeArrayLen(2)
			_ = enc.EncodeInt(int64(t))
			return enc.EncodeUint(id)
		})
	}
	buf := make([]byte, 0, 40)
	buf = append(buf, `{"type":`...)
	buf = strconv.AppendInt(buf, int64(t), 10)
	buf = append(buf, `,"sequenceId":`...)
	buf = strconv.AppendUint(buf, id, 10)
	return append(buf, '}', RecordSeparator)
}

// errNoSequenceID is returned for an Ack or Sequence without its id.
var errNoSequenceID = errors.New("hub protocol message has no sequenceId")

// ParseSequenceID decodes an Ack or a Sequence, without its framing, and
// returns its type and sequence id. JSON needs "sequenceId" as a
// non-negative integer; MessagePack needs [8|9, id] with id any unsigned
// integer width (or a non-negative signed one). Extra JSON fields and
// extra MessagePack elements are ignored, as for other messages.
func (p Protocol) ParseSequenceID(msg []byte) (MessageType, uint64, error) {
	if p == MessagePack {
		return parseMessagePackSequenceID(msg)
	}
	var body struct {
		Type       MessageType `json:"type"`
		SequenceID *uint64     `json:"sequenceId"`
	}
	if len(bytes.TrimSpace(msg)) == 0 {
		return 0, 0, ErrEmpty
	}
	if err := json.Unmarshal(msg, &body); err != nil {
		return 0, 0, fmt.Errorf("Ack or Sequence is not a JSON object with a non-negative integer sequenceId: %w", err)
	}
	if body.Type != TypeAck && body.Type != TypeSequence {
		return body.Type, 0, fmt.Errorf("message type %d, want 8 (Ack) or 9 (Sequence)", body.Type)
	}
	if body.SequenceID == nil {
		return body.Type, 0, errNoSequenceID
	}
	return body.Type, *body.SequenceID, nil
}

func parseMessagePackSequenceID(record []byte) (MessageType, uint64, error) {
	if len(record) == 0 {
		return 0, 0, ErrEmpty
	}
	end, err := skipMessagePack(record, 0)
	if err != nil {
		return 0, 0, err
	}
	if end != len(record) {
		return 0, 0, errors.New("MessagePack hub message has bytes after its array")
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(record))
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 1 {
		return 0, 0, errors.New("MessagePack hub message is not a non-empty array")
	}
	typ, err := dec.DecodeInt()
	if err != nil {
		return 0, 0, errors.New("MessagePack hub message type is not an integer")
	}
	t := MessageType(typ)
	if t != TypeAck && t != TypeSequence {
		return t, 0, fmt.Errorf("message type %d, want 8 (Ack) or 9 (Sequence)", typ)
	}
	if n < 2 {
		return t, 0, errNoSequenceID
	}
	code, err := dec.PeekCode()
	if err != nil {
		return t, 0, errNoSequenceID
	}
	switch {
	case msgpcode.IsFixedNum(code) && code <= msgpcode.PosFixedNumHigh,
		code == msgpcode.Uint8, code == msgpcode.Uint16, code == msgpcode.Uint32, code == msgpcode.Uint64:
		id, err := dec.DecodeUint64()
		return t, id, err
	case code == msgpcode.Int8, code == msgpcode.Int16, code == msgpcode.Int32, code == msgpcode.Int64:
		id, err := dec.DecodeInt64()
		if err != nil || id < 0 {
			return t, 0, errors.New("MessagePack sequence id is negative")
		}
		return t, uint64(id), nil
	}
	return t, 0, errors.New("MessagePack sequence id is not an integer")
}
