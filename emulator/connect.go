package emulator

import (
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// serveConnect serves the client endpoint /client/?hub=<hub>&id=<token>
// for every transport: a WebSocket upgrade; GET with Accept:
// text/event-stream for Server-Sent Events; any other GET for Long Polling
// (the first starts the connection, the next ones poll); POST to send on
// either of those two; DELETE to end a Long Polling connection. Every
// request carries a token that is checked: from the Authorization header,
// or from the access_token query parameter on WebSocket and event-stream
// requests (browsers cannot set headers on those).
func (e *Emulator) serveConnect(w http.ResponseWriter, r *http.Request) {
	if e.faults.refuseOffline(w) {
		return
	}
	hubName, ok := clientHub(w, r)
	if !ok {
		return
	}
	webSocket := r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	eventStream := r.Method == http.MethodGet && !webSocket && strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE, OPTIONS")
		http.Error(w, "The client endpoint takes GET (WebSockets, Server-Sent Events, Long Polling), POST (send) and DELETE (end a Long Polling connection).", http.StatusMethodNotAllowed)
		return
	}
	claims, err := e.verifyClientToken(bearerToken(r, webSocket || eventStream), clientAudience(r, hubName))
	if err != nil {
		e.opts.logger.Info("connect refused", "hub", hubName, "reason", err.Error())
		http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	user := userID(claims)
	token := r.URL.Query().Get("id")
	switch {
	case webSocket:
		e.serveWebSocket(w, r, hubName, token, claims)
	case eventStream:
		e.serveServerSentEvents(w, r, hubName, token, claims)
	case r.Method == http.MethodGet:
		e.serveLongPolling(w, r, hubName, token, claims)
	case r.Method == http.MethodPost:
		s, ended := e.sessionFor(w, r, hubName, token, user)
		switch {
		case ended:
			http.Error(w, "The connection has ended.", http.StatusNotFound)
		case s != nil:
			e.serveSend(w, r, s)
		}
	default:
		e.serveDelete(w, r, hubName, token, user)
	}
}

// serveWebSocket accepts the WebSocket transport. Without a token (the
// client's skipNegotiation mode) it makes a new connection.
func (e *Emulator) serveWebSocket(w http.ResponseWriter, r *http.Request, hubName, token string, claims jwt.MapClaims) {
	if c := e.resumable.get(token); c != nil {
		e.resumeWebSocket(w, r, c, hubName, claims)
		return
	}
	id := randomID(16)
	stateful := false
	if token != "" {
		var status int
		id, stateful, status = e.claimPendingStateful(token, hubName)
		switch status {
		case http.StatusNotFound:
			http.Error(w, "No connection with that id: negotiate first, and connect within the negotiate timeout.", status)
			return
		case http.StatusConflict:
			http.Error(w, "That connection id is already connected.", status)
			return
		}
	}
	// A frame may hold several messages; each one over the limit is
	// refused with a Close that says why, and a frame far over it by
	// the WebSocket library (status 1009).
	t, err := acceptWebSocket(w, r, e.opts.maxMessageSize+maxBatchBytes)
	if err != nil {
		return // Accept has written the error response.
	}
	// The connection is hijacked: the handler returns and a goroutine of
	// its own serves it, so that net/http's request, response and the
	// handler's stack (grown by the upgrade and the token check) are not
	// kept for the connection's life. Tracked before the handler
	// returns, it is waited for by Shutdown as before.
	var tr transport = t
	if stateful {
		// The connection may outlive this socket (statefulreconnect.go).
		tr = &swapTransport{}
		tr.(*swapTransport).attach(t)
	}
	if c := e.startConnection(tr, hubName, id, token, claims, r.URL.RawQuery); c != nil {
		if stateful {
			c.grantStateful(token)
		}
		go e.runConnection(c, token)
	}
}

// serveTransport runs a connection over t until it ends. Every transport
// ends up here once accepted. token is the negotiated connection token, if
// any; it is forgotten when the connection ends. claims are the client
// token's, rawQuery the query of the client's request (both go upstream).
func (e *Emulator) serveTransport(t transport, hubName, id, token string, claims jwt.MapClaims, rawQuery string) {
	if c := e.startConnection(t, hubName, id, token, claims, rawQuery); c != nil {
		e.runConnection(c, token)
	}
}

// startConnection makes the connection over t and tracks it, for
// runConnection to serve; nil, with the transport closed and the token
// forgotten, once Shutdown has begun.
func (e *Emulator) startConnection(t transport, hubName, id, token string, claims jwt.MapClaims, rawQuery string) *connection {
	c := newConnection(e, t, hubName, id, userID(claims))
	c.upstream = e.upstream.forConnection(c, claims, rawQuery)
	if !e.track(c) {
		c.closeTransport(closeGoingAway)
		t.abort()
		e.forgetToken(hubName, token)
		return nil
	}
	return c
}

// runConnection serves c until it ends, then forgets it and its connection
// token. It defers nothing and keeps no locals: the frame stays small
// while the connection waits, which lets the runtime halve the stack of an
// idle connection's goroutine.
func (e *Emulator) runConnection(c *connection, token string) {
	c.token = token
	c.serve()
	e.untrack(c)
	e.forgetToken(c.hubName, token) // when the handshake failed
}

// forgetToken forgets the negotiated connection token of a connection that
// has ended, if there was one, dropping its hub once empty.
func (e *Emulator) forgetToken(hubName, token string) {
	if token == "" {
		return
	}
	if h := e.hub(hubName, false); h != nil {
		h.pending.forget(token)
		e.dropIfEmpty(h, time.Now())
	}
}
