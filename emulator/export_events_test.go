package emulator

// Publish puts ev on the feed as the emulator's own hooks do (redacted,
// numbered), so that tests can reach every field.
func (e *Emulator) Publish(ev Event) { e.bus.publish(ev) }

// SetUninstrumented turns the feed's REST hook and the per-connection
// counters off (true) or back on: the no-hooks baseline of
// BenchmarkFeedCost.
func (e *Emulator) SetUninstrumented(off bool) { e.uninstrumented.Store(off) }
