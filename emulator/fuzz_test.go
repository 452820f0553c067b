package emulator

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

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
			records, err := s.split(frame)
			require.NoError(t, err)
			for _, r := range records {
				got = append(got, append([]byte(nil), r...))
			}
		}
		parts := bytes.Split(stream, []byte{recordSeparator})
		want := parts[:len(parts)-1] // the last part has no separator yet
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, string(want[i]), string(got[i]), "record %d", i)
		}
		require.Equal(t, string(parts[len(parts)-1]), string(s.pending()), "pending tail")
	})
}

// FuzzRouteMatching checks that any user and group id, escaped as the SDKs
// escape path segments, maps to exactly the route and ids intended, in both
// API versions.
func FuzzRouteMatching(f *testing.F) {
	f.Add("alice", "members")
	f.Add("a/../b?c#d%", ":send")
	f.Add("..", "groups")
	f.Add("users", "%2F")
	f.Fuzz(func(t *testing.T, user, group string) {
		if user == "" || group == "" {
			return
		}
		for _, version := range []apiVersion{api2022, apiV1} {
			table := routeTables[version]
			u, g := url.PathEscape(user), url.PathEscape(group)
			cases := []struct {
				method, path string
				op           restOp
				want         routeParams
			}{
				{"POST", "hubs/chat/users/" + u + "/:send", opSendUser, routeParams{hub: "chat", user: user}},
				{"POST", "hubs/chat/groups/" + g, opSendGroup, routeParams{hub: "chat", group: group}},
				{"PUT", "hubs/chat/users/" + u + "/groups/" + g, opAddUserToGroup, routeParams{hub: "chat", user: user, group: group}},
				{"GET", "hubs/chat/groups/" + g + "/users/" + u, opUserInGroup, routeParams{hub: "chat", user: user, group: group}},
				{"DELETE", "hubs/chat/users/" + u + "/groups", opRemoveUserFromAllGroups, routeParams{hub: "chat", user: user}},
				{"DELETE", "hubs/chat/connections/" + u + "/groups/" + g, opRemoveConnectionFromGroup, routeParams{hub: "chat", connection: user, group: group}},
			}
			for _, tc := range cases {
				route, p, result := matchRoute(table, tc.method, tc.path)
				require.Equal(t, routeFound, result, "%s %s", tc.method, tc.path)
				require.Equal(t, tc.op, route.op, "%s %s", tc.method, tc.path)
				require.Equal(t, tc.want, p, "%s %s", tc.method, tc.path)
			}
		}
	})
}

