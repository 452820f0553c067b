package emulator

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The two transports made of plain HTTP requests, Server-Sent Events and
// Long Polling, share how the client sends: POST <url>?id=<token> with
// one or more messages as the body. This file holds that half and the
// table of their connections by token.

// errTransportEnded is returned by writes and reads once a transport ended.
var errTransportEnded = errors.New("transport ended")

// errClientLeft is returned by readFrame once the client closed an SSE
// stream or sent DELETE.
var errClientLeft = errors.New("client closed the connection")

// inbox hands the bodies of a client's POSTs to the connection's readLoop.
type inbox struct {
	frames chan []byte // unbuffered: a POST returns once its body is taken
	failed chan error  // a POST that could not be taken (too large)
	busy   sync.Mutex  // one POST at a time: a concurrent one gets 409

	endOnce sync.Once
	ended   chan struct{} // closed when the transport ends
	endErr  error         // why; set before ended is closed
}

func newInbox() inbox {
	return inbox{frames: make(chan []byte), failed: make(chan error, 1), ended: make(chan struct{})}
}

// end ends the transport for err; only the first call counts.
func (in *inbox) end(err error) bool {
	ended := false
	in.endOnce.Do(func() {
		in.endErr = err
		close(in.ended)
		ended = true
	})
	return ended
}

// isEnded reports whether end was called.
func (in *inbox) isEnded() bool {
	select {
	case <-in.ended:
		return true
	default:
		return false
	}
}

// readFrame returns the next POST body.
func (in *inbox) readFrame() ([]byte, error) {
	select {
	case f := <-in.frames:
		return f, nil
	case err := <-in.failed:
		return nil, err
	case <-in.ended:
		return nil, in.endErr
	}
}

// httpTransport is an SSE or Long Polling transport.
type httpTransport interface {
	transport
	box() *inbox
}

// httpSession is a connection on SSE or Long Polling, found by its token
// on every request after the first.
type httpSession struct {
	hub  string
	user string
	lp   *lpTransport // nil for SSE
	t    httpTransport
	// endedAt is when the connection ended. The session is kept a little
	// longer, so that the requests a client makes as it leaves (its last
	// poll, its DELETE) are answered as for an ended connection (204,
	// 202) rather than as for an unknown one (404). Guarded by
	// Emulator.sessionsMu.
	endedAt time.Time
}

// endedSessionGrace is how long an ended session keeps answering.
const endedSessionGrace = 10 * time.Second

// addSession registers s under token, and forgets sessions that ended
// more than endedSessionGrace ago.
func (e *Emulator) addSession(token string, s *httpSession) {
	now := time.Now()
	e.sessionsMu.Lock()
	defer e.sessionsMu.Unlock()
	e.sessions[token] = s
	if now.Sub(e.sessionsSwept) < endedSessionGrace {
		return
	}
	e.sessionsSwept = now
	for tok, old := range e.sessions {
		if !old.endedAt.IsZero() && now.Sub(old.endedAt) > endedSessionGrace {
			delete(e.sessions, tok)
		}
	}
}

// session returns the session of token, and whether it ended.
func (e *Emulator) session(token string) (*httpSession, bool) {
	e.sessionsMu.Lock()
	defer e.sessionsMu.Unlock()
	s := e.sessions[token]
	if s == nil {
		return nil, false
	}
	if !s.endedAt.IsZero() && time.Since(s.endedAt) > endedSessionGrace {
		delete(e.sessions, token)
		return nil, false
	}
	return s, !s.endedAt.IsZero()
}

// endSession marks the session of token ended.
func (e *Emulator) endSession(token string) {
	e.sessionsMu.Lock()
	defer e.sessionsMu.Unlock()
	if s := e.sessions[token]; s != nil {
		s.endedAt = time.Now()
	}
}

// sessionFor finds the session of a request after the first and checks
// that it is for the same hub and user; it writes the error response
// itself.
func (e *Emulator) sessionFor(w http.ResponseWriter, r *http.Request, hubName, token, user string) (s *httpSession, ended bool) {
	if token == "" {
		http.Error(w, "The id query parameter is required: send the connection token from negotiate.", http.StatusBadRequest)
		return nil, false
	}
	s, ended = e.session(token)
	if s == nil || s.hub != hubName {
		http.Error(w, "No connection with that id: it never connected, or it ended a while ago.", http.StatusNotFound)
		return nil, false
	}
	if s.user != user {
		http.Error(w, "The user of the access token is not the user of the connection.", http.StatusForbidden)
		return nil, false
	}
	return s, ended
}

// serveSend answers POST <url>?id=<token>: the body holds messages from
// the client. It returns once the connection took them, within the write
// timeout.
func (e *Emulator) serveSend(w http.ResponseWriter, r *http.Request, s *httpSession) {
	in := s.t.box()
	if !in.busy.TryLock() {
		http.Error(w, "Another send is in progress on this connection: send one request at a time.", http.StatusConflict)
		return
	}
	defer in.busy.Unlock()
	// A body holds one message or a few; the reader refuses any single
	// message over the limit with a Close that says why.
	limit := e.opts.maxMessageSize + maxBatchBytes
	body, err := readAllLimited(w, r, limit)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			select {
			case in.failed <- errMessageTooLarge:
			default:
			}
			http.Error(w, "The request body is larger than "+strconv.FormatInt(limit, 10)+" bytes; the connection is closed.", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "Could not read the request body.", http.StatusBadRequest)
		return
	}
	if len(body) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	timer := time.NewTimer(e.opts.writeTimeout)
	defer timer.Stop()
	select {
	case in.frames <- body:
		w.WriteHeader(http.StatusOK)
	case <-in.ended:
		http.Error(w, "The connection has ended.", http.StatusNotFound)
	case <-r.Context().Done():
	case <-timer.C:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "The connection did not take the message in time.", http.StatusServiceUnavailable)
	}
}

// startHTTPTransport claims token for a new SSE or Long Polling
// connection; it writes the error response itself.
func (e *Emulator) claimForHTTPTransport(w http.ResponseWriter, hubName, token string) (id string, ok bool) {
	if token == "" {
		http.Error(w, "The id query parameter is required: send the connection token from negotiate.", http.StatusBadRequest)
		return "", false
	}
	id, status := e.claimPending(token, hubName)
	switch status {
	case http.StatusNotFound:
		http.Error(w, "No connection with that id: negotiate first, and connect within the negotiate timeout.", status)
		return "", false
	case http.StatusConflict:
		http.Error(w, "That connection id is already connected.", status)
		return "", false
	}
	return id, true
}
