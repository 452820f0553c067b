package signalr

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/funcsignalr/signalr/internal/serviceproto"
)

// Timings of service connections, as the service SDK keeps them; tests
// shorten them.
var (
	persistKeepAlive        = 5 * time.Second
	persistIdleTimeout      = 30 * time.Second
	persistHandshakeTimeout = 15 * time.Second
	persistRetryBase        = 200 * time.Millisecond
	persistRetryMax         = 30 * time.Second
)

// persistMaxQueued bounds the operations waiting on one connection; a
// sender beyond it waits (within its bound) for room.
const persistMaxQueued = 4096

// persistMaxBatch bounds the bytes written in one frame.
const persistMaxBatch = 256 << 10

// barrierConnection is the connection id of the check written after sends:
// its Ack, whatever its status, confirms the sends before it.
const barrierConnection = "funcsignalr-barrier"

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// opResult is what confirmed an operation: an Ack's status and text, or a
// client's completion.
type opResult struct {
	status        int32
	text          string
	protocol      string
	payload       []byte
	completionErr *string
}

// svcOp is one operation on its way: its framed message and where its
// outcome goes.
type svcOp struct {
	frame  []byte
	ackID  int32  // its own Ack, or 0
	invID  string // a client invocation's id, or ""
	result opResult
	err    error
	done   chan struct{}
}

func (op *svcOp) finish(res opResult, err error) {
	op.result, op.err = res, err
	close(op.done)
}

// hubPool is one hub's connections at one endpoint.
type hubPool struct {
	p       *persistent
	conns   []*svcConn
	next    atomic.Uint32
	display string // the URL without the query, for errors

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a connection opens or fails for good
}

func newHubPool(p *persistent, base, hub string) *hubPool {
	scheme := "ws"
	if strings.HasPrefix(base, "https://") {
		scheme = "wss"
	}
	host := base[strings.Index(base, "://")+3:]
	hostOnly := host
	if i := strings.LastIndex(host, ":"); i > 0 && !strings.HasSuffix(host, "]") {
		hostOnly = host[:i]
	}
	baseScheme := base[:strings.Index(base, "://")]
	hp := &hubPool{p: p, display: scheme + "://" + host + "/server/", changed: make(chan struct{})}
	aud := baseScheme + "://" + hostOnly + "/server/?hub=" + url.QueryEscape(hub)
	for i := 0; i < p.count; i++ {
		sc := &svcConn{hp: hp, aud: aud,
			url: scheme + "://" + host + "/server/?hub=" + url.QueryEscape(hub) + "&cid=" + randomHex(8)}
		hp.conns = append(hp.conns, sc)
		p.wg.Add(1)
		go sc.supervise()
	}
	return hp
}

func (hp *hubPool) signal() {
	hp.mu.Lock()
	close(hp.changed)
	hp.changed = make(chan struct{})
	hp.mu.Unlock()
}

// run sends m on the next open connection and waits for its
// confirmation, at most wait after it was written.
func (hp *hubPool) run(ctx context.Context, m *serviceproto.Message, wait time.Duration) (opResult, error) {
	p := hp.p
	op := &svcOp{done: make(chan struct{}), invID: m.InvocationID}
	switch m.Type {
	case serviceproto.TypeJoinGroupWithAck, serviceproto.TypeLeaveGroupWithAck, serviceproto.TypeUserJoinGroupWithAck,
		serviceproto.TypeUserLeaveGroupWithAck, serviceproto.TypeCheckUserInGroupWithAck, serviceproto.TypeCheckGroupExistenceWithAck,
		serviceproto.TypeCheckConnectionExistenceWithAck, serviceproto.TypeCheckUserExistenceWithAck,
		serviceproto.TypeCloseUserConnectionsWithAck, serviceproto.TypeCloseGroupConnectionsWithAck:
		op.ackID = p.nextAck()
		m.AckID = op.ackID
	}
	frame, err := serviceproto.Encode(m)
	if err != nil {
		return opResult{}, err
	}
	op.frame = frame
	deadline := time.NewTimer(p.c.timeout)
	defer deadline.Stop()
	for {
		link, fatal := hp.pick()
		if fatal != nil {
			return opResult{}, fmt.Errorf("%w: %w", errNotSent, fatal)
		}
		if link == nil {
			hp.mu.Lock()
			changed := hp.changed
			hp.mu.Unlock()
			if link, fatal = hp.pick(); link == nil && fatal == nil {
				select {
				case <-changed:
					continue
				case <-ctx.Done():
					if last := hp.lastError(); last != nil {
						return opResult{}, fmt.Errorf("%w: %w; the last attempt to open one: %w", errNotSent, ctx.Err(), last)
					}
					return opResult{}, fmt.Errorf("%w: %w", errNotSent, ctx.Err())
				case <-deadline.C:
					if last := hp.lastError(); last != nil {
						return opResult{}, fmt.Errorf("%w: none opened within %v; the last attempt to open one: %w", errNotSent, p.c.timeout, last)
					}
					return opResult{}, fmt.Errorf("%w: none opened within %v", errNotSent, p.c.timeout)
				case <-p.ctx.Done():
					return opResult{}, fmt.Errorf("%w: %w", errNotSent, errPersistClosed)
				}
			}
			if link == nil {
				continue
			}
		}
		if err := link.submit(ctx, op, deadline.C); err != nil {
			if errors.Is(err, errLinkDown) {
				continue // never written: another connection may take it
			}
			return opResult{}, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-op.done:
			timer.Stop()
			if errors.Is(op.err, errRequeue) {
				op.done, op.err = make(chan struct{}), nil
				continue // the link ended before writing it
			}
			return op.result, op.err
		case <-timer.C:
			return opResult{}, maybeAppliedError{fmt.Errorf("no confirmation came within %v", wait)}
		case <-ctx.Done():
			timer.Stop()
			return opResult{}, maybeAppliedError{fmt.Errorf("%w before the confirmation came", ctx.Err())}
		}
	}
}

