package emulator

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// maxBatchBytes bounds how many queued records are coalesced into one
// frame. The official clients accept several records per frame; staying
// well under 32 KiB keeps clients with a default read limit (such as
// coder/websocket's) working.
const maxBatchBytes = 16 << 10

// closeRequest asks a connection to send a Close message and hang up.
type closeRequest struct {
	errorText      string
	allowReconnect bool
}

// connection is one client after its token was accepted, on any transport.
//
// Two goroutines serve it: the one that called serve reacts to everything
// (queued messages, records from the client, timers, close requests);
// readLoop only reads. serve waits for readLoop before returning, so
// neither outlives the transport. Writes take wmu: besides serve's
// goroutine, a worker of the emulator's writer pool writes the queued
// records of a WebSocket connection while serve's goroutine is idle
// (writerpool.go).
//
// Every write is bounded: by the write timeout, by an overflow of the send
// queue (which cancels writeCtx), and by the emulator's drain once Shutdown
// has begun.
type connection struct {
	e       *Emulator
	t       transport
	hubName string
	hub     *hub // set once registered
	id      string
	user    string
	// token is the negotiated connection token the client connected
	// with, "" without negotiate; it is forgotten when the connection ends.
	token string

	// groups maps the connection's groups to their expiry (zero: none).
	// It is guarded by hub.mu.
	groups map[string]time.Time

	queue    *sendQueue
	closeReq atomic.Pointer[closeRequest] // the first close asked for
	incoming chan []byte
	done     chan struct{} // closed when serve stops reading incoming
	readDone chan struct{} // closed when readLoop returns

	// writeCtx is the parent of every write's context. It ends when the
	// queue overflows or the emulator's drain ends.
	writeCtx    context.Context
	cancelWrite context.CancelFunc

	spare  []queued // storage handed back to the queue by take
	pieces [][]byte // the runs and records of the frame being built

	// watchdog cancels writeCtx when a write outlives the write timeout;
	// it is armed for each write, which is cheaper than a context each.
	watchdog *time.Timer

	// wmu is held by whoever writes to the transport: the connection's
	// goroutine or a worker of the writer pool (writerpool.go). It guards
	// spare, pieces, watchdog and the queue's cursor too.
	wmu sync.Mutex
	// poolFailed is set when a pool worker's write failed; the
	// connection's goroutine then ends the connection.
	poolFailed atomic.Bool
	// idle is set while the connection's goroutine waits for something
	// to do: only then does the writer pool write for it, so that a
	// connection whose goroutine is held (by a full upstream queue, say)
	// fills its send queue and is dropped, as without the pool.
	idle atomic.Bool
	// poolWrote is when a pool worker last wrote (Unix nanoseconds): the
	// keep-alive Ping goes only after KeepAliveInterval without a write,
	// whoever wrote.
	poolWrote atomic.Int64
	// inPool is set, under wmu, while a pool worker writes: the delivery
	// delay of a fault armed meanwhile then waits for the next write on
	// the connection's goroutine instead of holding the worker.
	inPool bool

	// proto is the hub protocol the client chose in its handshake, and
	// reader cuts its frames into messages; both are set by handshake.
	proto  hubproto.Protocol
	reader hubproto.Reader
	// readErr is why readLoop stopped; read it once incoming is closed.
	readErr error
	log     *slog.Logger

	// upstream delivers this connection's events in serverless mode; nil
	// without upstream templates (see upstream.go).
	upstream *connUpstream

	// version is the handshake version (1, or 2 for stateful reconnect);
	// sr is the stateful reconnect state, nil unless negotiate granted it
	// and the client's handshake is version 2 (see statefulreconnect.go).
	version int
	sr      *statefulState
	// resumable is sr once the handshake made the connection resumable,
	// for readers outside the connection's goroutine (the hub's snapshot),
	// which may not read sr while startStateful sets it.
	resumable atomic.Pointer[statefulState]

	// since is when the connection was made; stats counts its traffic
	// for the state API (state.go).
	since time.Time
	stats connStats
	// faultDropped is set when a fault cut the connection (faults.go).
	faultDropped atomic.Bool
}

