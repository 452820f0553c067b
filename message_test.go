package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMessageJSONNames(t *testing.T) {
	t.Parallel()
	m := Message{Target: "newMessage", Arguments: []any{"hi", 1}, UserID: "u1"}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"target":"newMessage","arguments":["hi",1],"userId":"u1"}`, string(b))

	b, err = json.Marshal(Message{Target: "t"})
	require.NoError(t, err)
	assert.Equal(t, `{"target":"t","arguments":[]}`, string(b), "nil arguments must be written as []")

	b, err = json.Marshal(Message{Target: "t", GroupName: "g", Excluded: []string{"c1"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"target":"t","arguments":[],"groupName":"g","excluded":["c1"]}`, string(b))
}

func TestMessageUnmarshalCaseInsensitive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"functions camelCase", `{"target":"t","arguments":[1,"a"],"userId":"u"}`, Message{Target: "t", Arguments: []any{json.Number("1"), "a"}, UserID: "u"}},
		{".NET PascalCase", `{"Target":"t","Arguments":[true],"GroupName":"g"}`, Message{Target: "t", Arguments: []any{true}, GroupName: "g"}},
		{"upper case", `{"TARGET":"t","CONNECTIONID":"c"}`, Message{Target: "t", ConnectionID: "c"}},
		{"nulls are absent", `{"target":"t","arguments":null,"userId":null}`, Message{Target: "t"}},
		{"endpoints honoured", `{"target":"t","endpoints":[{"name":"x","endpointType":"Secondary"}]}`, Message{Target: "t", Endpoints: []EndpointInfo{{Name: "x", EndpointType: Secondary}}}},
		{"big numbers keep their digits", `{"target":"t","arguments":[12345678901234567890]}`, Message{Target: "t", Arguments: []any{json.Number("12345678901234567890")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			require.NoError(t, json.Unmarshal([]byte(tt.in), &m))
			assert.Equal(t, tt.want, m)
		})
	}
}

func TestMessageUnmarshalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, field string
	}{
		{`{"target":1}`, `"target"`},
		{`{"target":"t","userId":5}`, `"userId"`},
		{`{"target":"t","arguments":{"a":1}}`, "arguments"},
		{`{"target":"t","Target":"u"}`, `"Target" and "target"`},
		{`{"target":"t","excluded":"c1"}`, "excluded"},
		{`["target"]`, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var m Message
			err := json.Unmarshal([]byte(tt.in), &m)
			require.ErrorIs(t, err, ErrInvalidMessage)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		m     Message
		field string // "" means valid
		also  error
	}{
		{"broadcast", Message{Target: "t"}, "", nil},
		{"user", Message{Target: "t", UserID: "u"}, "", nil},
		{"group with excluded", Message{Target: "t", GroupName: "g", Excluded: []string{"c"}}, "", nil},
		{"empty target", Message{UserID: "u"}, "target", nil},
		{"blank target", Message{Target: "  "}, "target", nil},
		{"user and group", Message{Target: "t", UserID: "u", GroupName: "g"}, "both userId and groupName", nil},
		{"user and connection", Message{Target: "t", UserID: "u", ConnectionID: "c"}, "both userId and connectionId", nil},
		{"group and connection", Message{Target: "t", GroupName: "g", ConnectionID: "c"}, "both groupName and connectionId", nil},
		{"all three", Message{Target: "t", UserID: "u", GroupName: "g", ConnectionID: "c"}, "userId, groupName and connectionId", nil},
		{"blank group", Message{Target: "t", GroupName: " \t"}, "groupName", ErrInvalidGroupName},
		{"long group", Message{Target: "t", GroupName: strings.Repeat("g", 1025)}, "groupName", ErrInvalidGroupName},
		{"excluded with user", Message{Target: "t", UserID: "u", Excluded: []string{"c"}}, "excluded", nil},
		{"empty excluded id", Message{Target: "t", Excluded: []string{"c", ""}}, "excluded[1]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidMessage)
			assert.Contains(t, err.Error(), tt.field)
			if tt.also != nil {
				assert.ErrorIs(t, err, tt.also)
			}
		})
	}
}

func TestGroupActionJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(GroupAction{Action: GroupActionRemoveAll, UserID: "u"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"action":"removeAll","userId":"u"}`, string(b))

	b, err = json.Marshal(GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: 90 * time.Second})
	require.NoError(t, err)
	assert.JSONEq(t, `{"action":"add","userId":"u","groupName":"g","ttl":90}`, string(b))

	for _, in := range []string{
		`{"action":"ADD","userId":"u","groupName":"g"}`,
		`{"Action":"Add","UserId":"u","GroupName":"g"}`,
		`{"action":"add","userId":"u","groupName":"g","connectionId":null}`,
	} {
		var a GroupAction
		require.NoError(t, json.Unmarshal([]byte(in), &a), in)
		assert.Equal(t, GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g"}, a, in)
	}
	var a GroupAction
	require.NoError(t, json.Unmarshal([]byte(`{"action":"REMOVEALL","connectionId":"c","ttl":null}`), &a))
	assert.Equal(t, GroupAction{Action: GroupActionRemoveAll, ConnectionID: "c"}, a)

	for in, field := range map[string]string{
		`{"action":"join","userId":"u"}`:                 `"join"`,
		`{"action":1,"userId":"u"}`:                      `"action"`,
		`{"action":"add","userId":"u","ttl":-1}`:         "ttl",
		`{"action":"add","userId":"u","ttl":1.5}`:        "ttl",
		`{"action":"add","userId":"u","USERID":"v"}`:     `"USERID" and "userId"`,
		`{"action":"add","userId":"u","groupName":true}`: `"groupName"`,
	} {
		var a GroupAction
		err := json.Unmarshal([]byte(in), &a)
		require.ErrorIs(t, err, ErrInvalidGroupAction, in)
		assert.Contains(t, err.Error(), field, in)
	}
}

func TestGroupActionValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		a     GroupAction
		field string
	}{
		{"add user", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g"}, ""},
		{"add user with ttl", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: time.Minute}, ""},
		{"remove connection", GroupAction{Action: GroupActionRemove, ConnectionID: "c", GroupName: "g"}, ""},
		{"removeAll user", GroupAction{Action: GroupActionRemoveAll, UserID: "u"}, ""},
		{"removeAll connection", GroupAction{Action: GroupActionRemoveAll, ConnectionID: "c"}, ""},
		{"mixed-case action", GroupAction{Action: "Remove", UserID: "u", GroupName: "g"}, ""},
		{"no action", GroupAction{UserID: "u", GroupName: "g"}, "action is empty"},
		{"unknown action", GroupAction{Action: "join", UserID: "u", GroupName: "g"}, `action "join"`},
		{"user and connection", GroupAction{Action: GroupActionAdd, UserID: "u", ConnectionID: "c", GroupName: "g"}, "both userId and connectionId"},
		{"neither", GroupAction{Action: GroupActionAdd, GroupName: "g"}, "neither userId nor connectionId"},
		{"add without group", GroupAction{Action: GroupActionAdd, UserID: "u"}, "groupName"},
		{"remove with blank group", GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: " "}, "groupName"},
		{"removeAll with group", GroupAction{Action: GroupActionRemoveAll, UserID: "u", GroupName: "g"}, "groupName"},
		{"ttl on connection", GroupAction{Action: GroupActionAdd, ConnectionID: "c", GroupName: "g", TTL: time.Minute}, "ttl"},
		{"ttl on remove", GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: "g", TTL: time.Minute}, "ttl"},
		{"sub-second ttl", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: time.Millisecond}, "ttl"},
		{"negative ttl", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: -time.Second}, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Validate()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidGroupAction)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestParseOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []OutputItem
	}{
		{"js array", `[{"target":"newMessage","arguments":["x"]},{"userId":"u","groupName":"g","action":"add"}]`,
			[]OutputItem{Message{Target: "newMessage", Arguments: []any{"x"}}, GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g"}}},
		{"single object", `{"target":"t","groupName":"g"}`, []OutputItem{Message{Target: "t", GroupName: "g"}}},
		{"python json.dumps string", `"{\"userId\": \"u\", \"groupName\": \"g\", \"action\": \"remove\"}"`,
			[]OutputItem{GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: "g"}}},
		{".NET casing", `{"Target":"t","Arguments":[]}`, []OutputItem{Message{Target: "t", Arguments: []any{}}}},
		{"null target means group action", `{"target":null,"action":"removeAll","userId":"u"}`, []OutputItem{GroupAction{Action: GroupActionRemoveAll, UserID: "u"}}},
		{"null", `null`, nil},
		{"empty array", ` [] `, []OutputItem{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOutput([]byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseOutputErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		sentinel error
		text     string
	}{
		{`{"target":"t","action":"add","userId":"u","groupName":"g"}`, ErrInvalidOutputItem, "both"},
		{`{"userId":"u"}`, ErrInvalidOutputItem, "neither"},
		{`[{"target":"t"}, 5]`, ErrInvalidOutputItem, "output item 1"},
		{`[{"target":"t"}, {"target":"t","userId":"u","groupName":"g"}]`, ErrInvalidMessage, "output item 1"},
		{`{"action":"add","userId":"u"}`, ErrInvalidGroupAction, "groupName"},
		{`{"target":`, ErrInvalidOutputItem, "not valid JSON"},
		{`"\"x\""`, ErrInvalidOutputItem, "string holding a string"},
		{`"plain text"`, ErrInvalidOutputItem, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseOutput([]byte(tt.in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.sentinel), "%v should wrap %v", err, tt.sentinel)
			assert.Contains(t, err.Error(), tt.text)
		})
	}
}

func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{
		`[{"target":"newMessage","arguments":["x",1,{"a":[null]}]},{"userId":"u","groupName":"g","action":"add"}]`,
		`{"Target":"t","Arguments":[],"ConnectionId":"c"}`,
		`"{\"action\":\"removeAll\",\"connectionId\":\"c\"}"`,
		`{"target":"t","action":"add"}`,
		`{"action":"add","userId":"u","groupName":"g","ttl":30}`,
		`{"target":"t","groupName":"g","excluded":["a","b"]}`,
		`null`, `[]`, `5`, `[[]]`,
		// A million levels deep (generated: committed, it would be a 2 MB file).
		`[{"target":"t","arguments":[` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseOutput(data)
		if err != nil {
			require.False(t, !errors.Is(err, ErrInvalidOutputItem) && !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrInvalidGroupAction), "error %v wraps no output sentinel", err)
			return
		}
		for _, it := range items {
			if err := it.Validate(); err != nil {
				require.FailNow(t, fmt.Sprintf("ParseOutput returned an invalid item %#v: %v", it, err))
			}
			// What we write, we read back the same.
			b, err := json.Marshal(it)
			require.NoError(t, err, "marshal %#v: %v", it, err)
			again, err := parseOutputItem(b)
			require.NoError(t, err, "re-parse %s: %v", b, err)
			b2, _ := json.Marshal(again)
			require.False(t, string(b) != string(b2), "round trip changed %s into %s", b, b2)
		}
	})
}

func TestGroupActionTypeUnmarshalText(t *testing.T) {
	t.Parallel()
	var got struct {
		A GroupActionType `json:"a"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"a":"RemoveAll"}`), &got))
	assert.Equal(t, GroupActionRemoveAll, got.A)
	err := json.Unmarshal([]byte(`{"a":"join"}`), &got)
	require.ErrorIs(t, err, ErrInvalidGroupAction)
	assert.Contains(t, err.Error(), `"add", "remove" or "removeAll"`)
}

// The reflection-free body for snapshot arguments is byte for byte what
// json.Marshal writes, and is used only where that holds.
func FuzzSendBodyMatchesMarshal(f *testing.F) {
	f.Add("newMessage", `"a"`, `{"k":[1,2]}`)
	f.Add("t", `"<b>&"`, ` 1 `)
	f.Add("t\u2028", "\"\u2028\"", `[1, 2]`)
	f.Add("t", `"\u003c"`, `nul`)
	f.Fuzz(func(t *testing.T, target, a, b string) {
		args := []any{json.RawMessage(a), json.RawMessage(b)}
		want, wantErr := json.Marshal(restPayload{Target: target, Arguments: args})
		got, err := encodeSendBody(target, args)
		if wantErr != nil {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	})
}

func TestSendBodyFastPathTakesSnapshots(t *testing.T) {
	t.Parallel()
	m, body, err := snapshotMessage(Message{Target: "newMessage", Arguments: []any{"<hi>", 1, map[string]any{"k": []int{1}}}})
	require.NoError(t, err)
	b, ok := appendSendBody(nil, m.Target, m.Arguments)
	require.True(t, ok, "a snapshot's arguments are in json.Marshal's form")
	assert.Equal(t, `{"target":"newMessage","arguments":["\u003chi\u003e",1,{"k":[1]}]}`, string(b))
	assert.Equal(t, string(b), string(body), "the body encoded at Add is the one SendMessage would encode")
	_, ok = appendSendBody(nil, "t", []any{"not raw"})
	assert.False(t, ok)
}

// A snapshot without arguments sends an empty array; a target that JSON
// escapes leaves the body to SendMessage.
func TestSnapshotBody(t *testing.T) {
	t.Parallel()
	m, body, err := snapshotMessage(Message{Target: "ping"})
	require.NoError(t, err)
	assert.Nil(t, m.Arguments)
	assert.Equal(t, `{"target":"ping","arguments":[]}`, string(body))
	m, body, err = snapshotMessage(Message{Target: "a<b", Arguments: []any{1}})
	require.NoError(t, err)
	assert.Nil(t, body)
	assert.Equal(t, []any{json.RawMessage("1")}, m.Arguments)
}

// appendPlainJSON writes exactly what json.Marshal writes, and takes every
// string json.Marshal copies unchanged.
func FuzzAppendPlainJSON(f *testing.F) {
	f.Add("hello", 1.5, int64(-3), float32(0.1), uint64(7))
	f.Add("<&>", 1e-7, int64(0), float32(1e21), uint64(0))
	f.Add("a\u2028b\xff", 1e21, int64(-1<<63), float32(1e-7), uint64(1<<63))
	f.Add("é\"\\\n", math.Copysign(0, -1), int64(42), float32(-2.5e-8), uint64(255))
	f.Add("\xe2\x80", 123456789.0, int64(1), float32(3.4e38), uint64(1))
	f.Fuzz(func(t *testing.T, s string, f64 float64, i int64, f32 float32, u uint64) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want) == `"`+s+`"`, plainString(s), "plainString(%q)", s)
		for _, v := range []any{s, f64, i, f32, u, int(i), int32(i), int16(i), int8(i), uint(u), uint32(u), uint16(u), uint8(u), i%2 == 0, nil} {
			got, ok := appendPlainJSON([]byte("x"), v)
			want, err := json.Marshal(v)
			if !ok {
				assert.Equal(t, "x", string(got), "nothing appended for %T %v", v, v)
				_, isString := v.(string)
				assert.True(t, err != nil || isString, "%T %v declined but json.Marshal writes it", v, v)
				continue
			}
			require.NoError(t, err)
			assert.Equal(t, "x"+string(want), string(got), "%T %v", v, v)
		}
	})
}

// What a *Client sends for a Collector's message, the body encoded when it
// was added, is byte for byte what SendMessage encodes from the message the
// Collector hands other Senders.
func TestSnapshotBodyIsTheSendBody(t *testing.T) {
	t.Parallel()
	for _, m := range []Message{
		{Target: "ping"},
		{Target: "newMessage", Arguments: []any{"<hi> & \u2028", 1, -2.5, true, nil}},
		{Target: "newMessage", Arguments: []any{"é\"\\\n", int64(-1 << 63), uint8(7), float32(0.1)}},
		{Target: "newMessage", Arguments: []any{map[string]any{"k": []int{1}}}, UserID: "u"},
		{Target: "a<b", Arguments: []any{1}},
	} {
		p, err := snapshotItem(m)
		require.NoError(t, err)
		want, err := encodeSendBody(m.Target, p.message().Arguments)
		require.NoError(t, err)
		if p.restBody {
			assert.Equal(t, string(want), string(p.body), "%+v", m)
		}
	}
	p, err := snapshotItem(Message{Target: "newMessage", Arguments: []any{"x", 1}})
	require.NoError(t, err)
	assert.True(t, p.restBody, "a plain message goes as encoded at Add")
}
