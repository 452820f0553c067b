package emulator

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// maxBatchBytes bounds how many queued records are coalesced into one
// WebSocket frame. The official clients accept several records per frame;
// staying well under 32 KiB keeps clients with a default read limit (such
// as coder/websocket's) working.
const maxBatchBytes = 16 << 10

// coalesceYields bounds how many times a connection woken by a record lets
// other goroutines run before writing, so that more records queue for the
// same frame. Under a broadcast burst each yield lets the other writers and
// the REST handlers run; measured on 2 vCPUs, 8 yields (against 1) raised
// records per frame from about 6 to 20 and deliveries/s by 1.5-2x in
// BenchmarkBroadcast1000/rest. An idle emulator pays a few scheduler calls.
const coalesceYields = 8

// closeHandshakeTimeout bounds how long a hang-up waits for the client to
// answer the WebSocket close frame before the TCP connection is cut.
const closeHandshakeTimeout = 2 * time.Second

// closeRequest asks a connection to send a Close message and hang up.
type closeRequest struct {
	errorText      string
	allowReconnect bool
}

// connection is one client WebSocket after its token was accepted.
//
// Two goroutines serve it: the one that called ServeHTTP runs serve, which is
// the only writer to the socket and reacts to everything (queued messages,
// records from the client, timers, close requests); readLoop only reads.
// serve waits for readLoop before returning, so neither outlives the socket.
type connection struct {
	e  *Emulator
	ws *websocket.Conn
	// netConn is the hijacked TCP connection under ws; closing it ends
	// every pending read, write and close handshake at once.
	netConn net.Conn
	hub     *hub
	id      string
	user    string

	// groups maps the connection's groups to their expiry (zero: none).
	// It is guarded by hub.mu.
	groups map[string]time.Time

	queue    chan []byte
	closeReq chan closeRequest
	incoming chan []byte
	done     chan struct{} // closed when serve stops reading incoming
	readDone chan struct{} // closed when readLoop returns

	overflowOnce sync.Once
	overflowed   chan struct{}

	batch    []byte // reused buffer of a coalesced frame
	carry    []byte // a record taken from the queue for the next frame
	splitter recordSplitter
	log      *slog.Logger
}

func newConnection(e *Emulator, ws *websocket.Conn, netConn net.Conn, h *hub, id, user string) *connection {
	return &connection{
		e:          e,
		ws:         ws,
		netConn:    netConn,
		hub:        h,
		id:         id,
		user:       user,
		groups:     make(map[string]time.Time),
		queue:      make(chan []byte, e.opts.sendQueueSize),
		closeReq:   make(chan closeRequest, 1),
		incoming:   make(chan []byte),
		done:       make(chan struct{}),
		readDone:   make(chan struct{}),
		overflowed: make(chan struct{}),
		splitter:   recordSplitter{limit: int(e.opts.maxMessageSize)},
		log:        e.opts.logger.With("hub", h.name, "connection", id),
	}
}

// enqueue queues a record without ever blocking: a connection whose queue is
// full is closed, so one slow client cannot hold up a broadcast.
func (c *connection) enqueue(record []byte) {
	select {
	case c.queue <- record:
	default:
		c.overflowOnce.Do(func() {
			close(c.overflowed)
			// Abort a write stuck on a client that stopped reading.
			c.abortWrites()
		})
	}
}

// requestClose asks the connection to send a Close message and hang up.
// Only the first request counts.
func (c *connection) requestClose(errorText string, allowReconnect bool) {
	select {
	case c.closeReq <- closeRequest{errorText, allowReconnect}:
	default:
	}
}

// readLoop hands every message the client sends to serve.
func (c *connection) readLoop() {
	defer close(c.readDone)
	defer close(c.incoming)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		select {
		case c.incoming <- data:
		case <-c.done:
			return
		}
	}
}

// abortWrites makes a pending write, and any later one, fail at once. A
// deadline does this without a cancelable write context, which the
// WebSocket library would otherwise have to watch on every write.
func (c *connection) abortWrites() {
	if c.netConn != nil {
		_ = c.netConn.SetWriteDeadline(time.Now())
		return
	}
	go c.ws.CloseNow() // not reached: Accept always hijacks
}

