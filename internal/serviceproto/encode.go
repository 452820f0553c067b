package serviceproto

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// encoder is a pooled MessagePack encoder over its own buffer.
type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}}

// Append appends m, framed (VarInt length, then the MessagePack body), to
// dst. It fails only for a Type it cannot write.
func Append(dst []byte, m *Message) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := writeBody(e.enc, m); err != nil {
		return dst, err
	}
	return hubproto.MessagePack.Frame(dst, e.buf.Bytes()), nil
}

// Encode is Append to a new slice.
func Encode(m *Message) ([]byte, error) { return Append(nil, m) }

// writeBody writes m's array. The layouts are the C# writer's (see the
// package doc); each case names its items.
func writeBody(enc *msgpack.Encoder, m *Message) error {
	t := int64(m.Type)
	switch m.Type {
	case TypeHandshakeRequest: // [1, version, connType, target, migrationLevel, ext(, allowStatefulReconnects)]
		n := 6
		if m.HasStatefulReconnect {
			n = 7
		}
		head(enc, n, t)
		_ = enc.EncodeInt(int64(m.Version))
		_ = enc.EncodeInt(int64(m.ConnectionType))
		_ = enc.EncodeString(m.Target)
		_ = enc.EncodeInt(int64(m.MigrationLevel))
		writeExt(enc, &m.Ext)
		if m.HasStatefulReconnect {
			_ = enc.EncodeBool(m.AllowStatefulReconnect)
		}
	case TypeHandshakeResponse: // [2, error (nil = success), ext, connectionId]
		head(enc, 4, t)
		nilOrString(enc, m.Error)
		writeExt(enc, &m.Ext)
		_ = enc.EncodeString(m.ConnectionID)
	case TypePing: // [3, s1, s2, …]
		head(enc, 1+len(m.Ping), t)
		for _, s := range m.Ping {
			_ = enc.EncodeString(s)
		}
	case TypeOpenConnection: // [4, connId, claims, headers, queryString, ext]
		head(enc, 6, t)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeMapLen(len(m.Claims))
		for _, c := range m.Claims {
			_ = enc.EncodeString(c.Key)
			_ = enc.EncodeString(c.Value)
		}
		writeHeaders(enc, m.Headers)
		_ = enc.EncodeString(m.QueryString)
		writeExt(enc, &m.Ext)
	case TypeCloseConnection: // [5, connId, error, headers, ext]
		head(enc, 5, t)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeString(m.Error)
		writeHeaders(enc, m.Headers)
		writeExt(enc, &m.Ext)
	case TypeConnectionData: // [6, connId, payload, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeBytes(nonNil(m.Payload))
		writeExt(enc, &m.Ext)
	case TypeMultiConnectionData, TypeMultiUserData, TypeBroadcastData, TypeMultiGroupBroadcastData:
		// [7|9|10|14, ids[], payloads, ext]
		head(enc, 4, t)
		writeStrings(enc, m.IDs)
		writePayloads(enc, m.Payloads)
		writeExt(enc, &m.Ext)
	case TypeUserData: // [8, userId, payloads, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.UserID)
		writePayloads(enc, m.Payloads)
		writeExt(enc, &m.Ext)
	case TypeJoinGroup, TypeLeaveGroup: // [11|12, connId, group, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeString(m.Group)
		writeExt(enc, &m.Ext)
	case TypeGroupBroadcastData: // [13, group, excluded[], payloads, ext, excludedUsers[], callerUserId]
		head(enc, 7, t)
		_ = enc.EncodeString(m.Group)
		writeStrings(enc, m.IDs)
		writePayloads(enc, m.Payloads)
		writeExt(enc, &m.Ext)
		writeStrings(enc, m.ExcludedUsers)
		nilOrString(enc, m.CallerUserID)
	case TypeServiceError: // [15, error]
		head(enc, 2, t)
		_ = enc.EncodeString(m.Error)
	case TypeUserJoinGroup, TypeUserLeaveGroup: // [16|17, userId, group, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.UserID)
		_ = enc.EncodeString(m.Group)
		writeExt(enc, &m.Ext)
	case TypeJoinGroupWithAck, TypeLeaveGroupWithAck: // [18|19, connId, group (19: nil = all), ack, ext]
		head(enc, 5, t)
		_ = enc.EncodeString(m.ConnectionID)
		groupOrAll(enc, m)
		_ = enc.EncodeInt(int64(m.AckID))
		writeExt(enc, &m.Ext)
	case TypeAck: // [20, ack, status, message, ext]
		head(enc, 5, t)
		_ = enc.EncodeInt(int64(m.AckID))
		_ = enc.EncodeInt(int64(m.Status))
		_ = enc.EncodeString(m.Message)
		writeExt(enc, &m.Ext)
	case TypeCheckUserInGroupWithAck, TypeUserJoinGroupWithAck, TypeUserLeaveGroupWithAck:
		// [21|26|27, userId, group (27: nil = all), ack, ext]
		head(enc, 5, t)
		_ = enc.EncodeString(m.UserID)
		groupOrAll(enc, m)
		_ = enc.EncodeInt(int64(m.AckID))
		writeExt(enc, &m.Ext)
	case TypeServiceEvent: // [22, objectType, id, kind, message, ext]
		head(enc, 6, t)
		_ = enc.EncodeInt(int64(m.ObjectType))
		_ = enc.EncodeString(m.ObjectID)
		_ = enc.EncodeInt(int64(m.Kind))
		_ = enc.EncodeString(m.Message)
		writeExt(enc, &m.Ext)
	case TypeCheckGroupExistenceWithAck: // [23, group, ack, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.Group)
		_ = enc.EncodeInt(int64(m.AckID))
		writeExt(enc, &m.Ext)
	case TypeCheckConnectionExistenceWithAck: // [24, connId, ack, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeInt(int64(m.AckID))
		writeExt(enc, &m.Ext)
	case TypeCheckUserExistenceWithAck: // [25, userId, ack, ext]
		head(enc, 4, t)
		_ = enc.EncodeString(m.UserID)
		_ = enc.EncodeInt(int64(m.AckID))
		writeExt(enc, &m.Ext)
	case TypeCloseUserConnectionsWithAck, TypeCloseGroupConnectionsWithAck:
		// [32, userId | 33, group, reason, ack, excluded[], ext]
		head(enc, 6, t)
		if m.Type == TypeCloseUserConnectionsWithAck {
			_ = enc.EncodeString(m.UserID)
		} else {
			_ = enc.EncodeString(m.Group)
		}
		_ = enc.EncodeString(m.Error)
		_ = enc.EncodeInt(int64(m.AckID))
		writeStrings(enc, m.IDs)
		writeExt(enc, &m.Ext)
	case TypeClientInvocation: // [34, invocationId, connId, callerServerId, payloads, ext]
		head(enc, 6, t)
		_ = enc.EncodeString(m.InvocationID)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeString(m.CallerServerID)
		writePayloads(enc, m.Payloads)
		writeExt(enc, &m.Ext)
	case TypeClientCompletion: // [35, invocationId, connId, callerServerId, protocol, payload, ext]
		head(enc, 7, t)
		_ = enc.EncodeString(m.InvocationID)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeString(m.CallerServerID)
		_ = enc.EncodeString(m.Protocol)
		_ = enc.EncodeBytes(nonNil(m.Payload))
		writeExt(enc, &m.Ext)
	case TypeErrorCompletion: // [36, invocationId, connId, callerServerId, error, ext]
		head(enc, 6, t)
		_ = enc.EncodeString(m.InvocationID)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeString(m.CallerServerID)
		_ = enc.EncodeString(m.Error)
		writeExt(enc, &m.Ext)
	case TypeServiceMapping: // [37, invocationId, connId, instanceId, ext]
		head(enc, 5, t)
		_ = enc.EncodeString(m.InvocationID)
		_ = enc.EncodeString(m.ConnectionID)
		_ = enc.EncodeString(m.InstanceID)
		writeExt(enc, &m.Ext)
	case TypeConnectionReconnect: // [38, connId, ext]
		head(enc, 3, t)
		_ = enc.EncodeString(m.ConnectionID)
		writeExt(enc, &m.Ext)
	default:
		return fmt.Errorf("serviceproto: cannot write message type %d", m.Type)
	}
	return nil
}

