package emulator

import (
	"bytes"
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
