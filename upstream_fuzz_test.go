package signalr

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzUpstreamBody feeds arbitrary bytes to both upstream body decoders:
// they must never panic, must fail with errNotServerless, and what they
// accept must be a well-formed message whose arguments decode.
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
	f.Fuzz(func(t *testing.T, body []byte) {
		// Differential: whenever the fast scanner accepts a body,
		// encoding/json reads the same fields from it.
		if typ, id, target, errText, args, ok := scanJSONBody(body); ok {
			slow := struct {
				Type         int        `json:"type"`
				InvocationID string     `json:"invocationId"`
				Target       string     `json:"target"`
				Arguments    []Argument `json:"arguments"`
				Error        string     `json:"error"`
			}{Type: -1}
			if err := json.Unmarshal(body, &slow); err != nil {
				t.Fatalf("scanner accepted %q, encoding/json rejects it: %v", body, err)
			}
			if slow.Type != typ || slow.InvocationID != id || slow.Target != target || slow.Error != errText || len(slow.Arguments) != len(args) {
				t.Fatalf("scanner read %d %q %q %q %d args, encoding/json %d %q %q %q %d args from %q",
					typ, id, target, errText, len(args), slow.Type, slow.InvocationID, slow.Target, slow.Error, len(slow.Arguments), body)
			}
			for i := range args {
				if !bytes.Equal(args[i].Raw(), slow.Arguments[i].Raw()) {
					t.Fatalf("argument %d: scanner %q, encoding/json %q", i, args[i].Raw(), slow.Arguments[i].Raw())
				}
			}
		}
		for _, decode := range []func([]byte) (serverlessMessage, error){decodeJSONBody, decodeMsgpackBody} {
			m, err := decode(body)
			if err != nil {
				if !errors.Is(err, errNotServerless) {
					t.Fatalf("error %v does not wrap errNotServerless", err)
				}
				continue
			}
			switch m.Type {
			case messageOpen, messageClose:
				if len(m.Arguments) != 0 || m.Target != "" {
					t.Fatalf("a connection message carries an invocation: %+v", m)
				}
			case messageInvocation:
				if m.Target == "" {
					t.Fatal("an invocation without a target was accepted")
				}
			default:
				t.Fatalf("type %d was accepted", m.Type)
			}
			for i, a := range m.Arguments {
				var v any
				// A MessagePack argument is well-formed but may hold
				// what has no generic Go form (an unknown extension
				// type): its Decode may fail, but must not panic.
				if err := a.Decode(&v); err != nil && !a.IsMessagePack() {
					t.Fatalf("argument %d (%x) was accepted but does not decode: %v", i, a.Raw(), err)
				}
				if a.IsMessagePack() {
					if _, err := msgpack.Marshal(a); err != nil {
						t.Fatalf("argument %d does not re-encode: %v", i, err)
					}
				} else if raw, err := json.Marshal(a); err != nil || !json.Valid(raw) {
					t.Fatalf("argument %d does not re-encode: %v", i, err)
				}
			}
			// The Completion for it is framed in either protocol.
			if js := encodeJSONCompletion(m.InvocationID, m.Arguments, nil); js[len(js)-1] != recordSeparator || !json.Valid(js[:len(js)-1]) {
				t.Fatalf("JSON completion %q is not framed JSON", js)
			}
			if mp := encodeMsgpackCompletion(m.InvocationID, m.Arguments, nil); len(mp) < 2 || bytes.IndexByte(mp, 0x95) < 0 && bytes.IndexByte(mp, 0x94) < 0 {
				t.Fatalf("MessagePack completion %x is not an array", mp)
			}
		}
	})
}
