package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/stretchr/testify/require"
)

// FuzzParseCommands: the :execute body parser never panics, and every
// command it accepts is one of the four types with what that type needs.
func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{
		`[{"type":"JoinGroup","group":"g"},{"type":"SendMessage","message":{"target":"t","arguments":[1]}},{"type":"LeaveGroup","group":"g"},{"type":"CloseConnection","reason":"r"}]`,
		`[{"TYPE":"closeconnection"}]`, `[]`, `{}`, `[null]`, `[{"type":"SendMessage","message":null}]`, `[{"type":"JoinGroup","group":"   "}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		commands, problem := parseCommands(body)
		if problem != "" {
			require.Nil(t, commands, "%q: commands with a problem", body)
			return
		}
		require.NotEmpty(t, commands, "%q: accepted an empty list", body)
		for _, c := range commands {
			switch c.kind {
			case "SendMessage":
				record := c.msg.record(hubproto.JSON)
				require.False(t, len(record) == 0 || record[len(record)-1] != hubproto.RecordSeparator, "%q: bad record %q", body, record)
				require.False(t, len(c.msg.record(hubproto.MessagePack)) == 0, "%q: no MessagePack encoding", body)
			case "JoinGroup", "LeaveGroup":
				require.NotEmpty(t, c.group, "%q: empty group", body)
			case "CloseConnection":
			default:
				require.FailNow(t, fmt.Sprintf("%q: kind %q", body, c.kind))
			}
		}
	})
}

// FuzzCompletion: whatever a client sends as a Completion, handing it to a
// waiting invocation never panics or blocks, and answers it exactly once.
func FuzzCompletion(f *testing.F) {
	f.Add([]byte(`{"type":3,"invocationId":"1","result":42}`))
	f.Add([]byte(`{"type":3,"invocationId":"1","error":"x"}`))
	f.Add([]byte(`{"type":3,"invocationId":"1","error":null,"result":[1,{}]}`))
	f.Add([]byte(`{"type":3,"invocationId":"1","result":` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `}`)) // a million levels deep
	f.Fuzz(func(t *testing.T, record []byte) {
		table := invocationTable{byID: map[string]*pendingInvocation{}}
		c := &connection{}
		id, p := table.add(c)
		msg, err := hubproto.JSON.Parse(record)
		if err != nil || msg.InvocationID == nil || *msg.InvocationID != id {
			msg = hubproto.Message{Type: hubproto.TypeCompletion, InvocationID: &id}
		}
		table.complete(c, msg, record)
		table.complete(c, msg, record) // a second Completion is ignored
		a := <-p.answer
		require.False(t, !a.failed && a.result != nil && !json.Valid(a.result), "%q: result %q is not JSON", record, a.result)
		require.Empty(t, table.byID, "the invocation is still pending")
	})
}
