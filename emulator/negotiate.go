package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/validate"
)

// negotiateResponse is the body of a successful negotiate.
type negotiateResponse struct {
	ConnectionID     string `json:"connectionId"`
	ConnectionToken  string `json:"connectionToken,omitempty"`
	NegotiateVersion int    `json:"negotiateVersion"`
	// UseStatefulReconnect is set only for a client that asked for it
	// (see grantsStatefulReconnect): one that did not ask fails start().
	UseStatefulReconnect bool                 `json:"useStatefulReconnect,omitempty"`
	AvailableTransports  []availableTransport `json:"availableTransports"`
}

type availableTransport struct {
	Transport       string   `json:"transport"`
	TransferFormats []string `json:"transferFormats"`
}

// Transport names as negotiate lists them and clients match them.
const (
	transportWebSockets       = "WebSockets"
	transportServerSentEvents = "ServerSentEvents"
	transportLongPolling      = "LongPolling"
)

// allTransports lists the transports in the order clients try them, with
// the transfer formats each carries, as ASP.NET Core lists them: Server-Sent
// Events is text only, so a MessagePack client skips it.
var allTransports = []availableTransport{
	{Transport: transportWebSockets, TransferFormats: []string{"Text", "Binary"}},
	{Transport: transportServerSentEvents, TransferFormats: []string{"Text"}},
	{Transport: transportLongPolling, TransferFormats: []string{"Text", "Binary"}},
}

// clientHub reads and checks the hub query parameter of a client request and
// returns it lowercased; it writes the error response itself.
func clientHub(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.URL.Query().Get("hub")
	if err := validate.HubName(name); err != nil {
		http.Error(w, "Bad hub query parameter: "+err.Error(), http.StatusBadRequest)
		return "", false
	}
	return strings.ToLower(name), true
}

// serveNegotiate answers POST /client/negotiate?hub=<hub>.
func (e *Emulator) serveNegotiate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "Negotiate takes POST.", http.StatusMethodNotAllowed)
		return
	}
	if e.shuttingDown() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "The emulator is shutting down.", http.StatusServiceUnavailable)
		return
	}
	hubName, ok := clientHub(w, r)
	if !ok {
		return
	}
	if _, err := e.verifyClientToken(bearerToken(r, true), clientAudience(r, hubName)); err != nil {
		e.opts.logger.Info("negotiate refused", "hub", hubName, "reason", err.Error())
		http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	version := 0
	if v, err := strconv.Atoi(r.URL.Query().Get("negotiateVersion")); err == nil && v >= 1 {
		version = 1
	}
	resp := negotiateResponse{
		ConnectionID:        randomID(16),
		NegotiateVersion:    version,
		AvailableTransports: allTransports,
	}
	token := resp.ConnectionID
	if version >= 1 {
		resp.ConnectionToken = randomID(24)
		token = resp.ConnectionToken
	}
	resp.UseStatefulReconnect = e.grantsStatefulReconnect(r, version)
	now := time.Now()
	e.maybeSweep(now)
	e.withLiveHub(hubName, func(h *hub) bool {
		return h.pending.addStateful(token, resp.ConnectionID, now, now.Add(e.opts.negotiateTimeout), resp.UseStatefulReconnect)
	})

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// claimPending turns a connection token into its connection id, marking it
// used. It returns the HTTP status to answer when it cannot.
func (e *Emulator) claimPending(token, hubName string) (id string, status int) {
	h := e.hub(hubName, false)
	if h == nil {
		return "", http.StatusNotFound
	}
	return h.pending.claim(token, time.Now())
}
