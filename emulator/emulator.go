package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrClosed is returned by Shutdown and Close on an emulator that was
// already shut down.
var ErrClosed = errors.New("emulator: already shut down")

// Emulator is a SignalR Service in serverless mode as an http.Handler: the
// client endpoint under /client and the REST API under /api. Serve it with
// any http.Server, or use NewServer, which does that on a free port.
//
// An Emulator is safe for concurrent use. Its zero value is not usable; call
// New.
type Emulator struct {
	opts      options
	key       []byte
	jwtParser *jwt.Parser

	// hubsMu guards only the hubs map: each hub has its own locks, so one
	// hub's traffic never waits for another's.
	hubsMu    sync.RWMutex
	hubs      map[string]*hub
	lastSweep atomic.Int64 // unix nanoseconds of the last sweep
	// sweepInterval is defaultSweepInterval in nanoseconds; tests of
	// the sweep shorten it.
	sweepInterval atomic.Int64

	// sessions finds the SSE and Long Polling connections by token.
	sessionsMu    sync.Mutex
	sessions      map[string]*httpSession
	sessionsSwept time.Time

	liveMu  sync.Mutex
	live    map[*connection]struct{}
	closed  bool
	closing chan struct{} // closed by Shutdown
	conns   sync.WaitGroup

	// drain is the parent of every connection's writes. Shutdown cancels
	// it Options.CloseTimeout after it begins, which bounds a write stuck
	// on a client whose socket is full.
	drain     context.Context
	stopDrain context.CancelFunc

	upstream *upstream // nil without upstream templates

	// accessKeyID and dynamicKey are what /api/auth/accessKey hands out;
	// invocations are the REST :invoke calls waiting for a client.
	accessKeyID string
	dynamicKey  []byte
	invocations invocationTable

	// resumable finds the stateful reconnect connections by token.
	resumable resumeTable

	// ident holds the signing keys by kid and identity mode (identity.go).
	ident *identityState

	// bus is the traffic feed (events.go); finished closes when Shutdown
	// has finished, ending every subscription.
	bus      eventBus
	finished chan struct{}
	// faults are the injected faults (faults.go); record writes the
	// feed to Options.Record (record.go).
	faults faultSet
	record *recorder
	// uninstrumented, a test hook (export_test.go), skips the feed's
	// REST hook and the per-connection counters entirely: it is the
	// baseline BenchmarkFeedCost measures the idle feed against. (The
	// messages-in counter, which fan-out never reaches, stays.)
	uninstrumented atomic.Bool

	// servers are the app servers' service connections (serverconn.go).
	servers serverConns

	// writers writes broadcasts to WebSocket connections (writerpool.go).
	writers *writerPool
}

// New returns an Emulator configured by opts; nil means all defaults. Bad
// options, such as an upstream template that is not an absolute http(s)
// URL, a negative duration or an identity issuer key that is not P-256,
// are an error wrapping ErrInvalidOptions that names the field and the fix.
func New(opts *Options) (*Emulator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	drain, stopDrain := context.WithCancel(context.Background())
	e := &Emulator{
		opts: o,
		key:  []byte(o.accessKey),
		jwtParser: jwt.NewParser(
			jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithExpirationRequired(),
		),
		hubs:      make(map[string]*hub),
		sessions:  make(map[string]*httpSession),
		live:      make(map[*connection]struct{}),
		closing:   make(chan struct{}),
		drain:     drain,
		stopDrain: stopDrain,

		accessKeyID: "emulator-" + randomID(9),
		dynamicKey:  []byte(randomID(32)),
		invocations: invocationTable{byID: make(map[string]*pendingInvocation)},
		writers:     newWriterPool(),
	}
	e.sweepInterval.Store(int64(defaultSweepInterval))
	ident, err := newIdentityState(o.identity, e.accessKeyID, e.dynamicKey)
	if err != nil {
		return nil, err
	}
	e.ident = ident
	e.upstream = newUpstream(o)
	e.finished = make(chan struct{})
	e.bus.redact = e.redactor()
	e.faults.bus = &e.bus
	e.faults.rng = mrand.New(mrand.NewPCG(o.faultSeed, o.faultSeed^0x5eed))
	e.startRecord()
	return e, nil
}

