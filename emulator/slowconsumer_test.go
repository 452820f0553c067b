package emulator_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// TestSlowConsumerIsClosedWithoutStallingOthers broadcasts large messages
// to a client that never reads and one that does. The stuck client's queue
// fills and it is closed; the broadcast calls never block, and the reading
// client gets every message.
func TestSlowConsumerIsClosedWithoutStallingOthers(t *testing.T) {
	s := newServer(t, &emulator.Options{SendQueueSize: 2})
	stuck := connect(t, s, "chat", "stuck")
	reader := connect(t, s, "chat", "reader")

	received := make(chan int, 1)
	go func() {
		n := 0
		defer func() { received <- n }()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, data, err := reader.ws.Read(ctx)
			cancel()
			if err != nil {
				return
			}
			n += bytes.Count(data, []byte(`"target":"big"`))
		}
	}()

	body := sendBody("big", strings.Repeat("x", 256<<10))
	sent := 0
	for ; sent < 400 && connected(s, stuck.id); sent++ {
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", body), 202, "")
	}
	require.Eventually(t, func() bool { return !connected(s, stuck.id) }, 5*time.Second, 5*time.Millisecond,
		"the stuck client is dropped")
	require.True(t, connected(s, reader.id), "the reading client was dropped too")
	t.Logf("the stuck client was dropped after %d broadcasts", sent)
	// A marker tells the reader goroutine where the stream ends.
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/connections/"+reader.id+"/:send", sendBody("done", "")), 202, "")
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/connections/"+reader.id, ""), 200, "")
	assert.Equal(t, sent, <-received, "the reader got every broadcast")
	// The stuck client finds its connection closed once it reads again.
	for {
		if _, err := stuck.read(5 * time.Second); err != nil {
			break
		}
	}
}

func connected(s *emulator.Server, id string) bool {
	_, ok := s.Emulator.Snapshot("chat").Connection(id)
	return ok
}
