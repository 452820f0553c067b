package emulator

import (
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// serveConnect accepts the WebSocket transport at /client/?hub=<hub>&id=<token>.
// Without id (the client's skipNegotiation mode) it makes a new connection.
func (e *Emulator) serveConnect(w http.ResponseWriter, r *http.Request) {
	hubName, ok := clientHub(w, r)
	if !ok {
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "This SignalR Service emulator implements only the WebSockets transport.", http.StatusBadRequest)
		return
	}
	claims, err := e.verifyClientToken(bearerToken(r, true), clientAudience(r, hubName))
	if err != nil {
		e.opts.logger.Info("connect refused", "hub", hubName, "reason", err.Error())
		http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	id := randomID(16)
	token := r.URL.Query().Get("id")
	if token != "" {
		var status int
		id, status = e.claimPending(token, hubName)
		switch status {
		case http.StatusNotFound:
			http.Error(w, "No connection with that id: negotiate first, and connect within the negotiate timeout.", status)
			return
		case http.StatusConflict:
			http.Error(w, "That connection id is already connected.", status)
			return
		}
	}
	t, err := acceptWebSocket(w, r, e.opts.maxMessageSize)
	if err != nil {
		return // Accept has written the error response.
	}
	e.serveTransport(t, hubName, id, token, claims, r.URL.RawQuery)
}

// serveTransport runs a connection over t until it ends. Every transport
// ends up here once accepted. token is the negotiated connection token, if
// any; it is forgotten when the connection ends. claims are the client
// token's, rawQuery the query of the client's request (both go upstream).
func (e *Emulator) serveTransport(t transport, hubName, id, token string, claims jwt.MapClaims, rawQuery string) {
	if token != "" {
		defer func() {
			if h := e.hub(hubName, false); h != nil {
				h.pending.forget(token)
				e.dropIfEmpty(h, time.Now())
			}
		}()
	}
	c := newConnection(e, t, hubName, id, userID(claims))
	c.upstream = e.upstream.forConnection(c, claims, rawQuery)
	if !e.track(c) {
		c.closeTransport(closeGoingAway)
		t.abort()
		return
	}
	defer e.untrack(c)
	c.serve()
}
