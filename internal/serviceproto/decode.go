package serviceproto

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// ErrUnknownType is wrapped by Decode's error for a well-formed message of
// a type it does not know; the peer ignores such messages.
var ErrUnknownType = errors.New("serviceproto: unknown message type")

// ErrMalformed is wrapped by Decode's error for bytes that are not a
// service protocol message.
var ErrMalformed = errors.New("serviceproto: malformed message")

// NewReader returns a Reader that cuts a stream of binary WebSocket frames
// into message bodies (without their VarInt prefix), refusing a message
// over limit bytes with hubproto.ErrTooLarge before it is buffered. A
// frame may hold several messages and a message may span frames.
func NewReader(limit int) hubproto.Reader { return hubproto.MessagePack.NewReader(limit) }

// Decode decodes one message body (without its length prefix). It first
// checks that body is exactly one MessagePack value nested no deeper than
// hubproto.MaxNestingDepth, so every count it reads is bounded by the
// body's size. The error wraps ErrUnknownType (m.Type is then set) or
// ErrMalformed.
func Decode(body []byte) (m Message, err error) {
	if err := hubproto.CheckMessagePackDepth(body); err != nil {
		return m, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	pd := decoders.Get().(*pooledDecoder)
	defer decoders.Put(pd)
	pd.src.Reset(body)
	pd.dec.Reset(&pd.src)
	d := &reader{dec: pd.dec}
	n := d.arrayLen()
	if d.err == nil && n < 1 {
		return m, fmt.Errorf("%w: the message is an empty array", ErrMalformed)
	}
	m.Type = Type(d.int())
	if d.err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrMalformed, d.err)
	}
	d.left = n - 1
	if !d.readFields(&m) {
		return Message{Type: m.Type}, fmt.Errorf("%w: type %d", ErrUnknownType, m.Type)
	}
	if d.err != nil {
		return Message{}, fmt.Errorf("%w: type %d: %w", ErrMalformed, m.Type, d.err)
	}
	return m, nil
}

// pooledDecoder is a msgpack decoder and its source, reused across
// Decode calls: a new one per message was the largest allocation of a
// send on both sides of a service connection. What Decode returns never
// points into the decoder (strings and byte slices are copies).
type pooledDecoder struct {
	src bytes.Reader
	dec *msgpack.Decoder
}

var decoders = sync.Pool{New: func() any {
	pd := &pooledDecoder{}
	pd.dec = msgpack.NewDecoder(&pd.src)
	return pd
}}

// reader reads a message's items, counting the ones left in its array:
// an item past the end reads as its zero value, so short (older) forms
// decode, and items past the ones known are skipped.
type reader struct {
	dec  *msgpack.Decoder
	left int
	err  error
}

// more reports whether another item is there to read.
func (d *reader) more() bool {
	if d.err != nil || d.left <= 0 {
		return false
	}
	d.left--
	return true
}

func (d *reader) fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

func (d *reader) arrayLen() int {
	n, err := d.dec.DecodeArrayLen()
	d.fail(err)
	return n
}

func (d *reader) int() int64 {
	v, err := d.dec.DecodeInt64()
	d.fail(err)
	return v
}

// str reads a string item; nil reads as "".
func (d *reader) str() string {
	if !d.more() {
		return ""
	}
	return d.rawString()
}

func (d *reader) rawString() string {
	code, err := d.dec.PeekCode()
	if err != nil {
		d.fail(err)
		return ""
	}
	if code == msgpcode.Nil {
		d.fail(d.dec.DecodeNil())
		return ""
	}
	if !msgpcode.IsString(code) && code != msgpcode.Str8 && code != msgpcode.Str16 && code != msgpcode.Str32 {
		d.fail(fmt.Errorf("expected a string, found code 0x%02x", code))
		return ""
	}
	s, err := d.dec.DecodeString()
	d.fail(err)
	return s
}

// nullableStr reads a string that may be nil, reporting nil.
func (d *reader) nullableStr() (string, bool) {
	if !d.more() {
		return "", true
	}
	code, err := d.dec.PeekCode()
	if err != nil {
		d.fail(err)
		return "", false
	}
	if code == msgpcode.Nil {
		d.fail(d.dec.DecodeNil())
		return "", true
	}
	return d.rawString(), false
}

