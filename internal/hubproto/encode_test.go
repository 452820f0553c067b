package hubproto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected bytes below are written by hand from the hub protocol
// specification (HubProtocol.md: JSON field names and types, MessagePack
// arrays and result kinds, the VarInt length prefix), not produced by the
// encoders under test. MessagePack bytes are hex, prefix first.

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func must(t *testing.T) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		require.NoError(t, err)
		return b
	}
}

func TestEncodeJSON(t *testing.T) {
	t.Parallel()
	ok := must(t)
	for name, tc := range map[string]struct{ got, want string }{
		"ping":                    {string(JSON.Ping()), "{\"type\":6}\x1e"},
		"clean close":             {string(JSON.Close("", false)), "{\"type\":7}\x1e"},
		"close with error":        {string(JSON.Close("bye", false)), "{\"type\":7,\"error\":\"bye\"}\x1e"},
		"close, reconnect":        {string(JSON.Close("", true)), "{\"type\":7,\"allowReconnect\":true}\x1e"},
		"close, error, reconnect": {string(JSON.Close("bye", true)), "{\"type\":7,\"error\":\"bye\",\"allowReconnect\":true}\x1e"},
		"completion error":        {string(JSON.CompletionError("1", "x")), "{\"type\":3,\"invocationId\":\"1\",\"error\":\"x\"}\x1e"},
		"completion void":         {string(JSON.CompletionVoid("1")), "{\"type\":3,\"invocationId\":\"1\"}\x1e"},
		"completion result":       {string(ok(JSON.CompletionResult("1", "ok"))), "{\"type\":3,\"invocationId\":\"1\",\"result\":\"ok\"}\x1e"},
		"completion struct result": {string(ok(JSON.CompletionResult("1", struct {
			X int `json:"x"`
		}{2}))), "{\"type\":3,\"invocationId\":\"1\",\"result\":{\"x\":2}}\x1e"},
		"send":                {string(ok(JSON.Invocation("", "t", []byte(`[1,"a"]`)))), "{\"type\":1,\"target\":\"t\",\"arguments\":[1,\"a\"]}\x1e"},
		"send, no arguments":  {string(ok(JSON.Invocation("", "t", nil))), "{\"type\":1,\"target\":\"t\",\"arguments\":[]}\x1e"},
		"invoke":              {string(ok(JSON.Invocation("7", "t", []byte(`[]`)))), "{\"type\":1,\"invocationId\":\"7\",\"target\":\"t\",\"arguments\":[]}\x1e"},
		"invoke, Go values":   {string(ok(JSON.InvocationValues("7", "t", []any{1, "a", nil}))), "{\"type\":1,\"invocationId\":\"7\",\"target\":\"t\",\"arguments\":[1,\"a\",null]}\x1e"},
		"stream item":         {string(ok(JSON.StreamItem("s", []byte(`{"a":1}`)))), "{\"type\":2,\"invocationId\":\"s\",\"item\":{\"a\":1}}\x1e"},
		"cancel invocation":   {string(JSON.CancelInvocation("s")), "{\"type\":5,\"invocationId\":\"s\"}\x1e"},
		"handshake request":   {string(JSON.HandshakeRequest()), "{\"protocol\":\"json\",\"version\":1}\x1e"},
		"msgpack handshake":   {string(MessagePack.HandshakeRequest()), "{\"protocol\":\"messagepack\",\"version\":1}\x1e"},
		"handshake ok":        {string(HandshakeResponse("")), "{}\x1e"},
		"handshake error":     {string(HandshakeResponse("no")), "{\"error\":\"no\"}\x1e"},
		"connected body":      {string(OpenConnectionBody()), `{"type":10}`},
		"disconnected body":   {string(CloseConnectionBody("")), `{"Type":11}`},
		"disconnected, error": {string(CloseConnectionBody(`x "y"`)), `{"Type":11,"Error":"x \"y\""}`},
		"escaped strings":     {string(JSON.CompletionError("<&>", "é\n\xff")), "{\"type\":3,\"invocationId\":\"\\u003c\\u0026\\u003e\",\"error\":\"é\\n\\ufffd\"}\x1e"},
	} {
		assert.Equal(t, tc.want, tc.got, name)
	}
	_, err := JSON.CompletionResult("1", make(chan int))
	assert.Error(t, err, "a result encoding/json refuses")
}