// write sends one frame of records. Its context is never canceled: a
// cancelable one costs the WebSocket library a context.AfterFunc per write,
// and abortWrites stops stuck writes instead.
func (c *connection) write(p []byte) error {
	return c.ws.Write(context.Background(), websocket.MessageText, p)
}

// hangUp sends a Close message, when there is one, and closes the socket
// with a normal closure.
func (c *connection) hangUp(closeRecord []byte) {
	if closeRecord != nil {
		_ = c.write(closeRecord)
	}
	c.closeSocket(websocket.StatusNormalClosure, "")
}

// closeSocket runs the WebSocket close handshake, cutting the connection if
// the client does not answer within closeHandshakeTimeout.
func (c *connection) closeSocket(code websocket.StatusCode, reason string) {
	cut := time.AfterFunc(closeHandshakeTimeout, c.forceClose)
	defer cut.Stop()
	_ = c.ws.Close(code, reason)
}

// forceClose cuts the TCP connection, which ends every pending read, write
// and close handshake at once. It never blocks and is safe to call at any
// time; serve then finishes on its own.
func (c *connection) forceClose() {
	if c.netConn != nil {
		_ = c.netConn.Close()
		return
	}
	go c.ws.CloseNow() // not reached: Accept always hijacks
}

// serve runs the connection until it closes. It returns only after readLoop
// has returned and the connection has left its hub.
func (c *connection) serve() {
	c.ws.SetReadLimit(c.e.opts.maxMessageSize)
	go c.readLoop()
	reason := "client closed the connection"
	registered := false
	defer func() {
		_ = c.ws.CloseNow()
		close(c.done)
		<-c.readDone
		if registered {
			c.hub.remove(c)
			c.log.Info("client disconnected", "reason", reason)
		}
	}()

	records, ok, why := c.handshake()
	if !ok {
		c.log.Info("handshake failed", "reason", why)
		return
	}
	c.hub.add(c)
	registered = true
	if c.user != "" {
		c.log.Info("client connected", "user", c.user)
	} else {
		c.log.Info("client connected")
	}
	if err := c.write(handshakeSuccessRecord); err != nil {
		reason = "write failed"
		return
	}
	reason = c.run(records)
}

// handshake waits for the client's handshake request and answers a bad one.
// It returns the records that followed the request in the same frame.
func (c *connection) handshake() (rest [][]byte, ok bool, reason string) {
	timer := time.NewTimer(c.e.opts.handshakeTimeout)
	defer timer.Stop()
	for {
		select {
		case frame, open := <-c.incoming:
			if !open {
				return nil, false, "client left before the handshake"
			}
			records, err := c.splitter.split(frame)
			if err != nil {
				c.hangUp(encodeHandshakeError("Handshake request is too large."))
				return nil, false, "handshake too large"
			}
			if len(records) == 0 {
				continue
			}
			if problem := parseHandshake(records[0]); problem != "" {
				c.hangUp(encodeHandshakeError(problem))
				return nil, false, "handshake rejected: " + problem
			}
			return records[1:], true, ""
		case <-timer.C:
			c.hangUp(encodeHandshakeError("Handshake was canceled."))
			return nil, false, "handshake timed out"
		case <-c.e.closing:
			c.hangUp(nil)
			return nil, false, "emulator shutting down"
		}
	}
}

