package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The MessagePack hub protocol: every message is a MessagePack array
// preceded by its length as a VarInt (7 bits a byte, least significant
// first, high bit set on every byte but the last, at most 5 bytes and
// 2 GiB). The handshake is JSON, as with the JSON protocol.

// maxVarIntBytes is the longest length prefix: 5 bytes hold 35 bits, of
// which the protocol allows 31.
const maxVarIntBytes = 5

// errBadLengthPrefix is returned by lengthPrefixedReader.split for a
// length prefix longer than 5 bytes or over 2 GiB.
var errBadLengthPrefix = errors.New("MessagePack message length prefix is invalid")

// Completion result kinds of the MessagePack protocol.
const (
	resultError   = 1
	resultVoid    = 2
	resultNonVoid = 3
)

// Pre-encoded MessagePack messages: Ping is [6].
var msgpackPingRecord = []byte{0x02, 0x91, typePing}

// lengthPrefixedReader cuts a stream of transport frames into MessagePack
// hub messages. As recordSplitter does for JSON, it keeps the unfinished
// tail across frames, and its work is linear in the bytes received. The
// length prefix announces a message's size before its body arrives, so an
// oversized message is refused before it is buffered.
type lengthPrefixedReader struct {
	buf   []byte // buf[start:] is the unfinished tail
	start int
	limit int
}

// split returns the complete messages the stream holds once frame is
// added, without their length prefixes. The slices stay valid until the
// next call.
func (r *lengthPrefixedReader) split(frame []byte) ([][]byte, error) {
	if r.start > 0 {
		// The messages returned last time are no longer needed: move the
		// tail to the front.
		n := copy(r.buf, r.buf[r.start:])
		r.buf, r.start = r.buf[:n], 0
	}
	data := frame
	buffered := len(r.buf) > 0
	if buffered {
		r.buf = append(r.buf, frame...)
		data = r.buf
	}
	var messages [][]byte
	off := 0
	for off < len(data) {
		size, n, err := readVarInt(data[off:])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break // the prefix itself is not complete yet
		}
		if size > uint64(r.limit) {
			return nil, errRecordTooLarge
		}
		if uint64(len(data)-off-n) < size {
			break
		}
		messages = append(messages, data[off+n:off+n+int(size)])
		off += n + int(size)
	}
	if buffered {
		r.start = off
	} else {
		// The messages alias frame, which the transport does not reuse;
		// only the tail is copied.
		r.buf = append(r.buf[:0], data[off:]...)
	}
	return messages, nil
}

// pending returns the unfinished tail, for tests.
func (r *lengthPrefixedReader) pending() []byte { return r.buf[r.start:] }

// readVarInt decodes a length prefix from the start of p. n is 0 when p
// ends before the prefix does.
func readVarInt(p []byte) (size uint64, n int, err error) {
	for i := 0; i < maxVarIntBytes; i++ {
		if i == len(p) {
			return 0, 0, nil
		}
		b := p[i]
		size |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if size > 1<<31-1 {
				return 0, 0, errBadLengthPrefix
			}
			return size, i + 1, nil
		}
	}
	return 0, 0, errBadLengthPrefix
}

// appendVarInt appends the length prefix of a message of size bytes.
func appendVarInt(buf []byte, size int) []byte {
	for size >= 0x80 {
		buf = append(buf, byte(size)|0x80)
		size >>= 7
	}
	return append(buf, byte(size))
}

// frameMessagePack returns body with its length prefix.
func frameMessagePack(body []byte) []byte {
	out := make([]byte, 0, len(body)+maxVarIntBytes)
	out = appendVarInt(out, len(body))
	return append(out, body...)
}

// encodeMessagePack encodes a hub message with fill and frames it.
func encodeMessagePack(fill func(enc *msgpack.Encoder) error) ([]byte, error) {
	var body bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&body)
	if err := fill(enc); err != nil {
		return nil, err
	}
	return frameMessagePack(body.Bytes()), nil
}

// mustEncodeMessagePack is encodeMessagePack for messages made only of
// strings, numbers and nil, whose encoding cannot fail.
func mustEncodeMessagePack(fill func(enc *msgpack.Encoder) error) []byte {
	out, err := encodeMessagePack(fill)
	if err != nil {
		panic("emulator: encoding a MessagePack message failed: " + err.Error())
	}
	return out
}

// encodeMessagePackClose returns [7, error|nil, allowReconnect].
func encodeMessagePackClose(errorText string, allowReconnect bool) []byte {
	return mustEncodeMessagePack(func(enc *msgpack.Encoder) error {
		_ = enc.EncodeArrayLen(3)
		_ = enc.EncodeInt(typeClose)
		if errorText == "" {
			_ = enc.EncodeNil()
		} else {
			_ = enc.EncodeString(errorText)
		}
		return enc.EncodeBool(allowReconnect)
	})
}