func TestEncodeMessagePack(t *testing.T) {
	t.Parallel()
	ok := must(t)
	type point struct {
		X int `json:"x"`
	}
	for name, tc := range map[string]struct {
		got  []byte
		want string
	}{
		// [6]
		"ping": {MessagePack.Ping(), "02 91 06"},
		// [7, nil, false]
		"clean close": {MessagePack.Close("", false), "04 93 07 c0 c2"},
		// [7, "bye", true]
		"close, error, reconnect": {MessagePack.Close("bye", true), "07 93 07 a3627965 c3"},
		// [3, {}, "1", 1, "x"]
		"completion error": {MessagePack.CompletionError("1", "x"), "08 95 03 80 a131 01 a178"},
		// [3, {}, "1", 2]
		"completion void": {MessagePack.CompletionVoid("1"), "06 94 03 80 a131 02"},
		// [3, {}, "1", 3, "ok"]
		"completion result": {ok(MessagePack.CompletionResult("1", "ok")), "09 95 03 80 a131 03 a26f6b"},
		// [3, {}, "1", 3, {"x": 2}]: json tags name fields, ints are compact
		"completion struct result": {ok(MessagePack.CompletionResult("1", point{2})), "0a 95 03 80 a131 03 81 a178 02"},
		// [1, {}, nil, "t", [1, "a"]]
		"send": {ok(MessagePack.Invocation("", "t", []byte(`[1,"a"]`))), "0a 95 01 80 c0 a174 92 01 a161"},
		// [1, {}, nil, "t", []]
		"send, no arguments": {ok(MessagePack.Invocation("", "t", nil)), "07 95 01 80 c0 a174 90"},
		// [1, {}, "7", "t", []]
		"invoke": {ok(MessagePack.Invocation("7", "t", []byte(`[]`))), "08 95 01 80 a137 a174 90"},
		// [1, {}, "7", "t", [1, {"x": 2}]]
		"invoke, Go values": {ok(MessagePack.InvocationValues("7", "t", []any{int64(1), point{2}})), "0d 95 01 80 a137 a174 92 01 81 a178 02"},
		// [2, {}, "s", {"a": 1}]
		"stream item": {ok(MessagePack.StreamItem("s", []byte(`{"a":1}`))), "09 94 02 80 a173 81 a161 01"},
		// [5, {}, "s"]
		"cancel invocation": {MessagePack.CancelInvocation("s"), "05 93 05 80 a173"},
		// [3, {}, "1", 1, <200 x>]: a str8 message, and a body of 208
		// bytes, whose VarInt prefix takes two bytes (0xd0 0x01).
		"two-byte prefix": {MessagePack.CompletionError("1", strings.Repeat("x", 200)), "d001 95 03 80 a131 01 d9c8" + strings.Repeat("78", 200)},
	} {
		assert.Equal(t, hex.EncodeToString(unhex(t, tc.want)), hex.EncodeToString(tc.got), name)
	}
	_, err := MessagePack.Invocation("", "t", []byte(`{"a":1}`))
	assert.ErrorIs(t, err, errArgumentsNotArray)
	_, err = MessagePack.Invocation("", "t", []byte(`[1,`))
	assert.Error(t, err, "arguments that are not JSON")
}

