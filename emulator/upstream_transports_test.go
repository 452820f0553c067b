package emulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/signalr/emulator"
)

// TestUpstreamMessagePackInvocations: a MessagePack client's invocation
// goes upstream as application/x-msgpack, the bare MessagePack array
// without its length prefix, on every transport that carries MessagePack;
// the app's framed MessagePack Completion is relayed as is, and the
// emulator's own Completions (an error status, an empty answer) are
// MessagePack too.
func TestUpstreamMessagePackInvocations(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, call upstreamCall) {
		if call.Header.Get("X-ASRS-Category") != "messages" {
			return
		}
		var inv []any
		if err := msgpack.Unmarshal([]byte(call.Body), &inv); err != nil || len(inv) < 5 {
			http.Error(w, "not a MessagePack invocation", http.StatusBadRequest)
			return
		}
		id, _ := inv[2].(string)
		switch call.Header.Get("X-ASRS-Event") {
		case "echo":
			body, _ := msgpack.Marshal([]any{3, map[string]any{}, id, 3, inv[4]})
			w.Header().Set("Content-Type", "application/x-msgpack")
			_, _ = w.Write(append(varint(len(body)), body...))
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL)})
	for _, transport := range []string{webSockets, longPolling} {
		t.Run(transport, func(t *testing.T) {
			c := connectOn(t, s, "chat", "u1", transport, "messagepack")
			c.sendMessage("", []any{1, map[string]any{}, "1", "echo", []any{"héllo", 42, 2.5, nil, map[string]any{"k": []any{true}}}})
			m := c.next()
			require.Equal(t, 3, m.Type)
			assert.Equal(t, "1", m.InvocationID)
			assert.Equal(t, 3, m.ResultKind)
			result := m.Result.([]any)
			assert.Equal(t, "héllo", result[0])
			assert.Equal(t, int64(42), toInt64(t, result[1]))
			assert.Equal(t, 2.5, result[2])
			assert.Nil(t, result[3])
			assert.Equal(t, map[string]any{"k": []any{true}}, result[4])

			c.sendMessage("", []any{1, map[string]any{}, "2", "empty", []any{}})
			m = c.next()
			assert.Equal(t, "2", m.InvocationID)
			assert.Equal(t, 2, m.ResultKind, "a void Completion")

			c.sendMessage("", []any{1, map[string]any{}, "3", "missing", []any{}})
			m = c.next()
			assert.Equal(t, "3", m.InvocationID)
			assert.Equal(t, "Invocation failed, status code 404", m.Error)

			c.sendMessage("", []any{4, map[string]any{}, "4", "stream", []any{}})
			m = c.next()
			assert.Equal(t, "4", m.InvocationID)
			assert.Contains(t, m.Error, "Stream invocations are not forwarded")

			var sent *upstreamCall
			for _, call := range up.snapshot() {
				if call.Header.Get("X-ASRS-Connection-Id") == c.id && call.Header.Get("X-ASRS-Event") == "echo" {
					sent = &call
				}
			}
			require.NotNil(t, sent)
			assert.Equal(t, "application/x-msgpack", sent.Header.Get("Content-Type"))
			var inv []any
			require.NoError(t, msgpack.Unmarshal([]byte(sent.Body), &inv), "the body is the bare array, no length prefix")
			assert.Equal(t, int64(1), toInt64(t, inv[0]))
			assert.Equal(t, "1", inv[2])
			assert.Equal(t, "echo", inv[3])
			// Connection events stay JSON whatever the client speaks.
			for _, call := range up.snapshot() {
				if call.Header.Get("X-ASRS-Connection-Id") == c.id && call.Header.Get("X-ASRS-Category") == "connections" {
					assert.Equal(t, "application/json", call.Header.Get("Content-Type"))
					assert.Equal(t, `{"type":10}`, call.Body)
				}
			}
		})
	}
}

// TestUpstreamDisconnectedWhenLongPollingClientStopsPolling: a Long
// Polling client that stops polling is dropped after ClientTimeout, and
// the upstream hears it disconnected, with the reason.
func TestUpstreamDisconnectedWhenLongPollingClientStopsPolling(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), ClientTimeout: 300 * time.Millisecond})
	c := connectOn(t, s, "chat", "u1", longPolling, "json")
	require.Eventually(t, func() bool {
		return fmt.Sprint(up.eventsOf(c.id)) == "[connections/connected connections/disconnected]"
	}, 5*time.Second, 10*time.Millisecond, "events: %v", up.eventsOf(c.id))
	for _, call := range up.snapshot() {
		if call.Header.Get("X-ASRS-Event") == "disconnected" {
			assert.True(t, strings.HasPrefix(call.Body, `{"Type":11,"Error":`), call.Body)
			assert.Contains(t, call.Body, "client stopped polling")
		}
	}
}

// TestRest2024WithMessagePackClients: :invoke sends a MessagePack client
// a MessagePack Invocation with an id and answers with its MessagePack
// Completion's result as JSON; stream items and :execute's SendMessage
// reach it as MessagePack too; on Long Polling as on WebSockets.
func TestRest2024WithMessagePackClients(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, transport := range []string{webSockets, longPolling} {
		t.Run(transport, func(t *testing.T) {
			c := connectOn(t, s, "chat", "", transport, "messagepack")
			answer := invokeAsync(t, s, c.id, "ask", "question")
			m := c.next()
			require.Equal(t, 1, m.Type)
			assert.Equal(t, "ask", m.Target)
			assert.Equal(t, []any{"question"}, m.Arguments)
			id := c.lastInvocationID
			require.NotEmpty(t, id)
			c.sendMessage("", []any{3, map[string]any{}, id, 3, map[string]any{"n": 42, "f": 1.5, "s": "✓", "l": []any{nil, true}}})
			got := <-answer
			require.Equal(t, 200, got.status, got.body)
			assert.JSONEq(t, `{"result":{"n":42,"f":1.5,"s":"✓","l":[null,true]}}`, got.body)

			answer = invokeAsync(t, s, c.id, "ask", "again")
			c.next()
			c.sendMessage("", []any{3, map[string]any{}, c.lastInvocationID, 1, "no thanks"})
			got = <-answer
			assert.Equal(t, 500, got.status)
			assert.Equal(t, "Error.Invocation.ClientError", got.code)
			assert.Contains(t, got.body, "no thanks")

			base := "/api/hubs/chat/connections/" + c.id + "/streams/7/"
			wantStatus(t, rest(t, s, http.MethodPost, base+":send"+v2024+"&completed=true", `{"n":1}`), 202, "")
			item, err := c.read(5 * time.Second)
			require.NoError(t, err)
			assert.Equal(t, 2, item.Type)
			done := c.next()
			assert.Equal(t, 3, done.Type)
			assert.Equal(t, "7", done.InvocationID)
			assert.Equal(t, 2, done.ResultKind, "a void Completion ends the stream")

			wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:execute?api-version=2023-07-01",
				`[{"type":"SendMessage","message":{"target":"exec","arguments":[1,"two"]}}]`), 202, "")
			m = c.next()
			assert.Equal(t, "exec", m.Target)
			assert.Equal(t, int64(1), toInt64(t, m.Arguments[0]))
			assert.Equal(t, "two", m.Arguments[1])
			c.sendMessage("", []any{7, nil})
			c.wantEnded()
		})
	}
}
