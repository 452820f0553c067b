package emulator

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// Stateful reconnect (the clients' withStatefulReconnect(), ASP.NET Core
// SignalR 8 and later) lets a WebSocket client whose socket drops reopen
// it under the same connection, both sides replaying what the other has
// not acknowledged, so that a network blip loses and doubles nothing.
//
//   - Negotiate grants it (useStatefulReconnect) to a client that asks with
//     useStatefulReconnect=true, unless Options.DisableStatefulReconnect;
//     only with negotiate version 1, whose connection token is secret (a
//     version 0 token is the public connection id). The clients use it on
//     WebSockets only, and so does the emulator: Server-Sent Events and
//     Long Polling connections behave as before.
//   - It is on for a connection when the grant is followed by a version 2
//     handshake. Each side numbers its trackable messages (types 1-5) from
//     1; the emulator keeps what it wrote in a replay buffer until the
//     client's Ack, acknowledges what it received about once a second (as
//     the official client does), and drops a client message whose id it
//     has already handled, so a message the client replays reaches the
//     upstream once.
//   - When the socket drops without a clean close (no Close message, no
//     WebSocket status 1000 or 1001), the connection stays, with its id,
//     user, groups, pending :invoke calls and send queue, for
//     Options.StatefulReconnectWindow (default 15s, ASP.NET Core's
//     DisconnectTimeout). REST sends meanwhile are queued, within the send
//     queue's bounds. A WebSocket to the same URL with the same connection
//     token and a token of the same user resumes it: the emulator sends
//     Sequence with the id of the first message it replays, then the
//     unacknowledged messages in order, then what was queued. A socket that
//     arrives while the old one still looks open replaces it (the client
//     makes a single attempt, so refusing it with 409 would lose the
//     connection).
//   - The upstream sees none of it: no disconnected/connected pair for a
//     reconnect inside the window; one disconnected when the window ends
//     without one, or when the connection ends for any other reason.
//   - Back-pressure: once StatefulReconnectBufferSize bytes wait for an Ack,
//     nothing more is written until one comes; the unacknowledged bytes
//     count toward SendQueueBytes, so a client that stops acknowledging is
//     closed as too slow, like one that stops reading.

// Defaults of the stateful reconnect options.
const (
	// DefaultStatefulReconnectWindow is how long a dropped connection waits
	// for its client: ASP.NET Core's DisconnectTimeout, the window the
	// official clients are built against. Their single reconnect attempt
	// comes at once, so the window mostly covers the time before the
	// emulator notices that a socket is gone.
	DefaultStatefulReconnectWindow = 15 * time.Second
	// DefaultStatefulReconnectBufferSize is ASP.NET Core's
	// HubOptions.StatefulReconnectBufferSize and the clients' default.
	DefaultStatefulReconnectBufferSize = 100_000
)

// statefulAckInterval is how long after a client message the emulator
// acknowledges it, as the official client acknowledges the emulator's.
const statefulAckInterval = time.Second

// resumeTable finds the connections that may be resumed, by connection
// token. Its zero value is ready.
type resumeTable struct {
	mu      sync.Mutex
	byToken map[string]*connection
}

func (rt *resumeTable) add(token string, c *connection) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.byToken == nil {
		rt.byToken = make(map[string]*connection)
	}
	rt.byToken[token] = c
}

func (rt *resumeTable) get(token string) *connection {
	if token == "" {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.byToken[token]
}

func (rt *resumeTable) remove(token string, c *connection) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.byToken[token] == c {
		delete(rt.byToken, token)
	}
}

// statefulState is a connection's stateful reconnect state. Unless said
// otherwise, only the connection's writer (serve's goroutine) uses it.
type statefulState struct {
	token  string
	swap   *swapTransport
	limit  int64
	replay replayBuffer

	// recvNext is the id the client's next trackable message has, and
	// recvDone the highest id handled; acked is the last one acknowledged.
	recvNext, recvDone, acked uint64
	// holdingBack is set while the replay buffer is full.
	holdingBack bool
	// awaiting is set while the connection has lost its socket and waits
	// within its window for the client's reconnect (see Snapshot).
	awaiting atomic.Bool

	ackTimer *time.Timer
	ackArmed atomic.Bool // the timer runs; set by the writer, cleared by it firing
	ackDue   atomic.Bool // the timer fired: an Ack is owed

	// mu guards offered and ended, which a reconnect's handler uses.
	mu      sync.Mutex
	offered *wsTransport // a new socket for the writer to adopt
	ended   bool
}