// FuzzParseSendBody checks that whatever a REST body holds, an accepted one
// yields a record the JSON hub protocol can carry.
func FuzzParseSendBody(f *testing.F) {
	f.Add([]byte(`{"target":"m","arguments":[1,"two",{"3":null}]}`))
	f.Add([]byte(`{"Target":"m"}`))
	f.Add([]byte(`{"target":"m","arguments":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		target, arguments, problem := parseSendBody(body)
		if problem != "" {
			return
		}
		require.NotEmpty(t, target, "accepted an empty target")
		record := encodeInvocation(target, arguments)
		require.Equal(t, len(record)-1, bytes.IndexByte(record, recordSeparator), "record %q has a separator inside", record)
		m, err := parseClientMessage(record[:len(record)-1])
		require.NoError(t, err, "record %q", record)
		require.Equal(t, typeInvocation, m.Type)
		require.Equal(t, target, m.Target)
	})
}

// FuzzMessagePackFrameReader feeds a stream of length-prefixed messages cut
// into frames at arbitrary points: whatever the cuts, the messages come
// out the same as from the whole stream at once, and nothing panics.
func FuzzMessagePackFrameReader(f *testing.F) {
	f.Add(frameMessagePack([]byte{0x91, 0x06}), uint8(1))
	f.Add(append(frameMessagePack(bytes.Repeat([]byte{'a'}, 200)), frameMessagePack([]byte{0x92, 0x07, 0xc0})...), uint8(3))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, uint8(2))
	f.Add([]byte{0xff, 0x7f}, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		const limit = 4096
		whole := &lengthPrefixedReader{limit: limit}
		want, wantErr := whole.split(append([]byte(nil), stream...))
		var wantCopy [][]byte
		for _, m := range want {
			wantCopy = append(wantCopy, append([]byte(nil), m...))
		}

		r := &lengthPrefixedReader{limit: limit}
		var got [][]byte
		var gotErr error
		step := int(cut%32) + 1
		for i := 0; i < len(stream) && gotErr == nil; i += step {
			msgs, err := r.split(append([]byte(nil), stream[i:min(i+step, len(stream))]...))
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
			_, _ = parseMessagePackMessage(m) // must not panic
		}
	})
}

// FuzzHTTPSendBody feeds a POST body, as SSE and Long Polling clients send
// it, through the reader and parser of each protocol: nothing panics, and
// a MessagePack message accepted is one whole, well-formed value.
func FuzzHTTPSendBody(f *testing.F) {
	f.Add([]byte("{\"type\":1,\"target\":\"t\",\"arguments\":[]}\x1e{\"type\":6}\x1e"), false)
	f.Add([]byte("\x1e\x1e"), false)
	inv, _ := encodeMessagePackInvocation("t", []byte(`[1,"x",{"k":[null,true,2.5]}]`))
	f.Add(inv, true)
	f.Add(append(frameMessagePack([]byte{0x95, 0x01, 0x80, 0xa1, '1', 0xa1, 't', 0x90}), msgpackPingRecord...), true)
	f.Add(frameMessagePack([]byte{0x91, 0x91, 0x91, 0x91}), true)
	f.Add(frameMessagePack([]byte{0x95, 0x03, 0x80, 0xa1, '1', 0x03, 0x82, 0xa1, 'k', 0xc4, 0x01, 0x00, 0xa1, 'n', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}), true)
	f.Fuzz(func(t *testing.T, body []byte, binary bool) {
		p := protocolJSON
		if binary {
			p = protocolMessagePack
		}
		records, err := p.newReader(1 << 16).split(body)
		if err != nil {
			return
		}
		for _, rec := range records {
			m, err := p.parse(rec)
			if err != nil {
				continue
			}
			require.NotZero(t, m.Type)
			if binary {
				end, err := skipMessagePack(rec, 0)
				require.NoError(t, err)
				require.Equal(t, len(rec), end)
			}
			if m.Type == typeCompletion {
				// What :invoke makes of a client's Completion: valid JSON,
				// or an error; never a panic.
				result, _, err := p.completionResult(rec)
				if err == nil && result != nil {
					require.True(t, json.Valid(result), "result %q", result)
				}
			}
			if m.Type == typeInvocation && m.InvocationID != nil {
				// The answer the emulator would send is well formed.
				out := p.completionError(*m.InvocationID, "x")
				require.NotEmpty(t, out)
			}
		}
	})
}

// FuzzSSEEvent checks that any frame written as a Server-Sent Event comes
// back whole when parsed as EventSource does (lines joined with "\n"),
// for frames without a carriage return (hub protocol frames have none
// outside JSON strings, where it is escaped).
func FuzzSSEEvent(f *testing.F) {
	f.Add([]byte("{\"type\":6}\x1e"))
	f.Add([]byte("a\nb\n\nc\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if bytes.IndexByte(frame, '\r') >= 0 {
			return
		}
		event := appendEvent(nil, frame)
		require.True(t, bytes.HasSuffix(event, []byte("\r\n\r\n")), "an event ends with an empty line")
		var data [][]byte
		lines := bytes.Split(bytes.TrimSuffix(event, []byte("\r\n\r\n")), []byte("\r\n"))
		for _, line := range lines {
			require.True(t, bytes.HasPrefix(line, []byte("data: ")), "line %q", line)
			data = append(data, bytes.TrimPrefix(line, []byte("data: ")))
		}
		require.Equal(t, string(frame), string(bytes.Join(data, []byte("\n"))))
	})
}
