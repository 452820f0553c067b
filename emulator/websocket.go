package emulator

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// wsTransport is the WebSockets transport: one frame of hub protocol
// messages per WebSocket message, text for JSON, binary for MessagePack.
type wsTransport struct {
	ws      *websocket.Conn
	msgType websocket.MessageType // text, until a MessagePack handshake
	// netConn is the hijacked TCP connection under ws; closing it ends a
	// close handshake the client never answers.
	netConn net.Conn
}

// acceptWebSocket upgrades r. On failure the response has been written.
func acceptWebSocket(w http.ResponseWriter, r *http.Request, readLimit int64) (*wsTransport, error) {
	capture := &hijackCapture{ResponseWriter: w}
	ws, err := websocket.Accept(capture, r, &websocket.AcceptOptions{
		// Browsers on any origin may connect, as with the Azure emulator's
		// allow-all CORS policy; the token is the credential.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(readLimit)
	return &wsTransport{ws: ws, msgType: websocket.MessageText, netConn: capture.conn}, nil
}

// readFrame reads a message of either type: clients send the handshake as
// text whatever their protocol.
func (t *wsTransport) readFrame() ([]byte, error) {
	_, data, err := t.ws.Read(context.Background())
	if errors.Is(err, websocket.ErrMessageTooBig) {
		// coder/websocket has closed with 1009 and "read limited at N
		// bytes", which tells the client why.
		return nil, errMessageTooLarge
	}
	return data, err
}

// writeFrame writes a message. coder/websocket closes the connection when
// ctx ends during the write, which is how a write deadline is set.
func (t *wsTransport) writeFrame(ctx context.Context, frame []byte) error {
	return t.ws.Write(ctx, t.msgType, frame)
}

func (t *wsTransport) supportsBinary() bool    { return true }
func (t *wsTransport) useBinary()              { t.msgType = websocket.MessageBinary }
func (t *wsTransport) inherentKeepAlive() bool { return false }

func (t *wsTransport) close(ctx context.Context, kind closeKind) {
	code, reason := websocket.StatusNormalClosure, ""
	switch kind {
	case closeGoingAway:
		code, reason = websocket.StatusGoingAway, "emulator shutting down"
	case closeTooSlow:
		code, reason = websocket.StatusPolicyViolation, "send queue full"
	}
	stop := context.AfterFunc(ctx, t.abort)
	defer stop()
	_ = t.ws.Close(code, reason)
}

func (t *wsTransport) abort() {
	if t.netConn != nil {
		_ = t.netConn.Close()
		return
	}
	go t.ws.CloseNow() // not reached: Accept always hijacks
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