// claimPendingStateful is claimPending that also reports whether negotiate
// granted stateful reconnect to the token.
func (e *Emulator) claimPendingStateful(token, hubName string) (id string, stateful bool, status int) {
	h := e.hub(hubName, false)
	if h == nil {
		return "", false, http.StatusNotFound
	}
	return h.pending.claimStateful(token, time.Now())
}

// grantsStatefulReconnect reports whether negotiate grants stateful
// reconnect to r: the client asked, negotiate version 1, not disabled.
func (e *Emulator) grantsStatefulReconnect(r *http.Request, version int) bool {
	return e.opts.statefulReconnect && version >= 1 && r.URL.Query().Get("useStatefulReconnect") == "true"
}

// grantStateful prepares c, whose transport is a swapTransport, for
// stateful reconnect; startStateful turns it on if the handshake asks.
func (c *connection) grantStateful(token string) {
	c.sr = &statefulState{
		token:    token,
		swap:     c.t.(*swapTransport),
		limit:    c.e.opts.statefulReconnectBuffer,
		replay:   newReplayBuffer(),
		recvNext: 1,
	}
}

// startStateful is called once the handshake is answered, before run: with a
// version 2 handshake the connection becomes resumable, otherwise it is a
// classic one.
func (c *connection) startStateful() {
	if c.sr == nil {
		return
	}
	if c.version < hubproto.HandshakeVersionStatefulReconnect {
		c.sr = nil
		return
	}
	c.resumable.Store(c.sr)
	c.e.resumable.add(c.sr.token, c)
}

// endStateful forgets a connection that ended: it cannot be resumed, and
// a socket offered meanwhile is cut.
func (c *connection) endStateful() {
	sr := c.sr
	if sr == nil {
		return
	}
	if c.hub != nil {
		// Refused as unknown (404) from now on, not as connected (409):
		// forgotten before it leaves the resume table, so that no
		// reconnect finds it in neither.
		c.hub.pending.forget(sr.token)
	}
	c.e.resumable.remove(sr.token, c)
	sr.mu.Lock()
	sr.ended = true
	offered := sr.offered
	sr.offered = nil
	sr.mu.Unlock()
	if offered != nil {
		offered.abort()
	}
	if sr.ackTimer != nil {
		sr.ackTimer.Stop()
	}
}

// run is the connected state: runLink, and with stateful reconnect, after
// a transport is lost, the wait for the client's new one. It returns why
// the connection ended.
func (c *connection) run(first [][]byte) string {
	for {
		reason := c.runLink(first)
		if c.sr == nil || !c.transportLost(reason) {
			c.endStateful()
			return reason
		}
		first = nil
		if reason, resumed := c.awaitResume(reason); !resumed {
			c.endStateful()
			return reason
		}
	}
}

// transportLost reports whether runLink ended because the socket went
// away rather than because the conversation ended: a read or write error,
// not a clean WebSocket close, and no write timeout, overflow or shutdown
// (those end writeCtx, and the connection with it).
func (c *connection) transportLost(reason string) bool {
	if c.writeCtx.Err() != nil {
		return false
	}
	switch reason {
	case "write failed or timed out (client not reading)":
		return true
	case "client closed the connection":
		switch websocket.CloseStatus(c.readErr) {
		case websocket.StatusNormalClosure, websocket.StatusGoingAway:
			return false
		}
		return true
	}
	return false
}

// dropLink ends the current transport and waits for its reader.
func (c *connection) dropLink() {
	c.t.abort()
	for range c.incoming {
	}
	<-c.readDone
	c.sr.swap.detach()
}

