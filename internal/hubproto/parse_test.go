package hubproto

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseJSON(t *testing.T) {
	t.Parallel()
	m, err := JSON.Parse([]byte(`{"type":1,"invocationId":"7","target":"echo","arguments":[1]}`))
	require.NoError(t, err)
	require.NotNil(t, m.InvocationID)
	assert.Equal(t, Message{Type: TypeInvocation, InvocationID: m.InvocationID, Target: "echo"}, m)
	assert.Equal(t, "7", *m.InvocationID)

	m, err = JSON.Parse([]byte(`{"type":6}`))
	require.NoError(t, err)
	assert.Equal(t, Message{Type: TypePing}, m)

	_, err = JSON.Parse([]byte(" "))
	assert.ErrorIs(t, err, ErrEmpty)
	_, err = JSON.Parse([]byte(`{"target":"x"}`))
	assert.ErrorContains(t, err, "no type")
	_, err = JSON.Parse([]byte(`{nope}`))
	assert.ErrorContains(t, err, "not a valid JSON object")
}

func TestParseCompletion(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		p      Protocol
		msg    []byte
		result string
		err    *string
	}{
		"JSON result":       {JSON, []byte(`{"type":3,"invocationId":"1","result":{"a":1}}`), `{"a":1}`, nil},
		"JSON null result":  {JSON, []byte(`{"type":3,"invocationId":"1","result":null}`), `null`, nil},
		"JSON void":         {JSON, []byte(`{"type":3,"invocationId":"1"}`), "", nil},
		"JSON error":        {JSON, []byte(`{"type":3,"invocationId":"1","error":"x"}`), "", ptr("x")},
		"MessagePack error": {MessagePack, unhex(t, "95 03 80 a131 01 a178"), "", ptr("x")},
		"MessagePack void":  {MessagePack, unhex(t, "94 03 80 a131 02"), "", nil},
		// [3, {"h": "v"}, "1", 3, [1]]: headers are skipped
		"MessagePack result": {MessagePack, unhex(t, "95 03 81a168a176 a131 03 9101"), "\x91\x01", nil},
	} {
		c, err := tc.p.ParseCompletion(tc.msg)
		require.NoError(t, err, name)
		assert.Equal(t, "1", c.InvocationID, name)
		assert.Equal(t, tc.result, string(c.Result), name)
		assert.Equal(t, tc.result != "", c.Result != nil, name)
		assert.Equal(t, tc.err, c.Error, name)
	}
	for name, tc := range map[string]struct {
		p   Protocol
		msg []byte
	}{
		"JSON not a Completion":  {JSON, []byte(`{"type":1,"target":"x"}`)},
		"JSON invalid":           {JSON, []byte(`{nope}`)},
		"MessagePack type 1":     {MessagePack, unhex(t, "94 01 80 a131 02")},
		"MessagePack short":      {MessagePack, unhex(t, "93 03 80 a131")},
		"MessagePack kind 9":     {MessagePack, unhex(t, "94 03 80 a131 09")},
		"MessagePack no result":  {MessagePack, unhex(t, "94 03 80 a131 03")},
		"MessagePack id not str": {MessagePack, unhex(t, "94 03 80 01 02")},
	} {
		_, err := tc.p.ParseCompletion(tc.msg)
		assert.Error(t, err, name)
	}
}

func ptr(s string) *string { return &s }

func TestUnframe(t *testing.T) {
	t.Parallel()
	body, err := JSON.Unframe([]byte("{\"type\":6}\x1e"))
	require.NoError(t, err)
	assert.Equal(t, `{"type":6}`, string(body))
	body, err = MessagePack.Unframe(unhex(t, "02 91 06"))
	require.NoError(t, err)
	assert.Equal(t, []byte{0x91, 0x06}, body)

	for name, tc := range map[string]struct {
		p   Protocol
		msg []byte
	}{
		"JSON without separator": {JSON, []byte(`{"type":6}`)},
		"JSON two records":       {JSON, []byte("{}\x1e{}\x1e")},
		"JSON empty":             {JSON, nil},
		"MessagePack too short":  {MessagePack, unhex(t, "03 91 06")},
		"MessagePack too long":   {MessagePack, unhex(t, "01 91 06")},
		"MessagePack no prefix":  {MessagePack, nil},
		"MessagePack bad prefix": {MessagePack, unhex(t, "8080808080 01")},
	} {
		_, err := tc.p.Unframe(tc.msg)
		assert.Error(t, err, name)
	}
}

