package hubproto

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHotPathAllocations pins the allocations of what runs per message:
// a JSON broadcast or Completion is one allocation (the record itself),
// and the fast JSON upstream path allocates no more than it did in the
// root package before it moved here (7 for this body then: its keys,
// strings and the argument slice). Counts, not timings, so this holds on
// any machine.
func TestHotPathAllocations(t *testing.T) {
	args := []byte(`["hello",42]`)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = JSON.Invocation("", "newMessage", args) }), "JSON Invocation")
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = JSON.CompletionVoid("12") }), "JSON CompletionVoid")
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = JSON.CompletionError("12", "failed") }), "JSON CompletionError")
	body := []byte(`{"type":1,"invocationId":"3","target":"broadcast","arguments":["hello",42]}`)
	raw := func(b []byte) []byte { return b }
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _, _ = DecodeUpstream(JSON, body, raw) }), 6.0, "JSON upstream body")
}
