package emulator

import "net/http"

// allowedHeaders are the request headers browsers may send: those the
// official client sets plus the usual ones.
const allowedHeaders = "X-Requested-With, X-SignalR-User-Agent, Authorization, Content-Type"

// applyCORS lets browsers on any origin call the emulator with credentials:
// it echoes the request's Origin (never "*", which browsers refuse with
// credentials). It answers a preflight request itself and reports so.
func applyCORS(w http.ResponseWriter, r *http.Request) (preflight bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	if requested := r.Header.Get("Access-Control-Request-Headers"); requested != "" {
		h.Set("Access-Control-Allow-Headers", requested)
	} else {
		h.Set("Access-Control-Allow-Headers", allowedHeaders)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}