// The encoder writes to a bytes.Buffer, which cannot fail: its errors are
// dropped.

func head(enc *msgpack.Encoder, n int, t int64) {
	_ = enc.EncodeArrayLen(n)
	_ = enc.EncodeInt(t)
}

func nilOrString(enc *msgpack.Encoder, s string) {
	if s == "" {
		_ = enc.EncodeNil()
		return
	}
	_ = enc.EncodeString(s)
}

func groupOrAll(enc *msgpack.Encoder, m *Message) {
	if m.AllGroups {
		_ = enc.EncodeNil()
		return
	}
	_ = enc.EncodeString(m.Group)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func writeStrings(enc *msgpack.Encoder, list []string) {
	_ = enc.EncodeArrayLen(len(list))
	for _, s := range list {
		_ = enc.EncodeString(s)
	}
}

func writePayloads(enc *msgpack.Encoder, payloads []Payload) {
	_ = enc.EncodeMapLen(len(payloads))
	for _, p := range payloads {
		_ = enc.EncodeString(p.Protocol)
		_ = enc.EncodeBytes(nonNil(p.Data))
	}
}

func writeHeaders(enc *msgpack.Encoder, headers []Header) {
	_ = enc.EncodeMapLen(len(headers))
	for _, h := range headers {
		_ = enc.EncodeString(h.Key)
		writeStrings(enc, h.Values)
	}
}

func writeExt(enc *msgpack.Encoder, x *Ext) {
	n := 0
	if x.TracingID != 0 {
		n++
	}
	if x.HasTTL {
		n++
	}
	if x.Protocol != "" {
		n++
	}
	if x.Filter != "" {
		n++
	}
	if x.DataMessageType != 0 {
		n++
	}
	if x.IsPartial {
		n++
	}
	_ = enc.EncodeMapLen(n)
	if x.TracingID != 0 {
		_ = enc.EncodeInt(1)
		_ = enc.EncodeUint(x.TracingID)
	}
	if x.HasTTL {
		_ = enc.EncodeInt(2)
		_ = enc.EncodeInt(int64(x.TTL))
	}
	if x.Protocol != "" {
		_ = enc.EncodeInt(3)
		_ = enc.EncodeString(x.Protocol)
	}
	if x.Filter != "" {
		_ = enc.EncodeInt(4)
		_ = enc.EncodeString(x.Filter)
	}
	if x.DataMessageType != 0 {
		_ = enc.EncodeInt(5)
		_ = enc.EncodeInt(int64(x.DataMessageType))
	}
	if x.IsPartial {
		_ = enc.EncodeInt(6)
		_ = enc.EncodeBool(true)
	}
}
