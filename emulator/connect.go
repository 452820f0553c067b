package emulator

import (
	"bufio"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
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
	claims, err := e.verifyToken(bearerToken(r, true), clientAudience(r, hubName))
	if err != nil {
		e.opts.logger.Info("connect refused", "hub", hubName, "reason", err.Error())
		http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	id := randomID(16)
	if token := r.URL.Query().Get("id"); token != "" {
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
	capture := &hijackCapture{ResponseWriter: w}
	ws, err := websocket.Accept(capture, r, &websocket.AcceptOptions{
		// Browsers on any origin may connect, as with the Azure emulator's
		// allow-all CORS policy; the token is the credential.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept has written the error response.
	}
	c := newConnection(e, ws, capture.conn, e.hub(hubName, true), id, userID(claims))
	if !e.track(c) {
		c.closeSocket(websocket.StatusGoingAway, "emulator shutting down")
		return
	}
	defer e.untrack(c)
	c.serve()
}

// hijackCapture keeps the network connection the WebSocket library hijacks,
// so that a connection stuck in a close handshake can be cut off.
type hijackCapture struct {
	http.ResponseWriter
	conn net.Conn
}

// Hijack hijacks the underlying ResponseWriter and remembers the connection.
func (h *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = conn
	return conn, rw, err
}
