package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"

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

	// watched is the context the writes were last given, and stopWatch
	// undoes the abort registered on it (see writeFrame).
	watched   context.Context
	stopWatch func() bool
	// writing is set while a write is under way: only such a write is
	// cut when its context ends.
	writing atomic.Bool

	// raw reads the socket's send queue for the writer pool (see
	// hasRoom); nil when the connection is not a socket. sndbuf caches
	// the send buffer's size.
	raw    syscall.RawConn
	sndbuf int
}

// hasRoom reports whether n bytes can be written without waiting for the
// client; it is called with the connection's writer lock held.
func (t *wsTransport) hasRoom(n int) bool {
	return t.raw != nil && sendRoom(t.raw, &t.sndbuf, n)
}

// acceptWebSocket upgrades r. On failure the response has been written.
func acceptWebSocket(w http.ResponseWriter, r *http.Request, readLimit int64) (*wsTransport, error) {
	capture := &hijackCapture{ResponseWriter: w, readLimit: readLimit}
	ws, err := websocket.Accept(capture, r, &websocket.AcceptOptions{
		// Browsers on any origin may connect, as with the Azure emulator's
		// allow-all CORS policy; the token is the credential.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(readLimit)
	t := &wsTransport{ws: ws, msgType: websocket.MessageText, netConn: capture.conn}
	if sc, ok := capture.conn.(syscall.Conn); ok {
		t.raw, _ = sc.SyscallConn()
	}
	return t, nil
}

// readFrame reads a message of either type: clients send the handshake as
// text whatever their protocol.
func (t *wsTransport) readFrame() ([]byte, error) {
	_, data, err := t.ws.Read(context.Background())
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		// coder/websocket has closed with 1009 and "read limited at N
		// bytes", which tells the client why.
		return nil, errMessageTooLarge
	case errors.Is(err, errFrameTooLarge):
		// The frame guard refused a header before coder/websocket read
		// it: close as coder/websocket does for a message over the limit.
		// The close handshake's read fails at once, so this is quick.
		_ = t.ws.Close(websocket.StatusMessageTooBig, "message too big: a frame announces more than the read limit")
		return nil, errMessageTooLarge
	}
	return data, err
}

// writeFrame writes a message, cut short when ctx ends: then the TCP
// connection is closed, which fails the write and ends the transport.
//
// The connection's writes all share one context, so the abort is
// registered once per context rather than per write (coder/websocket
// would register one for every write given a context that can end).
func (t *wsTransport) writeFrame(ctx context.Context, frame []byte) error {
	if ctx != t.watched {
		if t.stopWatch != nil {
			t.stopWatch()
		}
		t.watched, t.stopWatch = ctx, context.AfterFunc(ctx, t.abortWrite)
	}
	t.writing.Store(true)
	defer t.writing.Store(false)
	// Checked after writing is set: a context that ends from here on
	// finds the write under way and cuts it.
	if err := ctx.Err(); err != nil {
		return err
	}
	err := t.ws.Write(context.Background(), t.msgType, frame)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
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

// abortWrite ends the transport if a write is under way.
func (t *wsTransport) abortWrite() {
	if t.writing.Load() {
		t.abort()
	}
}

func (t *wsTransport) abort() {
	if t.netConn != nil {
		_ = t.netConn.Close()
		return
	}
	go t.ws.CloseNow() // not reached: Accept always hijacks
}

// Buffer sizes of a WebSocket connection, in place of the 4 KiB reader and
// 4 KiB writer net/http hands over on Hijack, which coder/websocket would
// keep for the connection's life: 8 KiB of an idle connection's ~30.
//
// The read buffer holds what one read returns: a client's messages are
// small (handshake, pings, invocations), and coder/websocket reads a
// payload at least as large as the buffer straight into its destination.
//
// The write buffer takes a frame's header and as much of its payload as
// fits; a frame that does not fit costs a second write system call (2-5
// µs on loopback, measured: 1 KiB made 1.5 KiB frames 30-50% dearer to
// write, so 2 KiB it is). Frames of one record (a broadcast of a few
// hundred bytes, a ping) fit, as do a dozen coalesced ones; a full batch
// (maxBatchBytes) needed two writes with 4 KiB already.
const (
	wsReadBufferSize  = 512
	wsWriteBufferSize = 2048
)

// hijackCapture keeps the network connection the WebSocket library hijacks,
// so that a connection stuck in a close handshake can be cut off, and hands
// the library smaller buffers (see wsReadBufferSize).
type hijackCapture struct {
	http.ResponseWriter
	conn      net.Conn
	readLimit int64 // what the frame guard enforces
}

// Hijack hijacks the underlying ResponseWriter and remembers the connection.
// The library gets the connection behind a frameGuard, a read buffer of its
// own size and, unless net/http's writer still holds bytes, a write buffer
// of its own size; net/http has flushed its writer (the 101 response) by
// then.
func (h *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = conn
	if err != nil {
		return conn, rw, err
	}
	// coder/websocket reads through the frame guard; what net/http read
	// past the request moves into the guard, to be read and followed
	// first, so that the reader can have a buffer of its own size.
	g := &frameGuard{Conn: conn, limit: ^uint64(0)}
	if h.readLimit >= 0 {
		g.limit = uint64(h.readLimit)
	}
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		g.pending = bytes.Clone(b)
	}
	w := rw.Writer
	if w.Buffered() == 0 {
		w = bufio.NewWriterSize(conn, wsWriteBufferSize)
	}
	return g, bufio.NewReadWriter(bufio.NewReaderSize(g, wsReadBufferSize), w), nil
}