// encodeMessagePackCompletionError returns [3, {}, id, 1, message].
func encodeMessagePackCompletionError(invocationID, message string) []byte {
	return mustEncodeMessagePack(func(enc *msgpack.Encoder) error {
		_ = enc.EncodeArrayLen(5)
		_ = enc.EncodeInt(typeCompletion)
		_ = enc.EncodeMapLen(0)
		_ = enc.EncodeString(invocationID)
		_ = enc.EncodeInt(resultError)
		return enc.EncodeString(message)
	})
}

// encodeMessagePackVoidCompletion returns [3, {}, id, 2]: no result.
func encodeMessagePackVoidCompletion(invocationID string) []byte {
	return mustEncodeMessagePack(func(enc *msgpack.Encoder) error {
		_ = enc.EncodeArrayLen(4)
		_ = enc.EncodeInt(typeCompletion)
		_ = enc.EncodeMapLen(0)
		_ = enc.EncodeString(invocationID)
		return enc.EncodeInt(resultVoid)
	})
}

// encodeMessagePackInvocation returns [1, {}, nil, target, arguments] with
// arguments, a JSON array, converted to MessagePack: integers stay
// integers, other numbers become float64, and strings, booleans, null,
// arrays and objects (keys in their order) keep their types.
func encodeMessagePackInvocation(target string, arguments json.RawMessage) ([]byte, error) {
	return encodeMessagePackInvocationWithID("", target, arguments)
}

// encodeMessagePackInvocationWithID is encodeMessagePackInvocation with an
// invocation id ("" for none), for an Invocation that expects a
// Completion.
func encodeMessagePackInvocationWithID(id, target string, arguments json.RawMessage) ([]byte, error) {
	if len(arguments) == 0 {
		arguments = json.RawMessage("[]")
	}
	dec := json.NewDecoder(bytes.NewReader(arguments))
	dec.UseNumber()
	args, err := readJSONValue(dec)
	if err != nil {
		return nil, err
	}
	if _, ok := args.([]any); !ok {
		return nil, errors.New(argumentsNotArrayMessage)
	}
	return encodeMessagePack(func(enc *msgpack.Encoder) error {
		_ = enc.EncodeArrayLen(5)
		_ = enc.EncodeInt(typeInvocation)
		_ = enc.EncodeMapLen(0)
		if id == "" {
			_ = enc.EncodeNil()
		} else {
			_ = enc.EncodeString(id)
		}
		_ = enc.EncodeString(target)
		return writeMessagePackValue(enc, args)
	})
}

// jsonObject is a JSON object with its keys in order.
type jsonObject []jsonMember

type jsonMember struct {
	key   string
	value any
}

// readJSONValue reads one JSON value as nil, bool, string, json.Number,
// []any or jsonObject. The input was checked by json.Compact, whose depth
// limit bounds the recursion.
func readJSONValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			list := []any{}
			for dec.More() {
				item, err := readJSONValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, item)
			}
			_, err := dec.Token() // ]
			return list, err
		case '{':
			obj := jsonObject{}
			for dec.More() {
				keyTok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := keyTok.(string)
				value, err := readJSONValue(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, jsonMember{key, value})
			}
			_, err := dec.Token() // }
			return obj, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	default:
		return v, nil
	}
}

