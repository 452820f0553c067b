package hubproto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzUpstreamBody feeds arbitrary bytes to both upstream body decoders:
// they never panic, fail with ErrNotUpstream, accept only well-formed
// messages, and, whenever the fast JSON scanner accepts a body,
// encoding/json reads the same fields from it.
func FuzzUpstreamBody(f *testing.F) {
	for _, s := range []string{
		`{"type":1,"invocationId":"3","target":"broadcast","arguments":["hello",42]}`,
		`{"type":1,"target":"send","arguments":[{"a":[1,null,true]}],"headers":{},"streamIds":[]}`,
		`{"type":10}`,
		`{"Type":11,"Error":"closed"}`,
		`{"type":2}`,
		` { "type" : 1 , "target" : "t" , "arguments" : [ 1.5e-3 , "a\\u00e9\\n" , {"k":[true,false,null]} , -0 ] , "x" : {} } `,
		`{"type":1,"Target":"t","target":"u","arguments":[],"arguments":[1]}`,
		`{"type":01}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	for _, h := range []string{"950180a131a2686990", "960180c0a2686991019092a178", "9501", "9401"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	raw := func(b []byte) []byte { return b }
	f.Fuzz(func(t *testing.T, body []byte) {
		if typ, id, target, errText, args, ok := scanJSONBody(body, raw); ok {
			slow := struct {
				Type         int               `json:"type"`
				InvocationID string            `json:"invocationId"`
				Target       string            `json:"target"`
				Arguments    []json.RawMessage `json:"arguments"`
				Error        string            `json:"error"`
			}{Type: -1}
			if err := json.Unmarshal(body, &slow); err != nil {
				require.FailNow(t, fmt.Sprintf("scanner accepted %q, encoding/json rejects it: %v", body, err))
			}
			require.False(t, slow.Type != typ || slow.InvocationID != id || slow.Target != target || slow.Error != errText || len(slow.Arguments) != len(args),
				"scanner read %d %q %q %q %d args, encoding/json %d %q %q %q %d args from %q",
				typ, id, target, errText, len(args), slow.Type, slow.InvocationID, slow.Target, slow.Error, len(slow.Arguments), body)
			for i := range args {
				require.True(t, bytes.Equal(args[i], slow.Arguments[i]), "argument %d: scanner %q, encoding/json %q", i, args[i], slow.Arguments[i])
			}
		}
		for _, p := range []Protocol{JSON, MessagePack} {
			m, err := DecodeUpstream(p, body, raw)
			if err != nil {
				require.True(t, errors.Is(err, ErrNotUpstream), "error %v does not wrap ErrNotUpstream", err)
				continue
			}
			// Nothing deeper than the limit is accepted.
			if p == JSON && CheckJSONDepth(body) != nil || p == MessagePack && CheckMessagePackDepth(body) != nil {
				t.Fatalf("%v: accepted a body nested deeper than %d", p, MaxNestingDepth)
			}
			switch m.Type {
			case TypeOpenConnection, TypeCloseConnection:
				require.False(t, p == MessagePack || len(m.Arguments) != 0 || m.Target != "", "%v: a connection message carries an invocation: %+v", p, m)
			case TypeInvocation:
				require.NotEmpty(t, m.Target, "an invocation without a target was accepted")
			default:
				require.FailNow(t, fmt.Sprintf("type %d was accepted", m.Type))
			}
			for i, a := range m.Arguments {
				require.False(t, p == JSON && !json.Valid(a), "JSON argument %d (%q) is not valid JSON", i, a)
				if p == MessagePack {
					if end, err := skipMessagePack(a, 0); err != nil || end != len(a) {
						require.FailNow(t, fmt.Sprintf("MessagePack argument %d (%x) is not one value: %v", i, a, err))
					}
				}
			}
		}
	})
}

// FuzzRecordSplitter feeds the same stream cut into frames at arbitrary
// points and checks that the records come out whole and unchanged.
func FuzzRecordSplitter(f *testing.F) {
	f.Add([]byte("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":6}\x1e"), uint8(5))
	f.Add([]byte("\x1e\x1e{}"), uint8(1))
	f.Add([]byte("no separator at all"), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		s := recordSplitter{limit: 1 << 20}
		var got [][]byte
		step := int(cut%16) + 1
		for i := 0; i < len(stream); i += step {
			end := min(i+step, len(stream))
			frame := append([]byte(nil), stream[i:end]...)
			records, err := s.Split(frame)
			require.NoError(t, err)
			for _, r := range records {
				got = append(got, append([]byte(nil), r...))
			}
		}
		parts := bytes.Split(stream, []byte{RecordSeparator})
		want := parts[:len(parts)-1] // the last part has no separator yet
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, string(want[i]), string(got[i]), "record %d", i)
		}
		require.Equal(t, string(parts[len(parts)-1]), string(s.pending()), "pending tail")
	})
}

// FuzzMessagePackFrameReader feeds a stream of length-prefixed messages cut
// into frames at arbitrary points: whatever the cuts, the messages come
// out the same as from the whole stream at once, and nothing panics.
func FuzzMessagePackFrameReader(f *testing.F) {
	frame := func(body []byte) []byte { return MessagePack.Frame(nil, body) }
	f.Add(frame([]byte{0x91, 0x06}), uint8(1))
	f.Add(append(frame(bytes.Repeat([]byte{'a'}, 200)), frame([]byte{0x92, 0x07, 0xc0})...), uint8(3))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, uint8(2))
	f.Add([]byte{0xff, 0x7f}, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		const limit = 4096
		whole := &lengthPrefixedReader{limit: limit}
		want, wantErr := whole.Split(append([]byte(nil), stream...))
		var wantCopy [][]byte
		for _, m := range want {
			wantCopy = append(wantCopy, append([]byte(nil), m...))
		}

		r := &lengthPrefixedReader{limit: limit}
		var got [][]byte
		var gotErr error
		step := int(cut%32) + 1
		for i := 0; i < len(stream) && gotErr == nil; i += step {
			msgs, err := r.Split(append([]byte(nil), stream[i:min(i+step, len(stream))]...))
			gotErr = err
			for _, m := range msgs {
				require.LessOrEqual(t, len(m), limit)
				got = append(got, append([]byte(nil), m...))
			}
		}
		if wantErr != nil {
			require.Error(t, gotErr, "the whole stream was refused; the cut one must be too")
			return
		}
		require.NoError(t, gotErr)
		require.Equal(t, wantCopy, got)
		for _, m := range got {
			_, _ = MessagePack.Parse(m) // must not panic
		}
	})
}

// FuzzReadAndParse feeds a client's stream, as an HTTP POST body or a
// frame, through the Reader and Parse of each protocol: nothing panics, a
// MessagePack message accepted is one whole, well-formed value, a
// Completion's result converts to valid JSON or fails, and the answers a
// server would send are framed.
func FuzzReadAndParse(f *testing.F) {
	frame := func(body []byte) []byte { return MessagePack.Frame(nil, body) }
	f.Add([]byte("{\"type\":1,\"target\":\"t\",\"arguments\":[]}\x1e{\"type\":6}\x1e"), false)
	f.Add([]byte("\x1e\x1e"), false)
	f.Add([]byte("{\"type\":3,\"invocationId\":\"1\",\"result\":{\"a\":[1,2.5]}}\x1e"), false)
	inv, _ := MessagePack.Invocation("", "t", []byte(`[1,"x",{"k":[null,true,2.5]}]`))
	f.Add(inv, true)
	f.Add(append(frame([]byte{0x95, 0x01, 0x80, 0xa1, '1', 0xa1, 't', 0x90}), MessagePack.Ping()...), true)
	f.Add(frame([]byte{0x91, 0x91, 0x91, 0x91}), true)
	f.Add(frame([]byte{0x95, 0x03, 0x80, 0xa1, '1', 0x03, 0x82, 0xa1, 'k', 0xc4, 0x01, 0x00, 0xa1, 'n', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}), true)
	f.Fuzz(func(t *testing.T, body []byte, binary bool) {
		p := JSON
		if binary {
			p = MessagePack
		}
		records, err := p.NewReader(4 << 20).Split(body)
		if err != nil {
			return
		}
		for _, rec := range records {
			m, err := p.Parse(rec)
			if err != nil {
				continue
			}
			require.NotZero(t, m.Type)
			if p == JSON {
				require.NoError(t, CheckJSONDepth(rec), "accepted a message nested deeper than the limit")
			}
			if binary {
				end, err := skipMessagePack(rec, 0)
				require.NoError(t, err)
				require.Equal(t, len(rec), end)
			}
			if m.Type == TypeCompletion {
				c, err := p.ParseCompletion(rec)
				if err == nil && c.Result != nil && binary {
					if js, err := MessagePackToJSON(c.Result); err == nil {
						require.True(t, json.Valid(js), "result %q", js)
					}
				}
			}
			if m.InvocationID != nil {
				for _, out := range [][]byte{p.CompletionError(*m.InvocationID, "x"), p.CompletionVoid(*m.InvocationID)} {
					body, err := p.Unframe(out)
					require.NoError(t, err, "%q", out)
					_, err = p.ParseCompletion(body)
					require.NoError(t, err, "%q", out)
				}
			}
		}
	})
}

// FuzzMessagePackToJSON: the one MessagePack-to-JSON conversion never
// panics or recurses past the limit; what it writes is valid JSON within
// the limit, which converts back to MessagePack.
func FuzzMessagePackToJSON(f *testing.F) {
	for _, h := range []string{"82a16201a161c2", "83 01 02 ff a1 78 cd 0100 c0", "c403 010203", "d6ff 5e0be100", "d7ff 7735940000000000", "81 c3 01", "d401 00", "ca3dcccccd", "9191919190"} {
		b, _ := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		js, err := MessagePackToJSON(raw)
		if err != nil {
			if depthErr := CheckMessagePackDepth(raw); errors.Is(depthErr, ErrTooDeep) {
				require.ErrorIs(t, err, ErrTooDeep)
			}
			return
		}
		require.True(t, json.Valid(js), "%x became %q", raw, js)
		require.NoError(t, CheckJSONDepth(js))
		_, err = JSONToMessagePack(js)
		require.NoError(t, err, "%q", js)
	})
}

// FuzzCheckJSONDepth: on valid JSON the bracket count agrees with the
// depth encoding/json's tokenizer (which does not recurse) sees.
func FuzzCheckJSONDepth(f *testing.F) {
	for _, s := range []string{`[]`, `{"a":"[[[["}`, `[{"\\"":[1]}]`, `"\\\\"`, strings.Repeat("[", MaxNestingDepth) + strings.Repeat("]", MaxNestingDepth)} {
		f.Add([]byte(s))
	}
	// A million levels deep (generated: committed, it would be a 2 MB file).
	f.Add([]byte(strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)))
	f.Add([]byte(`{"a":` + strings.Repeat(`{"[":[`, 500_000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckJSONDepth(data)
		if !json.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		depth, deepest := 0, 0
		for {
			tok, terr := dec.Token()
			if terr != nil {
				break
			}
			switch tok {
			case json.Delim('['), json.Delim('{'):
				depth++
				deepest = max(deepest, depth)
			case json.Delim(']'), json.Delim('}'):
				depth--
			}
		}
		if deepest > MaxNestingDepth {
			require.ErrorIs(t, err, ErrTooDeep, "%d deep", deepest)
		} else {
			require.NoError(t, err, "%d deep", deepest)
		}
	})
}