// AccessKey returns the key the emulator signs and checks tokens with.
func (e *Emulator) AccessKey() string { return e.opts.accessKey }

// String describes the emulator without its access key, so fmt's %v and %+v
// never print the key.
func (e *Emulator) String() string {
	e.hubsMu.RLock()
	hubs := len(e.hubs)
	e.hubsMu.RUnlock()
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	return fmt.Sprintf("emulator.Emulator{hubs: %d, connections: %d, closed: %t, AccessKey: ***}", hubs, len(e.live), e.closed)
}

// GoString is String, for %#v.
func (e *Emulator) GoString() string { return e.String() }

// ServeHTTP serves the client endpoint (/client/negotiate and the WebSocket
// at /client/), the REST API (/api/... and /api/v1/...) and answers CORS
// preflight requests on all of them.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if preflight := applyCORS(w, r); preflight {
		return
	}
	path := r.URL.EscapedPath()
	switch {
	case path == "/client" || path == "/client/":
		if e.refuseOffline(w) {
			return
		}
		e.serveConnect(w, r)
	case path == "/client/negotiate" || path == "/client//negotiate" || path == "/client/negotiate/":
		e.observe(w, r, EventNegotiate, e.serveNegotiate)
	case path == "/server" || path == "/server/":
		e.serveServer(w, r)
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		e.observe(w, r, EventREST, e.serveREST)
	case path == "/" || path == controlPrefix || strings.HasPrefix(path, controlPrefix+"/") || strings.HasPrefix(path, dashboardPrefix):
		e.serveControl(w, r)
	default:
		http.Error(w, "Not found: this SignalR Service emulator serves /client/negotiate, /client/ and /api/.", http.StatusNotFound)
	}
}

// Snapshot returns what hub holds now. The hub name is case-insensitive; an
// unknown hub gives an empty snapshot.
func (e *Emulator) Snapshot(hubName string) HubSnapshot {
	h := e.hub(strings.ToLower(hubName), false)
	if h == nil {
		return HubSnapshot{
			Hub:        strings.ToLower(hubName),
			Users:      map[string][]string{},
			Groups:     map[string][]string{},
			UserGroups: map[string][]string{},
		}
	}
	return h.snapshot()
}

// Shutdown sends every connected client a Close message (allowing it to
// reconnect), closes the transports and waits until every connection's
// goroutines have ended. From the start, new connections are refused and
// negotiate and the REST API answer 503. A write already under way, such as
// one to a client whose socket is full, gets Options.CloseTimeout (default 2s) to
// finish, the Close message as long again, and the close handshake as long
// again. If ctx ends first, the remaining transports are cut and ctx's
// error is returned once their goroutines have ended.
func (e *Emulator) Shutdown(ctx context.Context) error {
	e.liveMu.Lock()
	if e.closed {
		e.liveMu.Unlock()
		return ErrClosed
	}
	e.closed = true
	close(e.closing)
	// Connected clients learn it through their wake-up, the one thing
	// their writer waits on besides the client and its timers.
	for c := range e.live {
		c.queue.signal()
	}
	e.liveMu.Unlock()
	drainTimer := time.AfterFunc(e.opts.closeTimeout, e.stopDrain)
	defer func() {
		close(e.finished)
		e.waitRecord()
		drainTimer.Stop()
		e.stopDrain()
		e.upstream.stop()
	}()

	done := make(chan struct{})
	go func() {
		e.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		// No connection is left to give the writer pool work; its
		// workers end once their last write returns.
		return e.writers.wait(ctx)
	case <-ctx.Done():
	}
	e.upstream.abort()
	e.liveMu.Lock()
	live := make([]*connection, 0, len(e.live))
	for c := range e.live {
		live = append(live, c)
	}
	e.liveMu.Unlock()
	for _, c := range live {
		c.t.abort()
	}
	<-done
	// The transports are cut, so the workers' writes fail at once.
	waitCtx, cancel := context.WithTimeout(context.Background(), e.opts.closeTimeout)
	defer cancel()
	_ = e.writers.wait(waitCtx)
	return ctx.Err()
}

