package emulator

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/stretchr/testify/require"
)

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
		record := newOutMessage(target, arguments).record(hubproto.JSON)
		require.Equal(t, len(record)-1, bytes.IndexByte(record, hubproto.RecordSeparator), "record %q has a separator inside", record)
		m, err := hubproto.JSON.Parse(record[:len(record)-1])
		require.NoError(t, err, "record %q", record)
		require.Equal(t, hubproto.TypeInvocation, m.Type)
		require.Equal(t, target, m.Target)
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
