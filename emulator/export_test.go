package emulator

import "time"

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

// SetSweepInterval sets how often hubs are swept, until the test ends.
func SetSweepInterval(t interface{ Cleanup(func()) }, d time.Duration) {
	old := sweepInterval.Swap(int64(d))
	t.Cleanup(func() { sweepInterval.Store(old) })
}