func newConnection(e *Emulator, t transport, hubName, id, user string) *connection {
	c := &connection{
		e:        e,
		t:        t,
		hubName:  hubName,
		id:       id,
		user:     user,
		groups:   make(map[string]time.Time),
		incoming: make(chan []byte),
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
		log:      e.opts.logger.With("hub", hubName, "connection", id),
		since:    time.Now(),
	}
	c.writeCtx, c.cancelWrite = context.WithCancel(e.drain)
	// An overflow aborts a write stuck on a client that stopped reading.
	c.queue = newSendQueue(e.opts.sendQueueSize, e.opts.sendQueueBytes, c.cancelWrite)
	c.queue.toPool = func() { e.writers.add(c) }
	return c
}

// enqueue queues a record without ever blocking; see sendQueue.
func (c *connection) enqueue(record []byte) { c.queue.push(record) }

// requestClose asks the connection to send a Close message and hang up.
// Only the first request counts.
func (c *connection) requestClose(errorText string, allowReconnect bool) {
	if c.closeReq.CompareAndSwap(nil, &closeRequest{errorText, allowReconnect}) {
		c.queue.signal()
	}
}

// readLoop hands every frame the client sends to serve.
func (c *connection) readLoop() {
	defer close(c.readDone)
	defer close(c.incoming)
	for {
		data, err := c.t.readFrame()
		if err != nil {
			c.readErr = err
			return
		}
		c.countIn(len(data))
		select {
		case c.incoming <- data:
		case <-c.done:
			return
		}
	}
}

// write sends one frame within the write timeout. The watchdog, armed for
// the write, cancels writeCtx if the write outlives the timeout, which makes
// the transport abandon the write and fail (for WebSockets, coder/websocket
// then closes the connection); the connection is over either way.
func (c *connection) write(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(p)
}

// writeLocked is write with wmu held.
func (c *connection) writeLocked(p []byte) error {
	if c.e.faults.armed() && !c.inPool {
		c.deliveryDelay()
	}
	if c.watchdog == nil {
		c.watchdog = time.AfterFunc(c.e.opts.writeTimeout, c.cancelWrite)
	} else {
		c.watchdog.Reset(c.e.opts.writeTimeout)
	}
	err := c.t.writeFrame(c.writeCtx, p)
	c.countOut(len(p))
	if !c.watchdog.Stop() && err == nil {
		// The timeout passed as the write finished: writeCtx is
		// cancelled, and the client counts as not reading.
		err = context.DeadlineExceeded
	}
	return err
}

// hangUp sends a Close message, when there is one and the transport takes
// it within Options.CloseTimeout, and then closes the transport.
func (c *connection) hangUp(closeRecord []byte, kind closeKind) {
	if closeRecord != nil {
		ctx, cancel := context.WithTimeout(context.Background(), min(c.e.opts.closeTimeout, c.e.opts.writeTimeout))
		c.wmu.Lock()
		_ = c.t.writeFrame(ctx, closeRecord)
		c.wmu.Unlock()
		cancel()
	}
	c.closeTransport(kind)
}

// closeTransport closes the transport, cutting it if the client does not
// acknowledge within Options.CloseTimeout.
func (c *connection) closeTransport(kind closeKind) {
	ctx, cancel := context.WithTimeout(context.Background(), c.e.opts.closeTimeout)
	defer cancel()
	c.t.close(ctx, kind)
}

// serve runs the connection until it closes. It returns only after readLoop
// has returned and the connection has left its hub.
func (c *connection) serve() {
	go c.readLoop()
	reason := "client closed the connection"
	registered := false
	defer func() {
		c.cancelWrite()
		c.t.abort()
		close(c.done)
		<-c.readDone
		if registered {
			c.e.removeConnection(c)
			// The token is forgotten before the disconnect is
			// announced: whoever hears of it and connects with the
			// token again is told the connection has ended.
			c.e.forgetToken(c.hubName, c.token)
			c.log.Info("client disconnected", "reason", reason)
			c.publishDisconnected(reason)
			c.upstream.disconnected(disconnectError(reason))
		}
	}()

	records, ok, why := c.handshake()
	if !ok {
		c.log.Info("handshake failed", "reason", why)
		return
	}
	if !c.e.addConnection(c) {
		c.hangUp(c.proto.Close("The emulator is shutting down.", true), closeGoingAway)
		c.log.Info("handshake failed", "reason", "emulator shutting down")
		return
	}
	registered = true
	c.publishConnected()
	if c.user != "" {
		c.log.Info("client connected", "protocol", c.proto.String(), "user", c.user)
	} else {
		c.log.Info("client connected", "protocol", c.proto.String())
	}
	if c.proto.Binary() {
		// The handshake response is JSON, but in the connection's
		// transfer format, as ASP.NET Core sends it.
		c.t.useBinary()
	}
	if err := c.write(hubproto.HandshakeResponse("")); err != nil {
		reason = "write failed"
		return
	}
	c.startStateful() // run ends it
	c.upstream.connected()
	reason = c.run(records)
}

