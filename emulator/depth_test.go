package emulator_test

import (
	"bytes"
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
