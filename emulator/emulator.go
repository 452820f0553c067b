package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

	mu      sync.Mutex
	hubs    map[string]*hub
	pending map[string]*pendingConnection
	live    map[*connection]struct{}
	closed  bool
	closing chan struct{} // closed by Shutdown
	conns   sync.WaitGroup
}

// New returns an Emulator configured by opts; nil means all defaults.
func New(opts *Options) *Emulator {
	o := opts.withDefaults()
	return &Emulator{
		opts: o,
		key:  []byte(o.accessKey),
		jwtParser: jwt.NewParser(
			jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithExpirationRequired(),
		),
		hubs:    make(map[string]*hub),
		pending: make(map[string]*pendingConnection),
		live:    make(map[*connection]struct{}),
		closing: make(chan struct{}),
	}
}

// AccessKey returns the key the emulator signs and checks tokens with.
func (e *Emulator) AccessKey() string { return e.opts.accessKey }

// String describes the emulator without its access key, so fmt's %v and %+v
// never print the key.
func (e *Emulator) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprintf("emulator.Emulator{hubs: %d, connections: %d, closed: %t, AccessKey: ***}", len(e.hubs), len(e.live), e.closed)
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
		e.serveConnect(w, r)
	case path == "/client/negotiate" || path == "/client//negotiate" || path == "/client/negotiate/":
		e.serveNegotiate(w, r)
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		e.serveREST(w, r)
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
// reconnect), closes the sockets and waits until every connection's
// goroutines have ended. New connections are refused from the start. If ctx
// ends first, the remaining sockets are closed abruptly and ctx's error is
// returned once their goroutines have ended.
func (e *Emulator) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.closed = true
	close(e.closing)
	e.mu.Unlock()

	done := make(chan struct{})
	go func() {
		e.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	e.mu.Lock()
	live := make([]*connection, 0, len(e.live))
	for c := range e.live {
		live = append(live, c)
	}
	e.mu.Unlock()
	for _, c := range live {
		c.forceClose()
	}
	<-done
	return ctx.Err()
}

// Close is Shutdown with a five second grace period.
func (e *Emulator) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.Shutdown(ctx)
}

// hub returns the hub named name (already lowercased), creating it when
// create is set; otherwise it may return nil.
func (e *Emulator) hub(name string, create bool) *hub {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hubs[name]
	if h == nil && create {
		h = newHub(name)
		e.hubs[name] = h
	}
	return h
}

// track registers a connection's goroutines so Shutdown can wait for them.
// It fails once Shutdown has begun.
func (e *Emulator) track(c *connection) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns.Add(1)
	e.live[c] = struct{}{}
	return true
}

func (e *Emulator) untrack(c *connection) {
	e.mu.Lock()
	delete(e.live, c)
	e.mu.Unlock()
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