// handshake waits for the client's handshake request, which is JSON
// whatever the protocol, and answers a bad one. It sets the connection's
// protocol and returns the messages that followed the request.
func (c *connection) handshake() (rest [][]byte, ok bool, reason string) {
	timer := time.NewTimer(c.e.opts.handshakeTimeout)
	defer timer.Stop()
	limit := int(c.e.opts.maxMessageSize)
	var buf []byte // the request so far, when it spans frames
	for {
		select {
		case frame, open := <-c.incoming:
			if !open {
				return nil, false, "client left before the handshake"
			}
			if len(buf) > 0 {
				buf = append(buf, frame...)
				frame = buf
			}
			i := bytes.IndexByte(frame, hubproto.RecordSeparator)
			if i < 0 && len(frame) > limit || i > limit {
				c.hangUp(hubproto.HandshakeResponse("Handshake request is too large."), closeNormal)
				return nil, false, "handshake too large"
			}
			if i < 0 {
				buf = append(buf[:0:0], frame...)
				continue
			}
			p, version, problem := hubproto.ParseHandshakeVersion(frame[:i], c.t.supportsBinary())
			if problem != "" {
				c.hangUp(hubproto.HandshakeResponse(problem), closeNormal)
				return nil, false, "handshake rejected: " + problem
			}
			c.proto, c.version = p, version
			c.reader = p.NewReader(limit)
			records, err := c.reader.Split(frame[i+1:])
			if err != nil {
				c.hangUp(c.proto.Close(tooLargeOrInvalid(err), false), closeNormal)
				return nil, false, err.Error()
			}
			return records, true, ""
		case <-timer.C:
			c.hangUp(hubproto.HandshakeResponse("Handshake was canceled."), closeNormal)
			return nil, false, "handshake timed out"
		case <-c.e.closing:
			c.closeTransport(closeGoingAway)
			return nil, false, "emulator shutting down"
		}
	}
}

// tooLargeOrInvalid is the Close error for a message the reader refused.
func tooLargeOrInvalid(err error) string {
	if errors.Is(err, hubproto.ErrTooLarge) {
		return "Connection closed with an error: message too large."
	}
	return "Connection closed with an error: invalid hub protocol message (" + err.Error() + ")."
}

// readFailure says why the client's side ended, telling the client when
// it can still hear it.
func (c *connection) readFailure() string {
	switch {
	case errors.Is(c.readErr, errMessageTooLarge):
		c.hangUp(c.proto.Close("Connection closed with an error: message too large.", false), closeNormal)
		return "message too large"
	case errors.Is(c.readErr, errClientGone):
		return "client stopped polling"
	}
	return "client closed the connection"
}

