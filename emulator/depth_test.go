package emulator_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deepDepth is how deep the hostile values of the depth tests nest.
const deepDepth = 1_000_000

// maxNestingDepth is signalr.MaxNestingDepth, which the emulator enforces.
const maxNestingDepth = 100

func deepJSON(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

func deepMessagePack(depth int) []byte {
	return append(bytes.Repeat([]byte{0x91}, depth), 0xc0)
}

// TestDeepMessageClosedWithReason: on every transport and protocol, an
// Invocation whose argument nests a million levels deep ends the
// connection with a Close naming the limit, and never reaches the
// upstream.
func TestDeepMessageClosedWithReason(t *testing.T) {
	up := newFakeUpstream(t, nil)
	// Messages of 4 MiB, so that the size bound lets the JSON one through
	// and the nesting bound is what refuses it.
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), MaxMessageSize: 4 << 20})
	for _, transport := range allTransportNames {
		for _, protocol := range []string{"json", "messagepack"} {
			if transport == serverSentEvents && protocol == "messagepack" {
				continue
			}
			t.Run(transport+"/"+protocol, func(t *testing.T) {
				c := connectOn(t, s, "deep", "", transport, protocol)
				frame := []byte(`{"type":1,"invocationId":"1","target":"forward","arguments":[` + deepJSON(deepDepth) + "]}\x1e")
				if protocol == "messagepack" {
					// [1, {}, "1", "forward", [<deep>]]
					body := append([]byte{0x95, 0x01, 0x80, 0xa1, '1', 0xa7, 'f', 'o', 'r', 'w', 'a', 'r', 'd', 0x91}, deepMessagePack(deepDepth)...)
					frame = append(varint(len(body)), body...)
				}
				require.NoError(t, c.w.send(frame))
				m := c.next()
				require.Equal(t, 7, m.Type, "a Close, not %+v", m)
				assert.Contains(t, m.Error, "more than "+strconv.Itoa(maxNestingDepth)+" deep")
				c.wantEnded()
				// Disconnected goes upstream after every event queued
				// before it.
				eventually(t, "disconnected reaches the upstream", func() bool {
					ev := up.eventsOf(c.id)
					return len(ev) > 0 && ev[len(ev)-1] == "connections/disconnected"
				})
				for _, call := range up.eventsOf(c.id) {
					assert.NotEqual(t, "messages/forward", call, "the deep invocation went upstream")
				}
			})
		}
	}
}

// TestDeepRESTBodiesRefused: every REST body the emulator decodes (sends to
// the hub, a user, a group or a connection, :invoke, stream items and
// :execute commands) is answered 400 naming the limit when it nests a
// million levels deep, and when it nests one level past the limit; at the
// limit it is accepted. The :execute filter has the same limit.
func TestDeepRESTBodiesRefused(t *testing.T) {
	s := newServer(t, &emulator.Options{MaxMessageSize: 4 << 20})
	c := connect(t, s, "chat", "alice")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/groups/g1/connections/"+c.id, ""), 200, "")
	send := func(args string) string { return `{"target":"t","arguments":[` + args + `]}` }
	execute := func(args string) string {
		return `[{"type":"SendMessage","message":` + send(args) + `}]`
	}
	item := func(args string) string { return args }
	routes := []struct {
		path string
		body func(string) string
		// depth is how deep the body nests around the argument.
		depth int
	}{
		{"/api/hubs/chat/:send", send, 2},
		{"/api/hubs/chat/users/alice/:send", send, 2},
		{"/api/hubs/chat/groups/g1/:send", send, 2},
		{"/api/hubs/chat/connections/" + c.id + "/:send", send, 2},
		{"/api/hubs/chat/connections/" + c.id + "/:invoke" + v2024, send, 2},
		{"/api/hubs/chat/connections/" + c.id + "/streams/7/:send" + v2024, item, 0},
		{"/api/hubs/chat/:execute?api-version=2023-07-01", execute, 4},
	}
	for _, r := range routes {
		for _, depth := range []int{deepDepth, maxNestingDepth - r.depth + 1} {
			resp := rest(t, s, "POST", r.path, r.body(deepJSON(depth)))
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, 400, resp.StatusCode, "%s, %d deep: %s", r.path, depth, body)
			assert.Contains(t, string(body), "more than "+strconv.Itoa(maxNestingDepth)+" deep", r.path)
		}
		if strings.Contains(r.path, ":invoke") {
			continue // it would wait for the client's answer
		}
		wantStatus(t, rest(t, s, "POST", r.path, r.body(deepJSON(maxNestingDepth-r.depth))), 202, "")
	}

	// The filter: 100,000 parentheses (a million do not fit in a URL) are
	// refused by its length bound, one level past the limit by its depth
	// bound; the limit itself (the outermost level counts as one) passes.
	filter := func(depth int) string {
		return strings.Repeat("(", depth) + "userId eq 'alice'" + strings.Repeat(")", depth)
	}
	cmd := `[{"type":"JoinGroup","group":"g2"}]`
	resp := rest(t, s, "POST", "/api/hubs/chat/:execute?api-version=2023-07-01&filter="+url.QueryEscape(filter(100_000)), cmd)
	assert.Equal(t, 400, resp.StatusCode)
	resp = rest(t, s, "POST", "/api/hubs/chat/:execute?api-version=2023-07-01&filter="+url.QueryEscape("not "+filter(maxNestingDepth)), cmd)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, string(body), "deeper than "+strconv.Itoa(maxNestingDepth)+" levels")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:execute?api-version=2023-07-01&filter="+url.QueryEscape(filter(maxNestingDepth-1)), cmd), 202, "")
	eventually(t, "alice joins g2", func() bool { return len(s.Emulator.Snapshot("chat").Groups["g2"]) == 1 })
}

// TestDeepSettingsRefused: a settings file nested a million levels deep is
// refused naming the limit.
func TestDeepSettingsRefused(t *testing.T) {
	_, err := emulator.ParseSettings([]byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://x","x":` + deepJSON(deepDepth) + `}]}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than "+strconv.Itoa(maxNestingDepth)+" deep")
}

// TestDeepTokenRefused: a token whose claims nest 300,000 levels deep (a
// million do not fit in a request header) is refused naming the limit
// before golang-jwt decodes it, on the REST API and on negotiate.
func TestDeepTokenRefused(t *testing.T) {
	s := newServer(t, nil)
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":` + deepJSON(300_000) + `}`))
	token := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + claims + ".c2ln"
	for _, path := range []string{"/api/hubs/chat/:send", "/client/negotiate?hub=chat"} {
		resp := restWithToken(t, s, "POST", path, sendBody("t", "x"), token)
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, 401, resp.StatusCode, "%s: %s", path, body)
		assert.Contains(t, string(body), "more than "+strconv.Itoa(maxNestingDepth)+" deep", path)
	}
}