// awaitResume waits, up to the window, for the client's new socket and
// resumes the connection on it; otherwise it returns why the connection
// ends.
func (c *connection) awaitResume(lost string) (reason string, resumed bool) {
	c.dropLink()
	c.sr.awaiting.Store(true)
	defer c.sr.awaiting.Store(false)
	window := c.e.opts.statefulReconnectWindow
	c.log.Info("transport lost; the connection waits for a stateful reconnect", "reason", lost, "window", window.String())
	timer := time.NewTimer(window)
	defer timer.Stop()
	for {
		if t := c.sr.takeOffered(); t != nil {
			if err := c.resume(t); err == nil {
				c.log.Info("client reconnected (stateful reconnect)")
				return "", true
			}
			c.dropLink()
			continue
		}
		select {
		case <-c.queue.wake:
			c.queue.awoken()
			switch req := c.closeReq.Load(); {
			case c.shuttingDown():
				return "emulator shutting down", false
			case req != nil && req.errorText != "":
				return "closed by REST call: " + req.errorText, false
			case req != nil:
				return "closed by REST call", false
			case c.queue.over.Load():
				return "send queue full (client too slow)", false
			}
		case <-timer.C:
			return "the client did not reconnect within the stateful reconnect window (" + window.String() + ")", false
		}
	}
}

// takeOffered returns the socket a reconnect offered, if any.
func (sr *statefulState) takeOffered() *wsTransport {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	t := sr.offered
	sr.offered = nil
	return t
}

// resume continues the connection over t: a new reader, then the
// emulator's Sequence and the replay of what the client has not
// acknowledged, then whatever is queued.
func (c *connection) resume(t *wsTransport) error {
	c.sr.swap.attach(t)
	c.incoming = make(chan []byte)
	c.readDone = make(chan struct{})
	c.readErr = nil
	go c.readLoop()
	if err := c.write(c.proto.Sequence(c.sr.replay.resumeFrom())); err != nil {
		return err
	}
	var frame []byte
	for _, p := range c.sr.replay.held() {
		if len(frame) > 0 && len(frame)+len(p.data) > maxBatchBytes {
			if err := c.write(frame); err != nil {
				return err
			}
			frame = frame[:0]
		}
		frame = append(frame, p.data...)
	}
	if len(frame) > 0 {
		if err := c.write(frame); err != nil {
			return err
		}
	}
	c.queue.signal() // what waits goes next
	return nil
}

// resumeWebSocket serves a WebSocket that carries the token of a stateful
// reconnect connection: the client's reconnect. The same hub and the same
// user are required; the socket is handed to the connection's writer.
func (e *Emulator) resumeWebSocket(w http.ResponseWriter, r *http.Request, c *connection, hubName string, claims jwt.MapClaims) {
	if c.hubName != hubName {
		http.Error(w, "No connection with that id: negotiate first, and connect within the negotiate timeout.", http.StatusNotFound)
		return
	}
	if userID(claims) != c.user {
		e.opts.logger.Info("reconnect refused", "hub", hubName, "reason", "access token of another user")
		http.Error(w, "Forbidden: the connection belongs to another user; reconnect with the access token of the user who connected.", http.StatusForbidden)
		return
	}
	if c.sr.isEnded() {
		http.Error(w, "The connection has ended: negotiate again.", http.StatusNotFound)
		return
	}
	t, err := acceptWebSocket(w, r, e.opts.maxMessageSize+maxBatchBytes)
	if err != nil {
		return // Accept has written the error response.
	}
	if !c.sr.offer(t) {
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.closeTimeout)
		t.close(ctx, closeNormal)
		cancel()
		return
	}
	c.queue.signal()
}

func (sr *statefulState) isEnded() bool {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return sr.ended
}

// offer hands t to the connection's writer, replacing a socket offered
// before and cutting the current one, which the client has given up on. It
// reports false once the connection has ended.
func (sr *statefulState) offer(t *wsTransport) bool {
	sr.mu.Lock()
	if sr.ended {
		sr.mu.Unlock()
		return false
	}
	old := sr.offered
	sr.offered = t
	sr.mu.Unlock()
	if old != nil {
		old.abort()
	}
	sr.swap.abort()
	return true
}

// track numbers the trackable messages of p, a piece about to be written,
// and keeps it for a replay.
func (c *connection) track(p []byte) {
	before := c.sr.replay.bytes
	c.sr.replay.add(p, countMessages(c.proto, p))
	c.queue.held.Add(c.sr.replay.bytes - before)
}

// writeRecord writes one record outside the queue; with stateful
// reconnect, a trackable one is numbered and kept for a replay.
func (c *connection) writeRecord(p []byte) error {
	if c.sr != nil {
		c.track(p)
	}
	return c.write(p)
}

