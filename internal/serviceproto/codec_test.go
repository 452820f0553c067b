package serviceproto

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// unhex turns a fixture, hex bytes with spaces and comments after '#' on
// each line, into bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(line, " ", ""), "\t", ""))
	}
	out, err := hex.DecodeString(b.String())
	require.NoError(t, err, "fixture %q", s)
	return out
}

// A fixture is a message body as the C# writer lays it out (see the
// reference's message catalogue), written by hand byte by byte, and the
// Message it decodes to. Bodies have no length prefix; TestFraming covers
// the prefix.
type fixture struct {
	name string
	body string
	msg  Message
	// decodeOnly marks a short (older) form the writer does not produce.
	decodeOnly bool
}

// jsonPayload is a framed JSON Invocation, {"type":1,"target":"t","arguments":[]} + 0x1E.
const jsonPayload = `{"type":1,"target":"t","arguments":[]}` + "\x1e"

var jsonPayloadHex = hex.EncodeToString([]byte(jsonPayload))

var fixtures = []fixture{
	{name: "HandshakeRequest weak", body: "96 01 01 02 a0 00 80", // [1, 1, 2, "", 0, {}]
		msg: Message{Type: TypeHandshakeRequest, Version: 1, ConnectionType: ConnectionWeak}},
	{name: "HandshakeRequest 7 items", body: "97 01 01 00 a0 02 80 c3", // [1, 1, 0, "", 2, {}, true]
		msg: Message{Type: TypeHandshakeRequest, Version: 1, MigrationLevel: 2, HasStatefulReconnect: true, AllowStatefulReconnect: true}},
	{name: "HandshakeRequest on demand target", body: "96 01 01 01 a2 6930 00 80", // [1, 1, 1, "i0", 0, {}]
		msg: Message{Type: TypeHandshakeRequest, Version: 1, ConnectionType: ConnectionOnDemand, Target: "i0"}},
	{name: "HandshakeResponse success", body: "94 02 c0 80 a3 736331", // [2, nil, {}, "sc1"]
		msg: Message{Type: TypeHandshakeResponse, ConnectionID: "sc1"}},
	{name: "HandshakeResponse error", body: "94 02 a4 6f6f7073 80 a0", // [2, "oops", {}, ""]
		msg: Message{Type: TypeHandshakeResponse, Error: "oops"}},
	{name: "HandshakeResponse 2 items", body: "92 02 a0", decodeOnly: true, // [2, ""], the demo's form
		msg: Message{Type: TypeHandshakeResponse}},
	{name: "Ping keep-alive", body: "91 03", msg: Message{Type: TypePing}},
	{name: "Ping status", body: "93 03 a6 737461747573 a1 31", // [3, "status", "1"]
		msg: Message{Type: TypePing, Ping: []string{"status", "1"}}},
	{name: "OpenConnection duplicate claims", body: `
		96 04 a2 6331                     # [4, "c1",
		82 a4 726f6c65 a1 61 a4 726f6c65 a1 62  # {"role":"a","role":"b"},
		81 a1 68 91 a1 76                 # {"h":["v"]},
		a3 713d31                         # "q=1",
		81 03 a4 6a736f6e                 # {3:"json"}]`,
		msg: Message{Type: TypeOpenConnection, ConnectionID: "c1",
			Claims:  []Pair{{"role", "a"}, {"role", "b"}},
			Headers: []Header{{Key: "h", Values: []string{"v"}}}, QueryString: "q=1", Ext: Ext{Protocol: "json"}}},
	{name: "OpenConnection 3 items", body: "93 04 a2 6331 80", decodeOnly: true,
		msg: Message{Type: TypeOpenConnection, ConnectionID: "c1"}},
	{name: "CloseConnection", body: "95 05 a2 6331 a3 627965 80 80", // [5, "c1", "bye", {}, {}]
		msg: Message{Type: TypeCloseConnection, ConnectionID: "c1", Error: "bye"}},
	{name: "CloseConnection 3 items", body: "93 05 a2 6331 c0", decodeOnly: true,
		msg: Message{Type: TypeCloseConnection, ConnectionID: "c1"}},
	{name: "ConnectionData partial", body: "94 06 a2 6331 c4 02 0102 82 05 02 06 c3", // [6, "c1", bin, {5:2, 6:true}]
		msg: Message{Type: TypeConnectionData, ConnectionID: "c1", Payload: []byte{1, 2}, Ext: Ext{DataMessageType: DataInvocation, IsPartial: true}}},
	{name: "MultiConnectionData", body: "94 07 92 a1 61 a1 62 81 a4 6a736f6e c4 27 " + jsonPayloadHex + " 80",
		msg: Message{Type: TypeMultiConnectionData, IDs: []string{"a", "b"}, Payloads: []Payload{{"json", []byte(jsonPayload)}}}},
	{name: "UserData", body: "94 08 a1 75 81 a4 6a736f6e c4 27 " + jsonPayloadHex + " 80",
		msg: Message{Type: TypeUserData, UserID: "u", Payloads: []Payload{{"json", []byte(jsonPayload)}}}},
	{name: "MultiUserData", body: "94 09 91 a1 75 80 80", // [9, ["u"], {}, {}]
		msg: Message{Type: TypeMultiUserData, IDs: []string{"u"}}},
	{name: "BroadcastData two protocols", body: `
		94 0a 90                                   # [10, [],
		82 a4 6a736f6e c4 27 ` + jsonPayloadHex + ` #  {"json": bin,
		ab 6d6573736167657061636b c4 03 02 91 01   #   "messagepack": bin},
		80                                         #  {}]`,
		msg: Message{Type: TypeBroadcastData, Payloads: []Payload{{"json", []byte(jsonPayload)}, {"messagepack", []byte{2, 0x91, 1}}}}},
	{name: "JoinGroup", body: "94 0b a2 6331 a1 67 80",
		msg: Message{Type: TypeJoinGroup, ConnectionID: "c1", Group: "g"}},
	{name: "LeaveGroup", body: "94 0c a2 6331 a1 67 80",
		msg: Message{Type: TypeLeaveGroup, ConnectionID: "c1", Group: "g"}},
	{name: "GroupBroadcastData 7 items", body: "97 0d a1 67 91 a2 6331 81 a4 6a736f6e c4 01 7b 80 91 a1 76 c0",
		msg: Message{Type: TypeGroupBroadcastData, Group: "g", IDs: []string{"c1"}, Payloads: []Payload{{"json", []byte("{")}}, ExcludedUsers: []string{"v"}}},
	{name: "GroupBroadcastData 4 items", body: "94 0d a1 67 90 80", decodeOnly: true, // the spec's form
		msg: Message{Type: TypeGroupBroadcastData, Group: "g"}},
	{name: "MultiGroupBroadcastData", body: "94 0e 92 a1 61 a1 62 80 80",
		msg: Message{Type: TypeMultiGroupBroadcastData, IDs: []string{"a", "b"}}},
	{name: "ServiceError", body: "92 0f a1 78", msg: Message{Type: TypeServiceError, Error: "x"}},
	{name: "UserJoinGroup ttl", body: "94 10 a1 75 a1 67 81 02 3c", // [16, "u", "g", {2:60}]
		msg: Message{Type: TypeUserJoinGroup, UserID: "u", Group: "g", Ext: Ext{TTL: 60, HasTTL: true}}},
	{name: "UserLeaveGroup", body: "94 11 a1 75 a1 67 80",
		msg: Message{Type: TypeUserLeaveGroup, UserID: "u", Group: "g"}},
	{name: "JoinGroupWithAck", body: "95 12 a2 6331 a1 67 05 80", // [18, "c1", "g", 5, {}]
		msg: Message{Type: TypeJoinGroupWithAck, ConnectionID: "c1", Group: "g", AckID: 5}},
	{name: "LeaveGroupWithAck all groups", body: "95 13 a2 6331 c0 06 80", // [19, "c1", nil, 6, {}]
		msg: Message{Type: TypeLeaveGroupWithAck, ConnectionID: "c1", AllGroups: true, AckID: 6}},
	{name: "LeaveGroupWithAck large ack", body: "95 13 a2 6331 a1 67 cd 012c 80", // ack 300
		msg: Message{Type: TypeLeaveGroupWithAck, ConnectionID: "c1", Group: "g", AckID: 300}},
	{name: "Ack ok", body: "95 14 05 01 a0 80", // [20, 5, 1, "", {}]
		msg: Message{Type: TypeAck, AckID: 5, Status: AckOk}},
	{name: "Ack not found", body: "95 14 07 02 a4 676f6e65 80",
		msg: Message{Type: TypeAck, AckID: 7, Status: AckNotFound, Message: "gone"}},
	{name: "CheckUserInGroupWithAck", body: "95 15 a1 75 a1 67 08 80",
		msg: Message{Type: TypeCheckUserInGroupWithAck, UserID: "u", Group: "g", AckID: 8}},
	{name: "ServiceEvent", body: "96 16 01 a2 6331 02 a1 78 80", // [22, 1, "c1", 2, "x", {}]
		msg: Message{Type: TypeServiceEvent, ObjectType: 1, ObjectID: "c1", Kind: 2, Message: "x"}},
	{name: "CheckGroupExistenceWithAck", body: "94 17 a1 67 09 80",
		msg: Message{Type: TypeCheckGroupExistenceWithAck, Group: "g", AckID: 9}},
	{name: "CheckConnectionExistenceWithAck", body: "94 18 a2 6331 0a 80",
		msg: Message{Type: TypeCheckConnectionExistenceWithAck, ConnectionID: "c1", AckID: 10}},
	{name: "CheckUserExistenceWithAck", body: "94 19 a1 75 0b 80",
		msg: Message{Type: TypeCheckUserExistenceWithAck, UserID: "u", AckID: 11}},
	{name: "UserJoinGroupWithAck ttl", body: "95 1a a1 75 a1 67 0c 81 02 cd 0e10", // ttl 3600
		msg: Message{Type: TypeUserJoinGroupWithAck, UserID: "u", Group: "g", AckID: 12, Ext: Ext{TTL: 3600, HasTTL: true}}},
	{name: "UserLeaveGroupWithAck all", body: "95 1b a1 75 c0 0d 80",
		msg: Message{Type: TypeUserLeaveGroupWithAck, UserID: "u", AllGroups: true, AckID: 13}},
	{name: "CloseUserConnectionsWithAck", body: "96 20 a1 75 a1 72 0e 91 a1 78 80", // [32, "u", "r", 14, ["x"], {}]
		msg: Message{Type: TypeCloseUserConnectionsWithAck, UserID: "u", Error: "r", AckID: 14, IDs: []string{"x"}}},
	{name: "CloseGroupConnectionsWithAck", body: "96 21 a1 67 a0 0f 90 80",
		msg: Message{Type: TypeCloseGroupConnectionsWithAck, Group: "g", AckID: 15}},
	{name: "ClientInvocation", body: "96 22 a2 6931 a2 6331 a2 7331 81 a4 6a736f6e c4 01 7b 80",
		msg: Message{Type: TypeClientInvocation, InvocationID: "i1", ConnectionID: "c1", CallerServerID: "s1", Payloads: []Payload{{"json", []byte("{")}}}},
	{name: "ClientCompletion", body: "97 23 a2 6931 a2 6331 a2 7331 a4 6a736f6e c4 02 7b7d 80",
		msg: Message{Type: TypeClientCompletion, InvocationID: "i1", ConnectionID: "c1", CallerServerID: "s1", Protocol: "json", Payload: []byte("{}")}},
	{name: "ErrorCompletion", body: "96 24 a2 6931 a2 6331 a2 7331 a4 626f6f6d 80",
		msg: Message{Type: TypeErrorCompletion, InvocationID: "i1", ConnectionID: "c1", CallerServerID: "s1", Error: "boom"}},
	{name: "ServiceMapping", body: "95 25 a2 6931 a2 6331 a2 6930 80",
		msg: Message{Type: TypeServiceMapping, InvocationID: "i1", ConnectionID: "c1", InstanceID: "i0"}},
	{name: "ConnectionReconnect", body: "93 26 a2 6331 80",
		msg: Message{Type: TypeConnectionReconnect, ConnectionID: "c1"}},
	{name: "every ext key", body: "94 0b a1 63 a1 67 86 01 cd 012c 02 3c 03 a4 6a736f6e 04 a1 66 05 02 06 c3",
		msg: Message{Type: TypeJoinGroup, ConnectionID: "c", Group: "g", Ext: Ext{TracingID: 300, TTL: 60, HasTTL: true, Protocol: "json", Filter: "f", DataMessageType: 2, IsPartial: true}}},
	{name: "unknown ext key skipped", body: "94 0b a1 63 a1 67 82 09 91 a1 78 03 a4 6a736f6e", decodeOnly: true,
		msg: Message{Type: TypeJoinGroup, ConnectionID: "c", Group: "g", Ext: Ext{Protocol: "json"}}},
	{name: "long string str8", body: "94 0b a1 63 d9 28 " + strings.Repeat("67", 40) + " 80",
		msg: Message{Type: TypeJoinGroup, ConnectionID: "c", Group: strings.Repeat("g", 40)}},
	{name: "extra trailing items skipped", body: "96 0b a1 63 a1 67 80 c3 a1 7a", decodeOnly: true,
		msg: Message{Type: TypeJoinGroup, ConnectionID: "c", Group: "g"}},
}