// runLink is the connected state over one transport: it returns why the
// connection, or with stateful reconnect the transport, ended (see run).
func (c *connection) runLink(first [][]byte) string {
	keepAlive := time.NewTimer(c.e.opts.keepAliveInterval)
	defer keepAlive.Stop()
	clientTimeout := time.NewTimer(c.e.opts.clientTimeout)
	defer clientTimeout.Stop()
	if c.t.inherentKeepAlive() {
		// Long Polling: the client neither pings nor expects Pings; the
		// transport drops it when it stops polling.
		keepAlive.Stop()
		clientTimeout.Stop()
	}

	if reason, stop := c.handleRecords(first); stop {
		return reason
	}
	if c.sr == nil {
		if ws, ok := c.t.(*wsTransport); ok && sendRoomSupported && ws.raw != nil {
			// The writer pool writes the broadcasts and records; this
			// goroutine takes what needs more (see writerpool.go).
			c.queue.pooled.Store(true)
			defer c.queue.pooled.Store(false)
			c.queue.signal() // what was queued before goes now
		}
	}
	for {
		c.idle.Store(true)
		select {
		case <-c.queue.wake:
			c.idle.Store(false)
			c.queue.awoken()
			if c.poolFailed.Load() {
				return c.writeFailure()
			}
			// The wake-up also brings a shutdown, a close asked for by
			// REST and an overflow: fewer channels to wait on make
			// each wait cheaper, with 10,000 connections waiting.
			if c.shuttingDown() {
				return c.goodbye()
			}
			if req := c.closeReq.Load(); req != nil {
				// What was sent before the close goes first: the
				// client hears it in the order it was sent (an
				// :execute of SendMessage then CloseConnection).
				if _, err := c.writeQueued(); err != nil {
					return c.writeFailure()
				}
				c.hangUp(c.proto.Close(req.errorText, req.allowReconnect), closeNormal)
				if req.errorText != "" {
					return "closed by REST call: " + req.errorText
				}
				return "closed by REST call"
			}
			if c.queue.over.Load() {
				// A write in progress was aborted, which ended the
				// transport; otherwise the client is told why it goes.
				c.closeTransport(closeTooSlow)
				return "send queue full (client too slow)"
			}
			if c.sr != nil {
				if err := c.statefulWake(); err != nil {
					return c.writeFailure()
				}
				if c.sr.holding() {
					continue // back-pressure: an Ack wakes the writer
				}
			}
			// Everything waiting goes now, in as few frames as fit,
			// without waiting for more: what arrives meanwhile goes in
			// the next burst.
			wrote, err := c.writeQueued()
			if !wrote {
				continue // the token of records an earlier wake-up took
			}
			if err != nil {
				return c.writeFailure()
			}
			if !c.t.inherentKeepAlive() {
				keepAlive.Reset(c.e.opts.keepAliveInterval)
			}
		case frame, open := <-c.incoming:
			c.idle.Store(false)
			if !open {
				return c.readFailure()
			}
			if !c.t.inherentKeepAlive() {
				clientTimeout.Reset(c.e.opts.clientTimeout)
			}
			records, err := c.reader.Split(frame)
			if err != nil {
				c.hangUp(c.proto.Close(tooLargeOrInvalid(err), false), closeNormal)
				if errors.Is(err, hubproto.ErrTooLarge) {
					return "message too large"
				}
				return "invalid message from client"
			}
			if reason, stop := c.handleRecords(records); stop {
				return reason
			}
		case <-keepAlive.C:
			c.idle.Store(false)
			if last := c.poolWrote.Load(); last != 0 {
				if since := time.Since(time.Unix(0, last)); since < c.e.opts.keepAliveInterval {
					keepAlive.Reset(c.e.opts.keepAliveInterval - since)
					continue
				}
			}
			if err := c.write(c.proto.Ping()); err != nil {
				return c.writeFailure()
			}
			keepAlive.Reset(c.e.opts.keepAliveInterval)
		case <-clientTimeout.C:
			c.idle.Store(false)
			c.hangUp(c.proto.Close("Client timeout elapsed without receiving a message from the client.", false), closeNormal)
			return "client timeout"
		}
	}
}

// shuttingDown reports whether Shutdown has begun.
func (c *connection) shuttingDown() bool {
	select {
	case <-c.e.closing:
		return true
	default:
		return false
	}
}

// goodbye sends the Close message of a shutdown, ahead of anything still
// queued, and hangs up.
func (c *connection) goodbye() string {
	c.hangUp(c.proto.Close("The emulator is shutting down.", true), closeGoingAway)
	return "emulator shutting down"
}

// writeQueued writes everything the queue holds; see writeBurst.
func (c *connection) writeQueued() (wrote bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeQueuedLocked()
}

// writeQueuedLocked is writeQueued with wmu held.
func (c *connection) writeQueuedLocked() (wrote bool, err error) {
	records, end := c.queue.take(c.spare)
	wrote, err = c.writeBurst(records, end)
	// The storage is kept for the next burst, not what it held: an idle
	// connection keeps neither the records nor the log chunks their
	// marks lead to.
	clear(records)
	c.spare = records
	if cap(c.spare) > 256 {
		c.spare = nil // a burst's storage is not kept
	}
	return wrote, err
}