// holding reports whether the replay buffer is full, and notes it so that
// the Ack that frees it wakes the writer.
func (sr *statefulState) holding() bool {
	sr.holdingBack = sr.replay.bytes >= sr.limit
	return sr.holdingBack
}

// statefulWake sends the Ack that is due, if one is.
func (c *connection) statefulWake() error {
	sr := c.sr
	if !sr.ackDue.Swap(false) || sr.acked == sr.recvDone {
		return nil
	}
	sr.acked = sr.recvDone
	return c.write(c.proto.Ack(sr.recvDone))
}

// receive numbers a trackable message from the client and reports whether
// it is new; a replayed one the emulator already handled is dropped.
func (sr *statefulState) receive(c *connection) bool {
	id := sr.recvNext
	sr.recvNext++
	if id < sr.recvDone {
		return false
	}
	if id == sr.recvDone {
		// The client replays its latest message: it never saw the Ack
		// for it (lost in the drop), so the Ack goes again, as the
		// official client does in the other direction.
		sr.acked = 0
		sr.armAck(c)
		return false
	}
	sr.recvDone = id
	sr.armAck(c)
	return true
}

// armAck starts the Ack timer unless it runs.
func (sr *statefulState) armAck(c *connection) {
	if !sr.ackArmed.Load() {
		sr.ackArmed.Store(true)
		if sr.ackTimer == nil {
			sr.ackTimer = time.AfterFunc(statefulAckInterval, func() {
				sr.ackDue.Store(true)
				sr.ackArmed.Store(false)
				c.queue.signal()
			})
		} else {
			sr.ackTimer.Reset(statefulAckInterval)
		}
	}
}

// sequenceAheadError is the Close error for a client Sequence past what
// the emulator received (messages would be missing), in the words the
// official client uses for the same fault.
const sequenceAheadError = "Sequence ID greater than amount of messages we've received."

// handleSequenceID acts on the client's Ack (the emulator's messages it
// has handled, which the replay buffer drops) or Sequence (the id of the
// next message it sends, after a reconnect).
func (c *connection) handleSequenceID(record []byte) (reason string, stop bool) {
	typ, id, err := c.proto.ParseSequenceID(record)
	if err != nil {
		c.hangUp(c.proto.Close("Connection closed with an error: invalid hub protocol message ("+err.Error()+").", false), closeNormal)
		return "invalid message from client", true
	}
	sr := c.sr
	if typ == hubproto.TypeSequence {
		if id == 0 || id > sr.recvDone+1 {
			c.hangUp(c.proto.Close("Connection closed with an error: "+sequenceAheadError, false), closeNormal)
			return "client Sequence past the messages received", true
		}
		sr.recvNext = id
		return "", false
	}
	c.queue.held.Add(-sr.replay.ack(id))
	if sr.holdingBack && sr.replay.bytes < sr.limit {
		sr.holdingBack = false
		c.queue.signal()
	}
	return "", false
}

// swapTransport is the transport of a stateful reconnect connection: the
// current WebSocket, which a reconnect replaces. Between the two there is
// none, and reads and writes fail.
type swapTransport struct {
	cur    atomic.Pointer[wsTransport]
	binary bool // set by useBinary, applied to every socket attached
}

func (s *swapTransport) attach(t *wsTransport) {
	if s.binary {
		t.useBinary()
	}
	s.cur.Store(t)
}

func (s *swapTransport) detach() { s.cur.Store(nil) }

func (s *swapTransport) readFrame() ([]byte, error) {
	if t := s.cur.Load(); t != nil {
		return t.readFrame()
	}
	return nil, errTransportEnded
}

func (s *swapTransport) writeFrame(ctx context.Context, frame []byte) error {
	if t := s.cur.Load(); t != nil {
		return t.writeFrame(ctx, frame)
	}
	return errTransportEnded
}

func (s *swapTransport) close(ctx context.Context, kind closeKind) {
	if t := s.cur.Load(); t != nil {
		t.close(ctx, kind)
	}
}

func (s *swapTransport) abort() {
	if t := s.cur.Load(); t != nil {
		t.abort()
	}
}

func (s *swapTransport) supportsBinary() bool { return true }

func (s *swapTransport) useBinary() {
	s.binary = true
	if t := s.cur.Load(); t != nil {
		t.useBinary()
	}
}

func (s *swapTransport) inherentKeepAlive() bool { return false }
