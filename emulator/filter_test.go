package emulator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterSelects(t *testing.T) {
	subjects := map[string]*filterSubject{
		"alice": {connectionID: "c1", userID: "alice", inGroup: func(g string) bool { return g == "g1" || g == "it's" }},
		"bob":   {connectionID: "c2", userID: "bob", inGroup: func(g string) bool { return g == "g2" }},
		"anon":  {connectionID: "c3", inGroup: func(string) bool { return false }},
		"lst":   {connectionID: "c4", userID: "listener-1", inGroup: func(g string) bool { return g == "g1" }},
	}
	for _, tt := range []struct {
		filter string
		want   []string
	}{
		{"userId eq 'alice'", []string{"alice"}},
		{"UserID EQ 'alice'", []string{"alice"}},
		{"userId ne 'alice'", []string{"anon", "bob", "lst"}},
		{"userId eq null", []string{"anon"}},
		{"connectionId in ('c2', 'c3')", []string{"anon", "bob"}},
		{"'g1' in groups", []string{"alice", "lst"}},
		{"'it''s' in groups", []string{"alice"}},
		{"startswith(userId, 'listener-')", []string{"lst"}},
		{"not startswith(userId, 'listener-') and 'g1' in groups", []string{"alice"}},
		{"not ('g1' in groups or 'g2' in groups)", []string{"anon"}},
		{"userId eq 'bob' or userId eq 'alice' and 'g2' in groups", []string{"bob"}},
		{"(userId eq 'bob' or userId eq 'alice') and 'g2' in groups", []string{"bob"}},
		{"endswith(userId, 'ce') or contains(userId, 'ob')", []string{"alice", "bob"}},
		{"userId gt 'b'", []string{"bob", "lst"}},
		{"  ", []string{"alice", "anon", "bob", "lst"}},
	} {
		n, err := parseFilter(tt.filter)
		require.NoError(t, err, tt.filter)
		var got []string
		for _, name := range []string{"alice", "anon", "bob", "lst"} {
			if n == nil || n.eval(subjects[name]) {
				got = append(got, name)
			}
		}
		assert.Equal(t, tt.want, got, tt.filter)
	}
}

func TestFilterErrorsNameThePosition(t *testing.T) {
	for _, tt := range []struct {
		filter string
		pos    int
		text   string
	}{
		{"userId eq", 10, "expected userId, connectionId or a 'string'"},
		{"userId = 'a'", 8, "unexpected character '='"},
		{"userId eq 'a", 11, "not closed"},
		{"nickname eq 'a'", 1, "unknown identifier"},
		{"groups eq 'a'", 1, "collection"},
		{"userId eq 'a' xor userId eq 'b'", 15, "expected and, or"},
		{"startswith(userId 'a')", 19, "expected ','"},
		{"(userId eq 'a'", 15, "expected ')'"},
		{"'a' in users", 8, "expected groups or a list"},
		{"\xff", 1, "UTF-8"},
		{"é eq 'a'", 1, "unexpected character 'é'"},
		{"'é' eq userId or", 17, "expected userId"},
	} {
		_, err := parseFilter(tt.filter)
		var fe *filterError
		require.True(t, errors.As(err, &fe), "%q: %v", tt.filter, err)
		assert.Equal(t, tt.pos, fe.Pos, "%q: %v", tt.filter, err)
		assert.Contains(t, fe.Error(), tt.text, tt.filter)
	}
}

// FuzzParseFilter: the parser never panics, never recurses without bound,
// gives errors with a position inside the filter (or just after it), and
// whatever it accepts evaluates without panicking.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"userId eq 'a'", "'g1' in groups", "startswith(userId, 'x')", "not (a)", "connectionId in ('a', 'b''c')",
		"((((userId eq null))))", "userId eq 'a' and not 'g' in groups or connectionId ne 'c'", "'", "(", "é",
		// A million levels (refused by the length bound), and one past
		// the depth bound within it.
		strings.Repeat("(", 1_000_000) + "userId eq 'a'" + strings.Repeat(")", 1_000_000),
		strings.Repeat("not (", maxFilterDepth) + "userId eq 'a'" + strings.Repeat(")", maxFilterDepth),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseFilter(s)
		if err != nil {
			var fe *filterError
			if !errors.As(err, &fe) {
				t.Fatalf("%q: error %v is not a filterError", s, err)
			}
			if fe.Pos < 1 || fe.Pos > len([]rune(s))+1 {
				t.Fatalf("%q: position %d outside the filter", s, fe.Pos)
			}
			return
		}
		if n != nil {
			n.eval(&filterSubject{connectionID: "c", userID: "u", inGroup: func(string) bool { return true }})
			n.eval(&filterSubject{connectionID: "c", inGroup: func(string) bool { return false }})
		}
	})
}

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
			if commands != nil {
				t.Fatalf("%q: commands with a problem", body)
			}
			return
		}
		if len(commands) == 0 {
			t.Fatalf("%q: accepted an empty list", body)
		}
		for _, c := range commands {
			switch c.kind {
			case "SendMessage":
				record := c.msg.record(hubproto.JSON)
				if len(record) == 0 || record[len(record)-1] != hubproto.RecordSeparator {
					t.Fatalf("%q: bad record %q", body, record)
				}
				if len(c.msg.record(hubproto.MessagePack)) == 0 {
					t.Fatalf("%q: no MessagePack encoding", body)
				}
			case "JoinGroup", "LeaveGroup":
				if c.group == "" {
					t.Fatalf("%q: empty group", body)
				}
			case "CloseConnection":
			default:
				t.Fatalf("%q: kind %q", body, c.kind)
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
		if !a.failed && a.result != nil && !json.Valid(a.result) {
			t.Fatalf("%q: result %q is not JSON", record, a.result)
		}
		if len(table.byID) != 0 {
			t.Fatal("the invocation is still pending")
		}
	})
}