func TestDecodeUpstream(t *testing.T) {
	t.Parallel()
	raw := func(b []byte) string { return string(b) }
	m, err := DecodeUpstream(JSON, []byte(`{"type":1,"invocationId":"3","target":"echo","arguments":["hi",{"a":1}]}`), raw)
	require.NoError(t, err)
	assert.Equal(t, Upstream[string]{Type: TypeInvocation, InvocationID: "3", Target: "echo", Arguments: []string{`"hi"`, `{"a":1}`}}, m)

	// Escapes take the encoding/json path; the result is the same shape.
	m, err = DecodeUpstream(JSON, []byte(`{"type":1,"target":"e\u0063ho","arguments":[1]}`), raw)
	require.NoError(t, err)
	assert.Equal(t, Upstream[string]{Type: TypeInvocation, Target: "echo", Arguments: []string{`1`}}, m)

	m, err = DecodeUpstream(JSON, []byte(`{"type":10}`), raw)
	require.NoError(t, err)
	assert.Equal(t, Upstream[string]{Type: TypeOpenConnection}, m)
	m, err = DecodeUpstream(JSON, []byte(`{"Type":11,"Error":"gone"}`), raw)
	require.NoError(t, err)
	assert.Equal(t, Upstream[string]{Type: TypeCloseConnection, Error: "gone"}, m)

	// [1, {}, "1", "hi", ["x"], []]: streamIds after the arguments.
	m, err = DecodeUpstream(MessagePack, unhex(t, "96 01 80 a131 a26869 91a178 90"), raw)
	require.NoError(t, err)
	assert.Equal(t, Upstream[string]{Type: TypeInvocation, InvocationID: "1", Target: "hi", Arguments: []string{"\xa1x"}}, m)
	// [1, {}, nil, "hi", []]: a send.
	m, err = DecodeUpstream(MessagePack, unhex(t, "95 01 80 c0 a26869 90"), raw)
	require.NoError(t, err)
	assert.Equal(t, Upstream[string]{Type: TypeInvocation, Target: "hi", Arguments: []string{}}, m)

	for name, tc := range map[string]struct {
		p    Protocol
		body []byte
		want string
	}{
		"JSON array":             {JSON, []byte(`[]`), "not a JSON object"},
		"JSON no type":           {JSON, []byte(`{}`), `no "type"`},
		"JSON no target":         {JSON, []byte(`{"type":1}`), `no "target"`},
		"JSON type 2":            {JSON, []byte(`{"type":2}`), "type 2"},
		"JSON invalid":           {JSON, []byte(`{"type":`), "not valid JSON"},
		"MessagePack type 6":     {MessagePack, unhex(t, "91 06"), "type 6"},
		"MessagePack short":      {MessagePack, unhex(t, "94 01 80 c0 a26869"), "4 elements"},
		"MessagePack id is 1":    {MessagePack, unhex(t, "95 01 80 01 a26869 90"), "neither nil nor a string"},
		"MessagePack huge array": {MessagePack, unhex(t, "95 01 80 c0 a26869 dd7fffffff"), "not valid MessagePack"},
		"JSON too deep":          {JSON, []byte(`{"type":1,"target":"t","arguments":[` + strings.Repeat("[", 1_000_000) + `]}`), "more than 100 deep"},
		"MessagePack too deep":   {MessagePack, append(unhex(t, "95 01 80 c0 a174 91"), append(bytes.Repeat([]byte{0x91}, 1_000_000), 0xc0)...), "more than 100 deep"},
	} {
		_, err := DecodeUpstream(tc.p, tc.body, raw)
		assert.ErrorIs(t, err, ErrNotUpstream, name)
		assert.ErrorContains(t, err, tc.want, name)
		if strings.HasSuffix(name, "too deep") {
			assert.ErrorIs(t, err, ErrTooDeep, name)
		}
	}
	// At the limit (the body's object or array, the arguments array, and
	// the argument's own levels) the body is accepted.
	arg := strings.Repeat("[", MaxNestingDepth-2) + strings.Repeat("]", MaxNestingDepth-2)
	m, err = DecodeUpstream(JSON, []byte(`{"type":1,"target":"t","arguments":[`+arg+`]}`), raw)
	require.NoError(t, err)
	assert.Equal(t, []string{arg}, m.Arguments)
	_, err = DecodeUpstream(JSON, []byte(`{"type":1,"target":"t","arguments":[[`+arg+`]]}`), raw)
	assert.ErrorIs(t, err, ErrTooDeep, "one level more")
	mpArg := append(bytes.Repeat([]byte{0x91}, MaxNestingDepth-3), 0x90)
	m, err = DecodeUpstream(MessagePack, append(unhex(t, "95 01 80 c0 a174 91"), mpArg...), raw)
	require.NoError(t, err)
	assert.Equal(t, []string{string(mpArg)}, m.Arguments)
	_, err = DecodeUpstream(MessagePack, append(unhex(t, "95 01 80 c0 a174 91 91"), mpArg...), raw)
	assert.ErrorIs(t, err, ErrTooDeep, "one level more")
}