// TestFixturesDecode decodes every hand-written layout.
func TestFixturesDecode(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			m, err := Decode(unhex(t, f.body))
			require.NoError(t, err)
			require.Equal(t, normalize(f.msg), normalize(m))
		})
	}
}

// TestFixturesEncode writes every message and compares its bytes, prefix
// included, with the hand-written layout.
func TestFixturesEncode(t *testing.T) {
	for _, f := range fixtures {
		if f.decodeOnly {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			got, err := Encode(&f.msg)
			require.NoError(t, err)
			body := unhex(t, f.body)
			want := append(varint(len(body)), body...)
			require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))
		})
	}
}

// normalize maps empty slices to nil, as Decode leaves absent items nil.
func normalize(m Message) Message {
	if len(m.IDs) == 0 {
		m.IDs = nil
	}
	if len(m.ExcludedUsers) == 0 {
		m.ExcludedUsers = nil
	}
	if len(m.Payload) == 0 {
		m.Payload = nil
	}
	return m
}

// varint is the length prefix, written by hand here (7 bits a byte, low
// first) so the test does not trust the framing it checks.
func varint(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x4000:
		return []byte{byte(n&0x7f) | 0x80, byte(n >> 7)}
	default:
		return []byte{byte(n&0x7f) | 0x80, byte((n>>7)&0x7f) | 0x80, byte(n >> 14)}
	}
}

