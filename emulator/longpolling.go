package emulator

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// lpBufferBytes bounds what a Long Polling connection holds for the next
// poll beyond the send queue: a write that does not fit waits for a poll,
// within the write timeout. A single larger frame is still taken whole.
const lpBufferBytes = 64 << 10

// lpTransport is the Long Polling transport. The client polls with GET
// and each poll returns what was written since the last one; it sends
// with POST (see inbox) and ends with DELETE. One poll waits at a time: a
// second one ends the first with 204, as ASP.NET Core does. A client that
// has no poll waiting for the client timeout is taken to be gone.
type lpTransport struct {
	inbox

	mu        sync.Mutex
	buf       []byte  // written, not yet taken by a poll
	binary    bool    // poll responses are application/octet-stream
	poll      *lpPoll // the poll waiting, if any
	dataReady chan struct{}
	taken     chan struct{} // a poll emptied buf
	idle      *time.Timer   // runs while no poll waits; ends the transport
	idleAfter time.Duration
}

// lpPoll is one waiting GET.
type lpPoll struct{ superseded chan struct{} }

func newLPTransport(idleAfter time.Duration) *lpTransport {
	t := &lpTransport{
		inbox:     newInbox(),
		dataReady: make(chan struct{}, 1),
		taken:     make(chan struct{}, 1),
		idleAfter: idleAfter,
	}
	t.idle = time.AfterFunc(idleAfter, func() { t.endFor(errClientGone) })
	return t
}

func (t *lpTransport) box() *inbox { return &t.inbox }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// writeFrame adds frame to what the next poll returns. It waits while
// that is full, until a poll takes it or ctx ends.
func (t *lpTransport) writeFrame(ctx context.Context, frame []byte) error {
	for {
		t.mu.Lock()
		if t.isEnded() {
			t.mu.Unlock()
			return errTransportEnded
		}
		if len(t.buf) == 0 || len(t.buf)+len(frame) <= lpBufferBytes {
			t.buf = append(t.buf, frame...)
			t.mu.Unlock()
			signal(t.dataReady)
			return nil
		}
		t.mu.Unlock()
		select {
		case <-t.taken:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.ended:
			return errTransportEnded
		}
	}
}

// close lets a poll take what was written (the Close message), waiting at
// most until ctx ends, then ends the transport: the waiting poll, or the
// next, gets 204.
func (t *lpTransport) close(ctx context.Context, _ closeKind) {
	for {
		t.mu.Lock()
		pending := len(t.buf) > 0
		t.mu.Unlock()
		if !pending {
			break
		}
		select {
		case <-t.taken:
		case <-ctx.Done():
			t.abort()
			return
		case <-t.ended:
			return
		}
	}
	t.abort()
}

// abort ends the transport at once.
func (t *lpTransport) abort() { t.endFor(errTransportEnded) }

// endFor ends the transport for err and stops the idle timer, under mu so
// that a poll ending meanwhile cannot restart it.
func (t *lpTransport) endFor(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end(err)
	t.idle.Stop()
}

func (t *lpTransport) supportsBinary() bool    { return true }
func (t *lpTransport) inherentKeepAlive() bool { return true }

func (t *lpTransport) useBinary() {
	t.mu.Lock()
	t.binary = true
	t.mu.Unlock()
}

// servePoll answers one poll: 200 with what was written as soon as there
// is something, 200 with no body when pollTimeout passes first (the client
// polls again), 204 once the transport ended or a newer poll replaced
// this one. The response is written within writeTimeout.
func (t *lpTransport) servePoll(w http.ResponseWriter, r *http.Request, pollTimeout, writeTimeout time.Duration) {
	me := &lpPoll{superseded: make(chan struct{})}
	t.mu.Lock()
	if t.poll != nil {
		close(t.poll.superseded)
	}
	t.poll = me
	t.idle.Stop()
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if t.poll == me {
			t.poll = nil
			if !t.isEnded() {
				t.idle.Reset(t.idleAfter)
			}
		}
		t.mu.Unlock()
	}()

	timer := time.NewTimer(pollTimeout)
	defer timer.Stop()
	for {
		t.mu.Lock()
		if t.isEnded() {
			// Whatever is left was not taken in time (close lets a
			// poll take the Close message first): the client is gone.
			t.buf = nil
			t.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if len(t.buf) > 0 {
			body, binary := t.buf, t.binary
			t.buf = nil
			t.mu.Unlock()
			signal(t.taken)
			writePollResponse(w, body, binary, writeTimeout)
			return
		}
		t.mu.Unlock()
		select {
		case <-t.dataReady:
		case <-t.ended:
		case <-me.superseded:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-timer.C:
			writePollResponse(w, nil, false, writeTimeout)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// writePollResponse writes a 200 poll response within timeout.
func writePollResponse(w http.ResponseWriter, body []byte, binary bool, timeout time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
	if binary {
		w.Header().Set("Content-Type", "application/octet-stream")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// serveLongPolling answers GET <url>?id=<token> without an event-stream
// Accept header. The first GET for a negotiated token starts the
// connection and returns 200 at once, as the clients expect; later ones
// are polls.
func (e *Emulator) serveLongPolling(w http.ResponseWriter, r *http.Request, hubName, token string, claims jwt.MapClaims) {
	user := userID(claims)
	if s, _ := e.session(token); s != nil || token == "" {
		s, _ = e.sessionFor(w, r, hubName, token, user)
		if s == nil {
			return
		}
		if s.lp == nil {
			http.Error(w, "This connection uses Server-Sent Events: it cannot poll.", http.StatusBadRequest)
			return
		}
		// An ended connection's poll gets 204 at once.
		s.lp.servePoll(w, r, e.opts.pollTimeout, e.opts.writeTimeout)
		return
	}
	id, ok := e.claimForHTTPTransport(w, hubName, token)
	if !ok {
		return
	}
	t := newLPTransport(e.opts.clientTimeout)
	e.addSession(token, &httpSession{hub: hubName, user: user, lp: t, t: t})
	query := r.URL.RawQuery // r is done with once this returns
	go func() {
		defer e.endSession(token)
		e.serveTransport(t, hubName, id, token, claims, query)
	}()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
}

// serveDelete answers DELETE <url>?id=<token>: the Long Polling client
// ends its connection. The waiting poll gets 204.
func (e *Emulator) serveDelete(w http.ResponseWriter, r *http.Request, hubName, token, user string) {
	s, _ := e.sessionFor(w, r, hubName, token, user)
	if s == nil {
		return
	}
	if s.lp == nil {
		http.Error(w, "DELETE ends Long Polling connections; this one uses Server-Sent Events.", http.StatusBadRequest)
		return
	}
	s.lp.endFor(errClientLeft)
	w.WriteHeader(http.StatusAccepted)
}