func TestProtocolNames(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "json", JSON.String())
	assert.Equal(t, "messagepack", MessagePack.String())
	assert.Equal(t, "Protocol(7)", Protocol(7).String())
	assert.False(t, JSON.Binary())
	assert.True(t, MessagePack.Binary())
	assert.Equal(t, "application/json", JSON.ContentType())
	assert.Equal(t, "application/x-msgpack", MessagePack.ContentType())
	p, problem := ParseHandshake([]byte(`{"protocol":"json","version":3}`), true)
	assert.Equal(t, "The server does not support version 3 of the 'json' protocol.", problem)
	assert.Equal(t, JSON, p)
	_, problem = ParseHandshake([]byte(`{"protocol":"xml","version":1}`), true)
	assert.Contains(t, problem, "'xml' is not supported")
	_, problem = ParseHandshake([]byte(`nope`), true)
	assert.Contains(t, problem, "not valid JSON")
}

// TestParseRefusesDeepMessages: a client's message nested a million levels
// deep, in either protocol and as an Invocation or a Completion, is refused
// by Parse and ParseCompletion with ErrTooDeep, not walked recursively.
func TestParseRefusesDeepMessages(t *testing.T) {
	const depth = 1_000_000
	deepJSON := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	deepMP := append(bytes.Repeat([]byte{0x91}, depth), 0xc0)
	for name, tc := range map[string]struct {
		p   Protocol
		msg []byte
	}{
		"JSON invocation":        {JSON, []byte(`{"type":1,"target":"t","arguments":[` + deepJSON + `]}`)},
		"JSON completion":        {JSON, []byte(`{"type":3,"invocationId":"1","result":` + deepJSON + `}`)},
		"MessagePack invocation": {MessagePack, append(unhex(t, "95 01 80 c0 a174 91"), deepMP...)},
		"MessagePack completion": {MessagePack, append(unhex(t, "95 03 80 a131 03"), deepMP...)},
		"MessagePack headers":    {MessagePack, append(append(unhex(t, "95 03 81 a168"), deepMP...), unhex(t, "a131 02")...)},
	} {
		_, err := tc.p.Parse(tc.msg)
		assert.ErrorIs(t, err, ErrTooDeep, name)
		_, err = tc.p.ParseCompletion(tc.msg)
		assert.ErrorIs(t, err, ErrTooDeep, name)
	}
}

// TestParseHandshakeRefusesDeepJSON: a handshake nested a million levels
// deep is refused as invalid, without being decoded.
func TestParseHandshakeRefusesDeepJSON(t *testing.T) {
	_, problem := ParseHandshake([]byte(`{"protocol":"json","version":1,"x":`+strings.Repeat("[", 1_000_000)+`}`), true)
	assert.Contains(t, problem, "not valid JSON")
}