// writeMessagePackValue encodes a value read by readJSONValue.
func writeMessagePackValue(enc *msgpack.Encoder, v any) error {
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case string:
		return enc.EncodeString(v)
	case json.Number:
		return writeMessagePackNumber(enc, string(v))
	case []any:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, item := range v {
			if err := writeMessagePackValue(enc, item); err != nil {
				return err
			}
		}
		return nil
	case jsonObject:
		if err := enc.EncodeMapLen(len(v)); err != nil {
			return err
		}
		for _, m := range v {
			if err := enc.EncodeString(m.key); err != nil {
				return err
			}
			if err := writeMessagePackValue(enc, m.value); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected JSON value %T", v)
}

// writeMessagePackNumber encodes a JSON number: an integer that fits 64
// bits as a MessagePack integer (the smallest form), anything else as a
// float64, as a JavaScript client reading JSON would see it.
func writeMessagePackNumber(enc *msgpack.Encoder, n string) error {
	if !strings.ContainsAny(n, ".eE") {
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(n, 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return err
	}
	return enc.EncodeFloat64(f) // out of range: ±Inf, as JSON.parse gives
}

// parseMessagePackMessage decodes what the emulator needs of a client's
// MessagePack hub message (without its length prefix): the type and, for
// an Invocation, StreamInvocation, Completion or CancelInvocation, the
// invocation id, and the target of invocations. The whole message must be
// one well-formed MessagePack array.
func parseMessagePackMessage(record []byte) (clientMessage, error) {
	var m clientMessage
	if len(record) == 0 {
		return m, errEmptyRecord
	}
	end, err := skipMessagePack(record, 0)
	if err != nil {
		return m, err
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
	if m.Type, err = dec.DecodeInt(); err != nil {
		return m, errors.New("MessagePack hub message type is not an integer")
	}
	if m.Type == 0 {
		return m, errors.New("hub protocol message has no type")
	}
	var minLen int
	switch m.Type {
	case typeInvocation, typeStreamInvocation:
		minLen = 5
	case typeCompletion:
		minLen = 4
	case typeCancelInvocation, typeStreamItem:
		minLen = 3
	default:
		return m, nil
	}
	if n < minLen {
		return m, fmt.Errorf("MessagePack hub message of type %d has %d elements, fewer than %d", m.Type, n, minLen)
	}
	// Headers: a map, which the emulator does not use.
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
	if m.Type == typeInvocation || m.Type == typeStreamInvocation {
		if m.Target, err = dec.DecodeString(); err != nil {
			return m, errors.New("MessagePack hub message target is not a string")
		}
		if code, err := dec.PeekCode(); err != nil || !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
			return m, errors.New("MessagePack hub message arguments are not an array")
		}
	}
	return m, nil
}

// errBadMessagePack is returned for bytes that are not MessagePack.
var errBadMessagePack = errors.New("hub protocol message is not valid MessagePack")

// skipMessagePack returns the offset just past the MessagePack value that
// starts at off. It walks nested arrays and maps with a counter instead of
// recursion, so no nesting depth can exhaust the stack.
func skipMessagePack(p []byte, off int) (int, error) {
	pending := 1 // values still to skip
	for pending > 0 {
		if off >= len(p) {
			return 0, errBadMessagePack
		}
		pending--
		c := p[off]
		off++
		var size, children int // bytes of payload, nested values
		switch {
		case c <= msgpcode.PosFixedNumHigh, c >= msgpcode.NegFixedNumLow:
		case msgpcode.IsFixedMap(c):
			children = 2 * int(c&0x0f)
		case msgpcode.IsFixedArray(c):
			children = int(c & 0x0f)
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
					children = int(n)
				case msgpcode.Map16, msgpcode.Map32:
					children = 2 * int(n)
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
		pending += children
	}
	return off, nil
}

// encodeMessagePackStreamItem returns [2, {}, id, item] with item, one
// JSON value, converted as encodeMessagePackInvocation converts arguments.
func encodeMessagePackStreamItem(id string, item json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.UseNumber()
	v, err := readJSONValue(dec)
	if err != nil {
		return nil, err
	}
	return encodeMessagePack(func(enc *msgpack.Encoder) error {
		_ = enc.EncodeArrayLen(4)
		_ = enc.EncodeInt(typeStreamItem)
		_ = enc.EncodeMapLen(0)
		_ = enc.EncodeString(id)
		return writeMessagePackValue(enc, v)
	})
}

// maxMessagePackJSONDepth bounds the nesting of a client's MessagePack
// value turned into JSON (the official client's encoder stops at 100).
const maxMessagePackJSONDepth = 100

// parseMessagePackCompletion reads a client's Completion, [3, headers, id,
// kind, result?], and returns its result as JSON (nil for none) or its
// error text.
func parseMessagePackCompletion(record []byte) (result json.RawMessage, errorText *string, err error) {
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(record))
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 4 {
		return nil, nil, errors.New("not a MessagePack Completion")
	}
	for i := 0; i < 3; i++ { // type, headers, invocation id
		if err := dec.Skip(); err != nil {
			return nil, nil, err
		}
	}
	kind, err := dec.DecodeInt()
	if err != nil {
		return nil, nil, err
	}
	switch {
	case kind == resultVoid:
		return nil, nil, nil
	case n < 5:
		return nil, nil, errors.New("MessagePack Completion has no result")
	case kind == resultError:
		text, err := dec.DecodeString()
		if err != nil {
			return nil, nil, err
		}
		return nil, &text, nil
	case kind == resultNonVoid:
		var buf bytes.Buffer
		if err := messagePackToJSON(dec, &buf, 0); err != nil {
			return nil, nil, err
		}
		return buf.Bytes(), nil, nil
	}
	return nil, nil, fmt.Errorf("MessagePack Completion has result kind %d", kind)
}

// messagePackToJSON writes the next MessagePack value as JSON. Maps need
// string keys; binary becomes base64, as encoding/json writes []byte.
func messagePackToJSON(dec *msgpack.Decoder, buf *bytes.Buffer, depth int) error {
	if depth > maxMessagePackJSONDepth {
		return errors.New("MessagePack value nested too deeply")
	}
	code, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		buf.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := messagePackToJSON(dec, buf, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return err
		}
		buf.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			key, err := dec.DecodeString()
			if err != nil {
				return errors.New("MessagePack map key is not a string, which JSON cannot carry")
			}
			buf.Write(appendJSONString(nil, key))
			buf.WriteByte(':')
			if err := messagePackToJSON(dec, buf, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	}
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(out)
	return nil
}