// TestFraming: the keep-alive is exactly 02 91 03; a body of 200 bytes
// gets the two-byte prefix c8 01; a stream of several messages in one
// frame, and one split across frames at every byte, cut into the bodies.
func TestFraming(t *testing.T) {
	ping, err := Encode(&Message{Type: TypePing})
	require.NoError(t, err)
	require.Equal(t, []byte{0x02, 0x91, 0x03}, ping)

	long, err := Encode(&Message{Type: TypeServiceError, Error: strings.Repeat("x", 195)})
	require.NoError(t, err)
	// 92 0f d9 c3 + 195 bytes = 199 bytes? 1+1+2+195 = 199.
	require.Equal(t, []byte{0xc7, 0x01}, long[:2], "prefix of a 199-byte body")
	require.Len(t, long, 201)

	stream := append(append(append([]byte{}, ping...), long...), unhex(t, "06 95 14 05 01 a0 80")...)
	r := NewReader(1 << 16)
	bodies, err := r.Split(stream)
	require.NoError(t, err)
	require.Len(t, bodies, 3)
	m, err := Decode(bodies[2])
	require.NoError(t, err)
	require.Equal(t, Message{Type: TypeAck, AckID: 5, Status: AckOk}, m)

	for cut := 1; cut < len(stream); cut++ {
		r := NewReader(1 << 16)
		a, err := r.Split(append([]byte{}, stream[:cut]...))
		require.NoError(t, err)
		n := len(a)
		b, err := r.Split(append([]byte{}, stream[cut:]...))
		require.NoError(t, err)
		require.Equal(t, 3, n+len(b), "cut at %d", cut)
	}

	_, err = NewReader(100).Split(long)
	require.ErrorIs(t, err, hubproto.ErrTooLarge)
}