// pick returns the next open connection in turn, or nil; fatal is the
// refusal when every connection was refused for good.
func (hp *hubPool) pick() (*svcLink, error) {
	n := uint32(len(hp.conns))
	start := hp.next.Add(1)
	var fatal error
	refused := 0
	for i := uint32(0); i < n; i++ {
		sc := hp.conns[(start+i)%n]
		sc.mu.Lock()
		link, f := sc.link, sc.fatal
		sc.mu.Unlock()
		if link != nil {
			return link, nil
		}
		if f != nil {
			fatal = f
			refused++
		}
	}
	if refused == int(n) {
		return nil, fatal
	}
	return nil, nil
}

// lastError is why a connection of the pool last failed to open, if one
// did since it was last open.
func (hp *hubPool) lastError() error {
	for _, sc := range hp.conns {
		sc.mu.Lock()
		err := sc.lastErr
		sc.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *persistent) nextAck() int32 {
	for {
		if id := p.ackIDs.Add(1); id > 0 {
			return id
		}
		p.ackIDs.CompareAndSwap(p.ackIDs.Load(), 0)
	}
}

// svcConn is one slot of the pool: it keeps a connection open, reopening
// it with backoff, until the Client closes or the service refuses it.
type svcConn struct {
	hp       *hubPool
	url, aud string

	mu      sync.Mutex
	link    *svcLink // nil while down
	fatal   error    // the service refused the handshake: no more tries
	lastErr error    // why the last attempt to open failed, until one opens
}

func (sc *svcConn) kill() {
	sc.mu.Lock()
	l := sc.link
	sc.mu.Unlock()
	if l != nil {
		l.fail(errPersistClosed)
	}
}

func (sc *svcConn) supervise() {
	p := sc.hp.p
	defer p.wg.Done()
	delay := persistRetryBase
	for p.ctx.Err() == nil {
		link, err := sc.dial()
		var refused *refusedError
		if errors.As(err, &refused) {
			sc.mu.Lock()
			sc.fatal = err
			sc.mu.Unlock()
			sc.hp.signal()
			return
		}
		if err != nil {
			sc.mu.Lock()
			sc.lastErr = err
			sc.mu.Unlock()
		}
		if err == nil {
			sc.mu.Lock()
			sc.link, sc.lastErr = link, nil
			sc.mu.Unlock()
			sc.hp.signal()
			opened := time.Now()
			link.serve()
			sc.mu.Lock()
			sc.link = nil
			sc.mu.Unlock()
			if time.Since(opened) > persistRetryMax {
				delay = persistRetryBase
			}
		}
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(delay*2, persistRetryMax)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
		}
	}
}

// refusedError is a handshake the service answered with an error.
type refusedError struct{ text string }

func (e *refusedError) Error() string { return "the service refused the service connection: " + e.text }

