package signalrtest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// A trigger handler tested with httptest: the request is signed as the
// service signs it, and the Completion is read back in the client's
// protocol.
func ExampleUpstreamRequests() {
	cs, _ := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	up, _ := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: cs}})
	_ = up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "add"},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			var a, b int
			if err := inv.DecodeArguments(&a, &b); err != nil {
				return nil, err
			}
			return a + b, nil
		})

	for _, mp := range []bool{false, true} {
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, signalrtest.UpstreamRequests{MessagePack: mp}.Invoke("1", "add", 2, 3))
		c, err := signalrtest.ReadCompletion(rec.Body.Bytes())
		if err != nil {
			fmt.Println(err)
			return
		}
		var sum int
		_ = c.Result.Decode(&sum)
		fmt.Println(rec.Header().Get("Content-Type"), sum)
	}
	// Output:
	// application/json 5
	// application/x-msgpack 5
}

func TestUpstreamRequestsHeaders(t *testing.T) {
	t.Parallel()
	r := signalrtest.UpstreamRequests{}.Connected()
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, signalr.DefaultUpstreamPath, r.URL.Path)
	assert.Equal(t, "chat", r.Header.Get("X-ASRS-Hub"))
	assert.Equal(t, "conn-1", r.Header.Get("X-ASRS-Connection-Id"))
	assert.Equal(t, "connections", r.Header.Get("X-ASRS-Category"))
	assert.Equal(t, "connected", r.Header.Get("X-ASRS-Event"))
	assert.Equal(t, signalrtest.Signature("conn-1", emulator.DefaultAccessKey), r.Header.Get("X-ASRS-Signature"))
	assert.Empty(t, r.Header.Values("X-ASRS-User-Id"))
	body, _ := io.ReadAll(r.Body)
	assert.JSONEq(t, `{"type":10}`, string(body))

	r = signalrtest.UpstreamRequests{Hub: "game", ConnectionID: "c9", UserID: "u", Claims: map[string]string{"b": "2", "a": "1"}, Query: "?x=1", AccessKeys: []string{"k1", "k2"}}.Disconnected("gone")
	assert.Equal(t, "a: 1, b: 2", r.Header.Get("X-ASRS-User-Claims"))
	assert.Equal(t, "?x=1", r.Header.Get("X-ASRS-Client-Query"))
	assert.Equal(t, "u", r.Header.Get("X-ASRS-User-Id"))
	assert.Equal(t, signalrtest.Signature("c9", "k1", "k2"), r.Header.Get("X-ASRS-Signature"))
	body, _ = io.ReadAll(r.Body)
	assert.JSONEq(t, `{"Type":11,"Error":"gone"}`, string(body))

	r = signalrtest.UpstreamRequests{AccessKeys: []string{}}.Send("x")
	assert.Empty(t, r.Header.Values("X-ASRS-Signature"), "an empty key list leaves the request unsigned")
	body, _ = io.ReadAll(r.Body)
	assert.JSONEq(t, `{"type":1,"target":"x","arguments":[]}`, string(body))
}

func TestReadCompletionRejects(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"empty":            "",
		"no separator":     `{"type":3,"invocationId":"1"}`,
		"not a completion": "{\"type\":1,\"target\":\"x\"}\x1e",
		"bad JSON":         "{nope}\x1e",
		"bad prefix":       "\x09\x95",
		"msgpack type 1":   "\x06\x94\x01\x80\xa11\x02",
		"bad result kind":  "\x06\x94\x03\x80\xa11\x09",
	} {
		_, err := signalrtest.ReadCompletion([]byte(body))
		assert.Error(t, err, name)
	}
	c, err := signalrtest.ReadCompletion([]byte("\x06\x94\x03\x80\xa11\x02"))
	require.NoError(t, err)
	assert.Equal(t, signalrtest.Completion{InvocationID: "1", Result: c.Result}, c)
}

// TestReadCompletionRefusesDeepResults: a Completion whose result nests a
// million levels deep, in either protocol, is refused with
// signalr.ErrTooDeep rather than walked recursively.
func TestReadCompletionRefusesDeepResults(t *testing.T) {
	const depth = 1_000_000
	deepJSON := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	_, err := signalrtest.ReadCompletion([]byte(`{"type":3,"invocationId":"1","result":` + deepJSON + "}\x1e"))
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "JSON")
	// [3, {}, "1", 3, <deep>] with its length prefix.
	body := append([]byte{0x95, 0x03, 0x80, 0xa1, '1', 0x03}, append(bytes.Repeat([]byte{0x91}, depth), 0xc0)...)
	framed := append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	_, err = signalrtest.ReadCompletion(framed)
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "MessagePack")
}
