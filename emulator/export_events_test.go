package emulator

// Publish puts ev on the feed as the emulator's own hooks do (redacted,
// numbered), so that tests can reach every field.
func (e *Emulator) Publish(ev Event) { e.bus.publish(ev) }