// dial opens the WebSocket and does the handshake, within
// persistHandshakeTimeout.
func (sc *svcConn) dial() (*svcLink, error) {
	p := sc.hp.p
	ctx, cancel := context.WithTimeout(p.ctx, persistHandshakeTimeout)
	defer cancel()
	bearer, err := p.c.bearer(ctx, sc.aud)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", bearer)
	h.Set("X-ASRS-Server-Id", p.serverID)
	h.Set("Asrs-User-Agent", p.c.userAgent)
	ws, resp, err := websocket.Dial(ctx, sc.url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: p.dialClient()})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, upgradeError(resp, sc.hp.display, bearer)
		}
		return nil, err
	}
	ws.SetReadLimit(8 << 20)
	hs, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypeHandshakeRequest, Version: serviceproto.Version, ConnectionType: serviceproto.ConnectionWeak})
	if err := ws.Write(ctx, websocket.MessageBinary, hs); err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	reader := serviceproto.NewReader(8 << 20)
	for {
		_, frame, err := ws.Read(ctx)
		if err != nil {
			_ = ws.CloseNow()
			return nil, err
		}
		bodies, err := reader.Split(frame)
		if err != nil {
			_ = ws.CloseNow()
			return nil, err
		}
		if len(bodies) == 0 {
			continue
		}
		m, err := serviceproto.Decode(bodies[0])
		if err != nil || m.Type != serviceproto.TypeHandshakeResponse {
			_ = ws.CloseNow()
			return nil, errors.New("the service's first message is not a HandshakeResponse")
		}
		if m.Error != "" {
			_ = ws.CloseNow()
			return nil, &refusedError{text: m.Error}
		}
		l := &svcLink{sc: sc, ws: ws, reader: reader, done: make(chan struct{}), wake: make(chan struct{}, 1),
			slots: make(chan struct{}, persistMaxQueued), acks: map[int32][]*svcOp{}, invs: map[string]*svcOp{}}
		return l, nil
	}
}

// upgradeError is what the service answered instead of upgrading, as the
// *ResponseError a REST call gets (status, error code, the reason from the
// start of the body websocket.Dial keeps, secrets redacted): a refused
// token says why, an identity token's audience or an expired key.
func upgradeError(resp *http.Response, url, bearer string) error {
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	re := readResponseError(resp, http.MethodGet, url, strings.TrimPrefix(bearer, "Bearer "))
	return fmt.Errorf("the service connection's upgrade was refused: %w", re)
}

// dialClient is the Client's HTTP client, made to speak HTTP/1.1, which
// the WebSocket upgrade needs.
func (p *persistent) dialClient() *http.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hc != nil {
		return p.hc
	}
	p.hc = p.c.hc
	if t, ok := p.c.hc.Transport.(*http.Transport); ok {
		t = t.Clone()
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		p.hc = &http.Client{Transport: t}
	}
	return p.hc
}

// errLinkDown marks an operation the link ended before writing.
var errLinkDown = errors.New("the service connection closed before the operation was written")

// svcLink is one open service connection: a writer goroutine batches
// queued operations into frames, the reader resolves Acks and
// completions.
type svcLink struct {
	sc     *svcConn
	ws     *websocket.Conn
	reader interface {
		Split([]byte) ([][]byte, error)
	}
	done  chan struct{}
	wake  chan struct{}
	slots chan struct{}

	mu    sync.Mutex
	dead  bool
	cause error
	queue []*svcOp
	acks  map[int32][]*svcOp // by Ack id: the op itself, or the sends a barrier covers
	invs  map[string]*svcOp
}

// submit queues op, waiting (within ctx and deadline) for room.
func (l *svcLink) submit(ctx context.Context, op *svcOp, deadline <-chan time.Time) error {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return errLinkDown
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errNotSent, ctx.Err())
	case <-deadline:
		return fmt.Errorf("%w: the connection's queue stayed full", errNotSent)
	}
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		<-l.slots
		return errLinkDown
	}
	l.queue = append(l.queue, op)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// fail ends the link: queued operations are not sent (another connection
// takes them), written ones are reported as maybe applied.
func (l *svcLink) fail(cause error) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	l.dead, l.cause = true, cause
	queued, acks, invs := l.queue, l.acks, l.invs
	l.queue, l.acks, l.invs = nil, nil, nil
	l.mu.Unlock()
	close(l.done)
	_ = l.ws.CloseNow()
	lost := maybeAppliedError{fmt.Errorf("written, then the service connection was lost before the confirmation: %w", cause)}
	for _, ops := range acks {
		for _, op := range ops {
			op.finish(opResult{}, lost)
		}
	}
	for _, op := range invs {
		op.finish(opResult{}, lost)
	}
	for _, op := range queued {
		// Queued but not written: the sender goes on to another
		// connection.
		op.finish(opResult{}, errRequeue)
	}
}

// errRequeue tells run that a queued operation was never written.
var errRequeue = errors.New("requeue")