// shuttingDown reports whether Shutdown has begun.
func (e *Emulator) shuttingDown() bool {
	select {
	case <-e.closing:
		return true
	default:
		return false
	}
}

// Close is Shutdown with a five second grace period.
func (e *Emulator) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.Shutdown(ctx)
}

// hub returns the hub named name (already lowercased), creating it when
// create is set; otherwise it may return nil. A hub returned may be dropped
// at any time once empty: code that adds state to it uses
// withLiveHub.
func (e *Emulator) hub(name string, create bool) *hub {
	e.hubsMu.RLock()
	h := e.hubs[name]
	e.hubsMu.RUnlock()
	if h != nil || !create {
		return h
	}
	e.hubsMu.Lock()
	defer e.hubsMu.Unlock()
	h = e.hubs[name]
	if h == nil {
		h = newHub(name)
		h.writers = e.writers
		e.hubs[name] = h
	}
	return h
}

// withLiveHub calls add with hub name, creating the hub, until add reports
// that the hub took the new state: it refuses once dropped.
func (e *Emulator) withLiveHub(name string, add func(h *hub) bool) {
	for !add(e.hub(name, true)) {
	}
}

// dropIfEmpty forgets h once it holds nothing: no connection, no user
// membership, no pending token. Without this, every hub name ever used
// would stay in memory.
func (e *Emulator) dropIfEmpty(h *hub, now time.Time) {
	if !h.empty(now) {
		return
	}
	e.hubsMu.Lock()
	defer e.hubsMu.Unlock()
	if e.hubs[h.name] == h && h.markDeadIfEmpty(now) {
		delete(e.hubs, h.name)
	}
}

// defaultSweepInterval is how often expired memberships and pending
// tokens are swept from every hub and empty hubs dropped.
const defaultSweepInterval = time.Minute

// maybeSweep sweeps every hub when sweepInterval has passed since the last
// sweep. Requests call it, so an idle emulator needs no goroutine for it.
func (e *Emulator) maybeSweep(now time.Time) {
	last := e.lastSweep.Load()
	if now.UnixNano()-last < e.sweepInterval.Load() || !e.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	e.hubsMu.RLock()
	hubs := make([]*hub, 0, len(e.hubs))
	for _, h := range e.hubs {
		hubs = append(hubs, h)
	}
	e.hubsMu.RUnlock()
	for _, h := range hubs {
		h.sweep(now)
		e.dropIfEmpty(h, now)
	}
}

// addConnection registers c in its hub, unless Shutdown has begun.
func (e *Emulator) addConnection(c *connection) bool {
	if e.shuttingDown() {
		return false
	}
	e.withLiveHub(c.hubName, func(h *hub) bool {
		c.hub = h
		return h.add(c)
	})
	return true
}

// removeConnection undoes addConnection.
func (e *Emulator) removeConnection(c *connection) {
	c.hub.remove(c)
	e.dropIfEmpty(c.hub, time.Now())
}

// track counts a connection's goroutines so that Shutdown waits for them.
// It fails once Shutdown has begun.
func (e *Emulator) track(c *connection) bool {
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	if e.closed {
		return false
	}
	e.conns.Add(1)
	e.live[c] = struct{}{}
	return true
}

func (e *Emulator) untrack(c *connection) {
	e.liveMu.Lock()
	delete(e.live, c)
	e.liveMu.Unlock()
	e.conns.Done()
}

// randomID returns n random bytes as unpadded base64url: safe in a URL
// without escaping, which matters because clients append the connection
// token to the URL as it is.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