func (d *reader) num() int64 {
	if !d.more() {
		return 0
	}
	return d.int()
}

func (d *reader) boolean() bool {
	if !d.more() {
		return false
	}
	v, err := d.dec.DecodeBool()
	d.fail(err)
	return v
}

func (d *reader) bin() []byte {
	if !d.more() {
		return nil
	}
	return d.rawBin()
}

// rawBin reads a bin value (nil reads as none); a string is refused, as
// the C# reader refuses it.
func (d *reader) rawBin() []byte {
	code, err := d.dec.PeekCode()
	if err != nil {
		d.fail(err)
		return nil
	}
	if code != msgpcode.Nil && code != msgpcode.Bin8 && code != msgpcode.Bin16 && code != msgpcode.Bin32 {
		d.fail(fmt.Errorf("expected bytes, found code 0x%02x", code))
		return nil
	}
	v, err := d.dec.DecodeBytes()
	d.fail(err)
	return v
}

// strings reads an array of strings; nil reads as none.
func (d *reader) strings() []string {
	if !d.more() {
		return nil
	}
	n, err := d.dec.DecodeArrayLen()
	if err != nil || n <= 0 {
		d.fail(err)
		return nil
	}
	list := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		list = append(list, d.rawString())
	}
	return list
}

func (d *reader) payloads() []Payload {
	return readMap(d, func(key string) Payload { return Payload{Protocol: key, Data: d.rawBin()} })
}

func (d *reader) claims() []Pair {
	return readMap(d, func(key string) Pair { return Pair{Key: key, Value: d.rawString()} })
}

// readMap reads a map with string keys, when one is left, into a list in
// the order written (so duplicate keys survive); value reads the value of
// each key.
func readMap[T any](d *reader, value func(key string) T) []T {
	if !d.more() {
		return nil
	}
	n, err := d.dec.DecodeMapLen()
	if err != nil || n <= 0 {
		d.fail(err)
		return nil
	}
	list := make([]T, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		list = append(list, value(d.rawString()))
	}
	return list
}

func (d *reader) headers() []Header {
	if !d.more() {
		return nil
	}
	n, err := d.dec.DecodeMapLen()
	if err != nil || n <= 0 {
		d.fail(err)
		return nil
	}
	list := make([]Header, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		h := Header{Key: d.rawString()}
		d.left++ // strings counts one item
		h.Values = d.strings()
		list = append(list, h)
	}
	return list
}

// ext reads the extension map, skipping unknown keys.
func (d *reader) ext(x *Ext) {
	if !d.more() {
		return
	}
	code, err := d.dec.PeekCode()
	if err != nil {
		d.fail(err)
		return
	}
	if code == msgpcode.Nil {
		d.fail(d.dec.DecodeNil())
		return
	}
	n, err := d.dec.DecodeMapLen()
	if err != nil {
		d.fail(err)
		return
	}
	for i := 0; i < n && d.err == nil; i++ {
		key, err := d.dec.DecodeInt64()
		if err != nil {
			d.fail(err)
			return
		}
		switch key {
		case 1:
			v, err := d.dec.DecodeUint64()
			d.fail(err)
			x.TracingID = v
		case 2:
			v, err := d.dec.DecodeInt32()
			d.fail(err)
			x.TTL, x.HasTTL = v, true
		case 3:
			x.Protocol = d.rawString()
		case 4:
			x.Filter = d.rawString()
		case 5:
			v, err := d.dec.DecodeInt32()
			d.fail(err)
			x.DataMessageType = v
		case 6:
			v, err := d.dec.DecodeBool()
			d.fail(err)
			x.IsPartial = v
		default:
			d.fail(d.dec.Skip())
		}
	}
}

