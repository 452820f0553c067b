package hubproto

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected bytes are written by hand from HubProtocol.md's "Stateful
// Reconnect" section: {"type":8,"sequenceId":n} and [8, n] for Ack, type
// 9 for Sequence; its MessagePack vectors are Ack 36 = 92 08 cc 24 and
// Sequence 19 = 92 09 cc 13 (uint8 form), and the encoders here write the
// smallest form (positive fixint below 128).

func TestEncodeAckAndSequence(t *testing.T) {
	for name, tc := range map[string]struct{ got, want []byte }{
		"json ack 36":           {JSON.Ack(36), []byte("{\"type\":8,\"sequenceId\":36}\x1e")},
		"json sequence 19":      {JSON.Sequence(19), []byte("{\"type\":9,\"sequenceId\":19}\x1e")},
		"json ack 0":            {JSON.Ack(0), []byte("{\"type\":8,\"sequenceId\":0}\x1e")},
		"json sequence max":     {JSON.Sequence(1<<64 - 1), []byte("{\"type\":9,\"sequenceId\":18446744073709551615}\x1e")},
		"msgpack ack 36":        {MessagePack.Ack(36), unhex(t, "03 92 08 24")},
		"msgpack sequence 19":   {MessagePack.Sequence(19), unhex(t, "03 92 09 13")},
		"msgpack ack 200":       {MessagePack.Ack(200), unhex(t, "04 92 08 cc c8")},
		"msgpack sequence 300":  {MessagePack.Sequence(300), unhex(t, "05 92 09 cd 01 2c")},
		"msgpack ack 70000":     {MessagePack.Ack(70000), unhex(t, "07 92 08 ce 00 01 11 70")},
		"msgpack sequence 2^40": {MessagePack.Sequence(1 << 40), unhex(t, "0b 92 09 cf 00 00 01 00 00 00 00 00")},
	} {
		assert.Equal(t, tc.want, tc.got, name)
	}
}

func TestParseAckAndSequence(t *testing.T) {
	for name, tc := range map[string]struct {
		p    Protocol
		msg  []byte
		typ  MessageType
		want uint64
	}{
		"json ack":                    {JSON, []byte(`{"type":8,"sequenceId":36}`), TypeAck, 36},
		"json sequence, spaces":       {JSON, []byte(` { "sequenceId" : 19 , "type" : 9 } `), TypeSequence, 19},
		"json extra field":            {JSON, []byte(`{"type":8,"sequenceId":1,"headers":{}}`), TypeAck, 1},
		"json max":                    {JSON, []byte(`{"type":9,"sequenceId":18446744073709551615}`), TypeSequence, 1<<64 - 1},
		"msgpack ack, spec vector":    {MessagePack, unhex(t, "92 08 cc 24"), TypeAck, 36},
		"msgpack seq, spec vector":    {MessagePack, unhex(t, "92 09 cc 13"), TypeSequence, 19},
		"msgpack ack, fixint":         {MessagePack, unhex(t, "92 08 24"), TypeAck, 36},
		"msgpack uint16":              {MessagePack, unhex(t, "92 08 cd 01 2c"), TypeAck, 300},
		"msgpack uint32":              {MessagePack, unhex(t, "92 09 ce 00 01 11 70"), TypeSequence, 70000},
		"msgpack uint64":              {MessagePack, unhex(t, "92 09 cf 00 00 01 00 00 00 00 00"), TypeSequence, 1 << 40},
		"msgpack int8, non-negative":  {MessagePack, unhex(t, "92 08 d0 05"), TypeAck, 5},
		"msgpack int64, non-negative": {MessagePack, unhex(t, "92 08 d3 00 00 00 00 00 00 00 07"), TypeAck, 7},
		"msgpack extra element":       {MessagePack, unhex(t, "93 08 01 c0"), TypeAck, 1},
	} {
		typ, id, err := tc.p.ParseSequenceID(tc.msg)
		require.NoError(t, err, name)
		assert.Equal(t, tc.typ, typ, name)
		assert.Equal(t, tc.want, id, name)
	}
}

func TestParseAckAndSequenceErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		p    Protocol
		msg  []byte
		want string
	}{
		"json empty":             {JSON, []byte(" "), "empty"},
		"json not an object":     {JSON, []byte(`[8,1]`), "not a JSON object"},
		"json negative":          {JSON, []byte(`{"type":8,"sequenceId":-1}`), "non-negative integer"},
		"json fraction":          {JSON, []byte(`{"type":8,"sequenceId":1.5}`), "non-negative integer"},
		"json string":            {JSON, []byte(`{"type":8,"sequenceId":"1"}`), "non-negative integer"},
		"json missing id":        {JSON, []byte(`{"type":9}`), "no sequenceId"},
		"json other type":        {JSON, []byte(`{"type":1,"sequenceId":1}`), "want 8 (Ack) or 9 (Sequence)"},
		"msgpack empty":          {MessagePack, nil, "empty"},
		"msgpack truncated":      {MessagePack, unhex(t, "92 08 cc"), "not valid MessagePack"},
		"msgpack trailing bytes": {MessagePack, unhex(t, "92 08 01 01"), "bytes after its array"},
		"msgpack not an array":   {MessagePack, unhex(t, "08"), "not a non-empty array"},
		"msgpack missing id":     {MessagePack, unhex(t, "91 09"), "no sequenceId"},
		"msgpack negative":       {MessagePack, unhex(t, "92 08 ff"), "not an integer"},
		"msgpack negative int8":  {MessagePack, unhex(t, "92 08 d0 ff"), "negative"},
		"msgpack string id":      {MessagePack, unhex(t, "92 08 a1 31"), "not an integer"},
		"msgpack float id":       {MessagePack, unhex(t, "92 08 ca 3f 80 00 00"), "not an integer"},
		"msgpack other type":     {MessagePack, unhex(t, "92 06 01"), "want 8 (Ack) or 9 (Sequence)"},
	} {
		_, _, err := tc.p.ParseSequenceID(tc.msg)
		assert.ErrorContains(t, err, tc.want, name)
	}
}

func TestAckAndSequenceRoundTripAndRoute(t *testing.T) {
	for _, p := range []Protocol{JSON, MessagePack} {
		for _, id := range []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
			for _, typ := range []MessageType{TypeAck, TypeSequence} {
				framed := p.Ack(id)
				if typ == TypeSequence {
					framed = p.Sequence(id)
				}
				body, err := p.Unframe(framed)
				require.NoError(t, err)
				m, err := p.Parse(body)
				require.NoError(t, err, "%s %d", p, id)
				assert.Equal(t, typ, m.Type, "Parse routes it")
				gotType, got, err := p.ParseSequenceID(body)
				require.NoError(t, err)
				assert.Equal(t, typ, gotType)
				assert.Equal(t, id, got, fmt.Sprintf("%s %v %d", p, typ, id))
			}
		}
	}
}

func TestTrackableTypes(t *testing.T) {
	var trackable []MessageType
	for typ := MessageType(0); typ <= 12; typ++ {
		if typ.Trackable() {
			trackable = append(trackable, typ)
		}
	}
	assert.Equal(t, []MessageType{1, 2, 3, 4, 5}, trackable)
}

func TestHandshakeVersions(t *testing.T) {
	for _, tc := range []struct {
		req     string
		p       Protocol
		version int
	}{
		{`{"protocol":"json","version":1}`, JSON, 1},
		{`{"protocol":"json","version":2}`, JSON, 2},
		{`{"protocol":"messagepack","version":2}`, MessagePack, 2},
	} {
		p, v, problem := ParseHandshakeVersion([]byte(tc.req), true)
		assert.Empty(t, problem, tc.req)
		assert.Equal(t, tc.p, p, tc.req)
		assert.Equal(t, tc.version, v, tc.req)
	}
	for _, v := range []string{"0", "3", "-1"} {
		_, _, problem := ParseHandshakeVersion([]byte(`{"protocol":"json","version":`+v+`}`), true)
		assert.Equal(t, "The server does not support version "+v+" of the 'json' protocol.", problem)
	}
}

// FuzzSequenceID feeds arbitrary bytes to both Ack/Sequence decoders: they
// never panic, and whatever they accept encodes back to a message that
// decodes to the same type and id.
func FuzzSequenceID(f *testing.F) {
	for _, s := range []string{
		`{"type":8,"sequenceId":36}`, `{"type":9,"sequenceId":0}`, `{"type":9}`,
		`{"type":8,"sequenceId":-1}`, `{"type":8,"sequenceId":1e3}`, `{"type":8,"sequenceId":18446744073709551616}`,
	} {
		f.Add([]byte(s))
	}
	for _, h := range []string{"9208cc24", "9209cc13", "920824", "9209cf0000010000000000", "9208d0ff", "9109", "93080100"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, p := range []Protocol{JSON, MessagePack} {
			typ, id, err := p.ParseSequenceID(msg)
			if err != nil {
				continue
			}
			if typ != TypeAck && typ != TypeSequence {
				t.Fatalf("%s accepted type %d from %q", p, typ, msg)
			}
			framed := p.Ack(id)
			if typ == TypeSequence {
				framed = p.Sequence(id)
			}
			body, err := p.Unframe(framed)
			if err != nil {
				t.Fatal(err)
			}
			typ2, id2, err := p.ParseSequenceID(body)
			if err != nil || typ2 != typ || id2 != id {
				t.Fatalf("%s: %q decoded to %v %d, re-encoded %q decodes to %v %d (%v)", p, msg, typ, id, body, typ2, id2, err)
			}
		}
	})
}
