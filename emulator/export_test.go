package emulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mustNew is New for the package's own tests, which fail on its error.
func mustNew(t testing.TB, opts *Options) *Emulator {
	t.Helper()
	e, err := New(opts)
	require.NoError(t, err)
	return e
}

// Broadcast sends target(arguments) to every connection of hub, as a REST
// broadcast does but without the HTTP round trip; the benchmark uses it to
// separate the fan-out from the REST overhead. arguments is a JSON array.
func (e *Emulator) Broadcast(hubName, target string, arguments []byte) {
	if h := e.hub(hubName, false); h != nil {
		h.sendAll(newOutMessage(target, arguments), nil)
	}
}

// holdHub takes every lock of hub name, as a long operation on that hub
// would, and returns the function that releases them.
func (e *Emulator) holdHub(name string) (release func()) {
	h := e.hub(name, false)
	h.mu.Lock()
	h.pending.mu.Lock()
	released := false
	return func() {
		if !released {
			released = true
			h.pending.mu.Unlock()
			h.mu.Unlock()
		}
	}
}

// HubNames lists the hubs the emulator holds.
func (e *Emulator) HubNames() []string {
	e.hubsMu.RLock()
	defer e.hubsMu.RUnlock()
	names := make([]string, 0, len(e.hubs))
	for name := range e.hubs {
		names = append(names, name)
	}
	return names
}

// SetSweepInterval sets how often e sweeps its hubs.
func (e *Emulator) SetSweepInterval(d time.Duration) { e.sweepInterval.Store(int64(d)) }

// PollWaiting reports whether the Long Polling connection id of hub has a
// poll waiting on the emulator, so that a test can act on a waiting poll
// without sleeping first.
func (e *Emulator) PollWaiting(hubName, id string) bool {
	c := e.connFor(hubName, id)
	if c == nil {
		return false
	}
	lp, ok := c.t.(*lpTransport)
	if !ok {
		return false
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.poll != nil
}

// QueuedRecords reports how many records wait in the send queue of
// connection id of hub (0 when there is no such connection), so that a test
// can act once a send has been queued instead of sleeping first.
func (e *Emulator) QueuedRecords(hubName, id string) int64 {
	c := e.connFor(hubName, id)
	if c == nil {
		return 0
	}
	return c.queue.count.Load()
}

// SendInProgress reports whether a client's POST holds the send slot of
// the Long Polling connection id of hub. It probes the slot, so a POST that
// arrives in the same instant may be refused with 409.
func (e *Emulator) SendInProgress(hubName, id string) bool {
	c := e.connFor(hubName, id)
	if c == nil {
		return false
	}
	lp, ok := c.t.(*lpTransport)
	if !ok {
		return false
	}
	if lp.box().busy.TryLock() {
		lp.box().busy.Unlock()
		return false
	}
	return true
}

// connFor returns the connection id of hub, or nil when there is none.
func (e *Emulator) connFor(hubName, id string) *connection {
	h := e.hub(hubName, false)
	if h == nil {
		return nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}