// run is the connected state: it returns why the connection ended.
func (c *connection) run(first [][]byte) string {
	keepAlive := time.NewTimer(c.e.opts.keepAliveInterval)
	defer keepAlive.Stop()
	clientTimeout := time.NewTimer(c.e.opts.clientTimeout)
	defer clientTimeout.Stop()

	if reason, stop := c.handleRecords(first); stop {
		return reason
	}
	for {
		select {
		case record := <-c.queue:
			// Let the senders queue more before writing: a broadcast
			// wakes every connection at once, and records that arrive
			// meanwhile share this frame and its syscall. Yield while
			// what is queued would likely fill less than half a frame.
			// Alone, a goroutine gets the processor straight back.
			for i := 0; i < coalesceYields && (len(c.queue)+1)*len(record) < maxBatchBytes/2; i++ {
				runtime.Gosched()
			}
			for record != nil {
				frame := c.coalesce(record)
				record, c.carry = c.carry, nil
				if err := c.write(frame); err != nil {
					return c.writeFailure(err)
				}
			}
			keepAlive.Reset(c.e.opts.keepAliveInterval)
		case frame, open := <-c.incoming:
			if !open {
				return "client closed the connection"
			}
			clientTimeout.Reset(c.e.opts.clientTimeout)
			records, err := c.splitter.split(frame)
			if err != nil {
				c.hangUp(encodeClose("Connection closed with an error: message too large.", false))
				return "message too large"
			}
			if reason, stop := c.handleRecords(records); stop {
				return reason
			}
		case <-keepAlive.C:
			if err := c.write(pingRecord); err != nil {
				return c.writeFailure(err)
			}
			keepAlive.Reset(c.e.opts.keepAliveInterval)
		case <-clientTimeout.C:
			c.hangUp(encodeClose("Client timeout elapsed without receiving a message from the client.", false))
			return "client timeout"
		case req := <-c.closeReq:
			c.hangUp(encodeClose(req.errorText, req.allowReconnect))
			if req.errorText != "" {
				return "closed by REST call: " + req.errorText
			}
			return "closed by REST call"
		case <-c.overflowed:
			// Lift the deadline abortWrites set, so that the close frame
			// can go out unless a write was cut short mid-frame.
			if c.netConn != nil {
				_ = c.netConn.SetWriteDeadline(time.Time{})
			}
			c.closeSocket(websocket.StatusPolicyViolation, "send queue full")
			return "send queue full (client too slow)"
		case <-c.e.closing:
			c.hangUp(encodeClose("The emulator is shutting down.", true))
			return "emulator shutting down"
		}
	}
}

// coalesce appends to record whatever else is already queued, up to
// maxBatchBytes, so a burst goes out in few frames. A record taken from the
// queue that does not fit is left in c.carry for the next frame.
func (c *connection) coalesce(record []byte) []byte {
	if len(c.queue) == 0 {
		return record
	}
	c.batch = append(c.batch[:0], record...)
	for len(c.batch) < maxBatchBytes {
		select {
		case next := <-c.queue:
			if len(c.batch)+len(next) > maxBatchBytes {
				// Too big to join: send what we have, then next alone.
				c.carry = next
				return c.batch
			}
			c.batch = append(c.batch, next...)
		default:
			return c.batch
		}
	}
	return c.batch
}

func (c *connection) writeFailure(error) string {
	select {
	case <-c.overflowed:
		return "send queue full (client too slow)"
	default:
	}
	return "write failed"
}

// handleRecords acts on records from the client; stop reports that the
// connection ended.
func (c *connection) handleRecords(records [][]byte) (reason string, stop bool) {
	for _, record := range records {
		msg, err := parseClientMessage(record)
		if err != nil {
			c.hangUp(encodeClose("Connection closed with an error: invalid hub protocol message.", false))
			return "invalid message from client", true
		}
		switch msg.Type {
		case typePing, typeCompletion, typeStreamItem, typeCancelInvocation:
			// Nothing to do: pings only reset the client timeout, and the
			// emulator never invokes clients or streams.
		case typeClose:
			c.hangUp(nil)
			return "client sent Close", true
		case typeInvocation, typeStreamInvocation:
			if msg.InvocationID == nil || *msg.InvocationID == "" {
				c.log.Info("dropped client invocation: no upstream configured", "target", msg.Target)
				continue
			}
			completion := encodeCompletionError(*msg.InvocationID,
				"The SignalR emulator has no upstream configured, so invocation of '"+msg.Target+"' cannot be handled.")
			if err := c.write(completion); err != nil {
				return c.writeFailure(err), true
			}
		default:
			// Unknown types are ignored, as the clients do.
		}
	}
	return "", false
}
