package signalr

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// FuzzUpstreamBody feeds arbitrary bytes to the upstream body decoder of
// both protocols, as the Upstream calls it: it must never panic, must fail
// with hubproto.ErrNotUpstream, and what it accepts must be a well-formed
// message whose arguments decode and re-encode, and whose Completion is
// framed. (hubproto's FuzzUpstreamBody checks its fast JSON scanner
// against encoding/json.)
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
		for _, p := range []hubproto.Protocol{hubproto.JSON, hubproto.MessagePack} {
			m, err := decodeBody(p, body)
			if err != nil {
				require.True(t, errors.Is(err, hubproto.ErrNotUpstream), "error %v does not wrap hubproto.ErrNotUpstream", err)
				continue
			}
			switch m.Type {
			case hubproto.TypeOpenConnection, hubproto.TypeCloseConnection:
				require.False(t, len(m.Arguments) != 0 || m.Target != "", "a connection message carries an invocation: %+v", m)
			case hubproto.TypeInvocation:
				require.NotEmpty(t, m.Target, "an invocation without a target was accepted")
			default:
				require.FailNow(t, fmt.Sprintf("type %d was accepted", m.Type))
			}
			for i, a := range m.Arguments {
				var v any
				// A MessagePack argument is well-formed but may hold
				// what has no generic Go form (an unknown extension
				// type): its Decode may fail, but must not panic.
				if err := a.Decode(&v); err != nil && !a.IsMessagePack() {
					require.FailNow(t, fmt.Sprintf("argument %d (%x) was accepted but does not decode: %v", i, a.Raw(), err))
				}
				if a.IsMessagePack() {
					if _, err := msgpack.Marshal(a); err != nil {
						require.FailNow(t, fmt.Sprintf("argument %d does not re-encode: %v", i, err))
					}
				} else if raw, err := json.Marshal(a); err != nil || !json.Valid(raw) {
					require.FailNow(t, fmt.Sprintf("argument %d does not re-encode: %v", i, err))
				}
			}
			// The Completion for it is framed in either protocol.
			if js := encodeCompletion(hubproto.JSON, m.InvocationID, m.Arguments, nil); js[len(js)-1] != hubproto.RecordSeparator || !json.Valid(js[:len(js)-1]) {
				require.FailNow(t, fmt.Sprintf("JSON completion %q is not framed JSON", js))
			}
			if mp := encodeCompletion(hubproto.MessagePack, m.InvocationID, m.Arguments, nil); len(mp) < 2 || bytes.IndexByte(mp, 0x95) < 0 && bytes.IndexByte(mp, 0x94) < 0 {
				require.FailNow(t, fmt.Sprintf("MessagePack completion %x is not an array", mp))
			}
		}
	})
}