// serve runs the writer and the reader until the link fails.
func (l *svcLink) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		l.writeLoop()
	}()
	l.readLoop()
	<-writerDone
}

func (l *svcLink) writeLoop() {
	p := l.sc.hp.p
	ticker := time.NewTicker(persistKeepAlive)
	defer ticker.Stop()
	ping, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypePing})
	lastWrite := time.Now()
	var frame []byte
	for {
		select {
		case <-l.done:
			return
		case <-ticker.C:
			if time.Since(lastWrite) >= persistKeepAlive {
				if !l.write(ping, p.ackTimeout) {
					return
				}
				lastWrite = time.Now()
			}
			continue
		case <-l.wake:
		}
		// Let the other senders that are ready queue theirs first, so
		// that one frame (one write, one barrier Ack) carries several
		// operations; without it the writer, woken by the first, wrote
		// nearly one frame per operation.
		runtime.Gosched()
		for {
			l.mu.Lock()
			if l.dead {
				l.mu.Unlock()
				return
			}
			n, size := 0, 0
			for n < len(l.queue) && (n == 0 || size+len(l.queue[n].frame) <= persistMaxBatch) {
				size += len(l.queue[n].frame)
				n++
			}
			if n == 0 {
				l.mu.Unlock()
				break
			}
			batch := l.queue[:n:n]
			l.queue = l.queue[n:]
			frame = frame[:0]
			var unacked []*svcOp
			for _, op := range batch {
				frame = append(frame, op.frame...)
				switch {
				case op.invID != "":
					l.invs[op.invID] = op
				case op.ackID != 0:
					l.acks[op.ackID] = []*svcOp{op}
				default:
					unacked = append(unacked, op)
				}
			}
			if len(unacked) > 0 {
				id := p.nextAck()
				l.acks[id] = unacked
				barrier, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypeCheckConnectionExistenceWithAck, ConnectionID: barrierConnection, AckID: id})
				frame = append(frame, barrier...)
			}
			l.mu.Unlock()
			for range batch {
				<-l.slots
			}
			if !l.write(frame, p.ackTimeout) {
				return
			}
			lastWrite = time.Now()
		}
	}
}

// write writes one frame within timeout; a failure ends the link, and the
// operations in the frame are then maybe applied.
func (l *svcLink) write(frame []byte, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := l.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
		l.fail(fmt.Errorf("a write failed: %w", err))
		return false
	}
	return true
}

func (l *svcLink) readLoop() {
	// One context for the link's life, ended when the link fails, under
	// each read's idle bound (a goroutine per frame read was the cost of
	// watching l.done before).
	base, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		<-l.done
		stop()
	}()
	for {
		ctx, cancel := context.WithTimeout(base, persistIdleTimeout)
		_, frame, err := l.ws.Read(ctx)
		idle := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			if idle {
				err = fmt.Errorf("nothing received for %v", persistIdleTimeout)
			}
			l.fail(err)
			return
		}
		bodies, err := l.reader.Split(frame)
		if err != nil {
			l.fail(err)
			return
		}
		for _, b := range bodies {
			m, err := serviceproto.Decode(b)
			if errors.Is(err, serviceproto.ErrUnknownType) {
				continue
			}
			if err != nil {
				l.fail(err)
				return
			}
			l.handle(&m)
		}
	}
}

func (l *svcLink) handle(m *serviceproto.Message) {
	switch m.Type {
	case serviceproto.TypeAck:
		l.mu.Lock()
		ops := l.acks[m.AckID]
		delete(l.acks, m.AckID)
		l.mu.Unlock()
		for _, op := range ops {
			if op.ackID == 0 {
				// A barrier: whatever its status, the sends before it
				// were read.
				op.finish(opResult{status: serviceproto.AckOk}, nil)
			} else {
				op.finish(opResult{status: m.Status, text: m.Message}, nil)
			}
		}
	case serviceproto.TypeClientCompletion, serviceproto.TypeErrorCompletion:
		l.mu.Lock()
		op := l.invs[m.InvocationID]
		delete(l.invs, m.InvocationID)
		l.mu.Unlock()
		if op == nil {
			return
		}
		if m.Type == serviceproto.TypeErrorCompletion {
			text := m.Error
			op.finish(opResult{completionErr: &text}, nil)
		} else {
			op.finish(opResult{protocol: m.Protocol, payload: m.Payload}, nil)
		}
	case serviceproto.TypeServiceError:
		l.fail(fmt.Errorf("the service reported an error: %s", m.Error))
	}
}
