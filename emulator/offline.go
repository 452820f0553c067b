package emulator

import "net/http"

// refuseOffline answers a client connect (WebSocket, Server-Sent Events,
// Long Polling, or a send on one) with 503 while SetOffline holds the
// endpoint offline, and reports whether it did: an offline instance takes no
// clients, not even those that skip negotiate with a token they still hold.
func (e *Emulator) refuseOffline(w http.ResponseWriter) bool {
	if !e.faults.offline.Load() {
		return false
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "The endpoint is offline (fault injection).", http.StatusServiceUnavailable)
	return true
}
