package emulator

import (
	"encoding/json"
	"testing"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutMessageEncodedOncePerProtocol: however many connections get a
// message, each protocol's encoding is made once and shared.
func TestOutMessageEncodedOncePerProtocol(t *testing.T) {
	t.Parallel()
	m := newOutMessage("t", json.RawMessage(`[1]`))
	a, b := m.record(hubproto.MessagePack), m.record(hubproto.MessagePack)
	require.NotEmpty(t, a)
	assert.Same(t, &a[0], &b[0])
	j1, j2 := m.record(hubproto.JSON), m.record(hubproto.JSON)
	assert.Same(t, &j1[0], &j2[0])
	assert.Equal(t, "{\"type\":1,\"target\":\"t\",\"arguments\":[1]}\x1e", string(j1))
}