// readFields reads the items of m.Type; false for an unknown type.
func (d *reader) readFields(m *Message) bool {
	switch m.Type {
	case TypeHandshakeRequest:
		m.Version = int(d.num())
		m.ConnectionType = int(d.num())
		m.Target = d.str()
		m.MigrationLevel = int(d.num())
		d.ext(&m.Ext)
		if d.left > 0 {
			m.HasStatefulReconnect = true
			m.AllowStatefulReconnect = d.boolean()
		}
	case TypeHandshakeResponse:
		m.Error = d.str()
		d.ext(&m.Ext)
		m.ConnectionID = d.str()
	case TypePing:
		for d.more() {
			m.Ping = append(m.Ping, d.rawString())
		}
	case TypeOpenConnection:
		m.ConnectionID = d.str()
		m.Claims = d.claims()
		m.Headers = d.headers()
		m.QueryString = d.str()
		d.ext(&m.Ext)
	case TypeCloseConnection:
		m.ConnectionID = d.str()
		m.Error = d.str()
		m.Headers = d.headers()
		d.ext(&m.Ext)
	case TypeConnectionData:
		m.ConnectionID = d.str()
		m.Payload = d.bin()
		d.ext(&m.Ext)
	case TypeMultiConnectionData, TypeMultiUserData, TypeBroadcastData, TypeMultiGroupBroadcastData:
		m.IDs = d.strings()
		m.Payloads = d.payloads()
		d.ext(&m.Ext)
	case TypeUserData:
		m.UserID = d.str()
		m.Payloads = d.payloads()
		d.ext(&m.Ext)
	case TypeJoinGroup, TypeLeaveGroup:
		m.ConnectionID = d.str()
		m.Group = d.str()
		d.ext(&m.Ext)
	case TypeGroupBroadcastData:
		m.Group = d.str()
		m.IDs = d.strings()
		m.Payloads = d.payloads()
		d.ext(&m.Ext)
		m.ExcludedUsers = d.strings()
		m.CallerUserID = d.str()
	case TypeServiceError:
		m.Error = d.str()
	case TypeUserJoinGroup, TypeUserLeaveGroup:
		m.UserID = d.str()
		m.Group = d.str()
		d.ext(&m.Ext)
	case TypeJoinGroupWithAck, TypeLeaveGroupWithAck:
		m.ConnectionID = d.str()
		m.Group, m.AllGroups = d.nullableStr()
		m.AckID = int32(d.num())
		d.ext(&m.Ext)
	case TypeAck:
		m.AckID = int32(d.num())
		m.Status = int32(d.num())
		m.Message = d.str()
		d.ext(&m.Ext)
	case TypeCheckUserInGroupWithAck, TypeUserJoinGroupWithAck, TypeUserLeaveGroupWithAck:
		m.UserID = d.str()
		m.Group, m.AllGroups = d.nullableStr()
		m.AckID = int32(d.num())
		d.ext(&m.Ext)
	case TypeServiceEvent:
		m.ObjectType = int32(d.num())
		m.ObjectID = d.str()
		m.Kind = int32(d.num())
		m.Message = d.str()
		d.ext(&m.Ext)
	case TypeCheckGroupExistenceWithAck:
		m.Group = d.str()
		m.AckID = int32(d.num())
		d.ext(&m.Ext)
	case TypeCheckConnectionExistenceWithAck:
		m.ConnectionID = d.str()
		m.AckID = int32(d.num())
		d.ext(&m.Ext)
	case TypeCheckUserExistenceWithAck:
		m.UserID = d.str()
		m.AckID = int32(d.num())
		d.ext(&m.Ext)
	case TypeCloseUserConnectionsWithAck, TypeCloseGroupConnectionsWithAck:
		if m.Type == TypeCloseUserConnectionsWithAck {
			m.UserID = d.str()
		} else {
			m.Group = d.str()
		}
		m.Error = d.str()
		m.AckID = int32(d.num())
		m.IDs = d.strings()
		d.ext(&m.Ext)
	case TypeClientInvocation:
		m.InvocationID = d.str()
		m.ConnectionID = d.str()
		m.CallerServerID = d.str()
		m.Payloads = d.payloads()
		d.ext(&m.Ext)
	case TypeClientCompletion:
		m.InvocationID = d.str()
		m.ConnectionID = d.str()
		m.CallerServerID = d.str()
		m.Protocol = d.str()
		m.Payload = d.bin()
		d.ext(&m.Ext)
	case TypeErrorCompletion:
		m.InvocationID = d.str()
		m.ConnectionID = d.str()
		m.CallerServerID = d.str()
		m.Error = d.str()
		d.ext(&m.Ext)
	case TypeServiceMapping:
		m.InvocationID = d.str()
		m.ConnectionID = d.str()
		m.InstanceID = d.str()
		d.ext(&m.Ext)
	case TypeConnectionReconnect:
		m.ConnectionID = d.str()
		d.ext(&m.Ext)
	default:
		return false
	}
	return true
}