func TestJSONToMessagePack(t *testing.T) {
	t.Parallel()
	got, err := JSONToMessagePack([]byte(`[42,-7,3.5,1e3,18446744073709551615,true,null,{"b":1,"a":[]}]`))
	require.NoError(t, err)
	want := "98" + // an array of 8
		"2a" + // 42, positive fixint
		"f9" + // -7, negative fixint
		"cb400c000000000000" + // 3.5, float64
		"cb408f400000000000" + // 1e3 is a float in JSON terms: 1000.0
		"cfffffffffffffffff" + // the largest uint64
		"c3" + "c0" + // true, nil
		"82a16201a16190" // {"b":1,"a":[]}, keys in their order
	assert.Equal(t, want, hex.EncodeToString(got))

	nested := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	got, err = JSONToMessagePack(nested(MaxNestingDepth))
	require.NoError(t, err, "the limit itself is allowed")
	assert.Equal(t, strings.Repeat("91", MaxNestingDepth-1)+"90", hex.EncodeToString(got))
	_, err = JSONToMessagePack(nested(MaxNestingDepth + 1))
	assert.ErrorIs(t, err, ErrTooDeep)
	_, err = JSONToMessagePack(nested(1_000_000))
	assert.ErrorIs(t, err, ErrTooDeep)
}

// TestMessagePackToJSON pins the bytes of the one MessagePack-to-JSON
// conversion: keys in order, integer keys as decimal strings, binary as
// base64, timestamps as RFC 3339 in UTC; anything JSON cannot carry is
// refused with an error that names it.
func TestMessagePackToJSON(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ hex, want string }{
		{"82a16201a161c2", `{"b":1,"a":false}`}, // keys keep their order
		{"93c0a178cb3ff8000000000000", `[null,"x",1.5]`},
		{"ca3dcccccd", `0.10000000149011612`}, // a float32 as JavaScript reads it
		{"ff", `-1`},
		{"cfffffffffffffffff", `18446744073709551615`},
		{"d3 8000000000000000", `-9223372036854775808`},
		{"a3 3c263e", `"\u003c\u0026\u003e"`}, // escaped as encoding/json escapes
		// Binary is base64, as encoding/json writes a []byte.
		{"c40100", `"AA=="`},
		{"c403 010203", `"AQID"`},
		// Integer keys become their decimal strings, as in JavaScript.
		{"83 01 02 ff a1 78 cd 0100 c0", `{"1":2,"-1":"x","256":null}`},
		// Timestamps: 32-bit, 64-bit with nanoseconds, 96-bit before 1970.
		{"d6ff 5e0be100", `"2020-01-01T00:00:00Z"`},
		{"d7ff 7735940000000000", `"1970-01-01T00:00:00.5Z"`},
		{"c70cff 00000000 ffffffffffffffff", `"1969-12-31T23:59:59Z"`},
		{"92 91 80 90", `[[{}],[]]`},
	} {
		got, err := MessagePackToJSON(unhex(t, c.hex))
		require.NoError(t, err, c.hex)
		assert.Equal(t, c.want, string(got), c.hex)
		assert.True(t, json.Valid(got), c.hex)
	}
	for _, c := range []struct{ hex, want string }{
		{"81 c0 01", "map key of type nil"},
		{"81 c3 01", "map key of type boolean"},
		{"81 cb3ff8000000000000 01", "map key of type float"},
		{"81 c40161 01", "map key of type binary"},
		{"81 90 01", "map key of type array"},
		{"d401 00", "extension type 1 has no JSON form"},
		{"cb7ff8000000000000", "NaN has no JSON form"},
		{"cb7ff0000000000000", "+Inf has no JSON form"},
		{"d5ff 0000", "timestamp has 2 bytes"},
		{"92 01", "not valid MessagePack"},
		{"01 02", "followed by other bytes"},
	} {
		_, err := MessagePackToJSON(unhex(t, c.hex))
		assert.ErrorContains(t, err, c.want, c.hex)
	}
	nested := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n-1), 0x90) }
	got, err := MessagePackToJSON(nested(MaxNestingDepth))
	require.NoError(t, err, "the limit itself is allowed")
	assert.Equal(t, strings.Repeat("[", MaxNestingDepth)+strings.Repeat("]", MaxNestingDepth), string(got))
	for _, n := range []int{MaxNestingDepth + 1, 1_000_000} {
		_, err = MessagePackToJSON(nested(n))
		assert.ErrorIs(t, err, ErrTooDeep, n)
	}
}
