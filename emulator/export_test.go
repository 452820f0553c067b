package emulator

// Broadcast sends target(arguments) to every connection of hub, as a REST
// broadcast does but without the HTTP round trip; the benchmark uses it to
// separate the fan-out from the REST overhead.
func (e *Emulator) Broadcast(hubName string, record []byte) {
	if h := e.hub(hubName, false); h != nil {
		h.sendAll(record, nil)
	}
}