// TestDecodeRefusals: unknown types are reported as ignorable; wrong
// shapes, trailing bytes and deep nesting are malformed.
func TestDecodeRefusals(t *testing.T) {
	m, err := Decode(unhex(t, "93 1c a1 74 80")) // 28 AccessKeyRequest: not known here
	require.ErrorIs(t, err, ErrUnknownType)
	require.Equal(t, Type(28), m.Type)
	_, err = Decode(unhex(t, "92 63 a1 74")) // type 99
	require.ErrorIs(t, err, ErrUnknownType)

	for name, body := range map[string]string{
		"empty":           "",
		"not an array":    "a1 74",
		"empty array":     "90",
		"type string":     "91 a1 74",
		"trailing bytes":  "91 03 00",
		"truncated":       "95 14 05",
		"ack not int":     "95 14 a1 35 01 a0 80",
		"group not str":   "94 0b a1 63 01 80",
		"payload not bin": "94 0a 90 81 a4 6a736f6e a1 78 80",
		"ext key string":  "94 0b a1 63 a1 67 81 a1 31 01",
	} {
		_, err := Decode(unhex(t, body))
		require.ErrorIs(t, err, ErrMalformed, name)
		require.False(t, errors.Is(err, ErrUnknownType), name)
	}
	deep := append([]byte{0x94, 0x0a}, []byte(strings.Repeat("\x91", hubproto.MaxNestingDepth+1))...)
	deep = append(deep, 0x90, 0x80, 0x80)
	_, err = Decode(deep)
	require.ErrorIs(t, err, hubproto.ErrTooDeep)
}