// batchPool holds the buffers of frames packed from several pieces, so a
// connection keeps no frame buffer between bursts.
var batchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, maxBatchBytes)
	return &b
}}

// writeBurst writes, in the order they were sent, the broadcasts and the
// records taken from the queue: for each record the broadcasts before its
// mark, then the record, then the broadcasts up to end. Pieces are packed
// into frames of at most maxBatchBytes (a larger piece goes alone); a frame
// of one run of broadcasts is written straight from the log. wrote reports
// whether anything was written.
func (c *connection) writeBurst(records []queued, end *logMark) (wrote bool, err error) {
	cur := &c.queue.cursor
	size := 0
	var failed error // a stateful connection tracks what follows a failed write
	flush := func() error {
		err := failed
		switch {
		case err != nil:
		case len(c.pieces) == 0:
			return nil
		case len(c.pieces) == 1:
			err = c.writeLocked(c.pieces[0])
		default:
			bp := batchPool.Get().(*[]byte)
			b := (*bp)[:0]
			for _, p := range c.pieces {
				b = append(b, p...)
			}
			err = c.writeLocked(b)
			if cap(b) <= maxBatchBytes {
				*bp = b
				batchPool.Put(bp)
			}
		}
		clear(c.pieces)
		c.pieces, size, wrote = c.pieces[:0], 0, true
		if err != nil && c.sr != nil {
			// Everything taken is kept for the replay: the rest of the
			// burst goes into the replay buffer unwritten.
			failed = err
			return nil
		}
		return err
	}
	add := func(p []byte) error {
		if c.sr != nil {
			c.track(p)
		}
		if len(c.pieces) > 0 && size+len(p) > maxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		c.pieces = append(c.pieces, p)
		size += len(p)
		return nil
	}
	// addBroadcasts adds the runs of the log up to m.
	addBroadcasts := func(m *logMark) error {
		for run := cur.next(m); run != nil; run = cur.next(m) {
			if err := add(run); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range records {
		if err := addBroadcasts(r.at); err != nil {
			return true, err
		}
		if err := add(r.record); err != nil {
			return true, err
		}
	}
	if err := addBroadcasts(end); err != nil {
		return true, err
	}
	err = flush()
	if cap(c.pieces) > 64 {
		c.pieces = nil
	}
	if failed != nil {
		return true, failed
	}
	return wrote, err
}

// writeFailure says why a write failed.
func (c *connection) writeFailure() string {
	select {
	case <-c.queue.overflowed:
		return "send queue full (client too slow)"
	default:
	}
	if c.shuttingDown() {
		return "emulator shutting down (write did not finish)"
	}
	return "write failed or timed out (client not reading)"
}

// wsFrameOverhead is more than a WebSocket frame header of a server
// (at most 10 bytes), counted per burst by the writer pool's room check.
const wsFrameOverhead = 64

// poolWrite is a writer pool worker's turn at the connection, which holds
// its queue's wake-up token: it writes what waits when that cannot block,
// and otherwise hands the token to the connection's goroutine.
func (c *connection) poolWrite() {
	q := c.queue
	// The token is taken first, as the connection's goroutine takes it:
	// a close or an overflow signalled from now on leaves a new one, and
	// one signalled before is seen below.
	q.awoken()
	if !q.pooled.Load() || !c.wmu.TryLock() {
		// The connection's goroutine, or another worker, is writing:
		// the goroutine takes this turn when it is free.
		q.wakeWriter()
		return
	}
	ws, _ := c.t.(*wsTransport)
	if ws == nil || !c.idle.Load() || c.poolFailed.Load() || q.over.Load() || c.closeReq.Load() != nil || c.e.faults.armed() || c.shuttingDown() ||
		!ws.hasRoom(int(q.pending())+wsFrameOverhead) {
		c.wmu.Unlock()
		q.wakeWriter()
		return
	}
	c.inPool = true
	wrote, err := c.writeQueuedLocked()
	c.inPool = false
	if wrote && err == nil {
		c.poolWrote.Store(time.Now().UnixNano())
	}
	c.wmu.Unlock()
	if err != nil {
		c.poolFailed.Store(true)
		q.wakeWriter()
	}
}
