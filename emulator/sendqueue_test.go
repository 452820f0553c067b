package emulator

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wakeTokens counts the wake-ups waiting in q (0 or 1).
func wakeTokens(q *sendQueue) int {
	select {
	case <-q.wake:
		return 1
	default:
		return 0
	}
}

func TestSendQueueOneWakeUpPerBurstAndOrder(t *testing.T) {
	q := newSendQueue(8, 1<<10, nil)
	for _, r := range []string{"a", "b", "c"} {
		require.True(t, q.push([]byte(r)))
	}
	assert.Equal(t, 1, wakeTokens(q), "a burst wakes the writer once")
	assert.EqualValues(t, 3, q.size())

	got := q.takeAll(nil)
	assert.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, got)
	assert.EqualValues(t, 0, q.size())

	// The queue continues in the storage handed back, and a push to the
	// emptied queue wakes the writer again.
	require.True(t, q.push([]byte("d")))
	assert.Equal(t, 1, wakeTokens(q))
	again := q.takeAll(got)
	assert.Equal(t, [][]byte{[]byte("d")}, again)
	assert.Nil(t, got[1], "records handed back are dropped, not kept alive")
	assert.Empty(t, q.takeAll(again))
}

func TestSendQueueOverflowByCount(t *testing.T) {
	calls := 0
	q := newSendQueue(2, 1<<10, func() { calls++ })
	require.True(t, q.push([]byte("a")))
	require.True(t, q.push([]byte("b")))
	assert.False(t, q.push([]byte("c")), "a third record exceeds the count")
	assert.False(t, q.push(nil), "an overflowed queue refuses everything")
	assert.Equal(t, 1, calls)
	select {
	case <-q.overflowed:
	default:
		t.Fatal("overflowed is not closed")
	}
	// Emptying it does not make an overflowed queue usable again.
	q.takeAll(nil)
	assert.False(t, q.push([]byte("d")))
}

func TestSendQueueOverflowByBytes(t *testing.T) {
	calls := 0
	q := newSendQueue(100, 4, func() { calls++ })
	require.True(t, q.push([]byte("abc")))
	assert.False(t, q.push([]byte("de")), "3+2 bytes exceed 4")
	assert.Equal(t, 1, calls)
}
