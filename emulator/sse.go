package emulator

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sseTransport is the Server-Sent Events transport: the emulator writes on
// the response to the client's GET, one event per frame with each line of
// the frame as a data: line; the client sends with POST (see inbox). It
// carries text only, so JSON only. The stream ends, cleanly, when the
// connection does: the handler that serves it returns.
type sseTransport struct {
	inbox
	w  http.ResponseWriter
	rc *http.ResponseController

	// mu guards finished, set once the handler is about to return: the
	// response may then belong to another request, so abort leaves it be.
	mu       sync.Mutex
	finished bool

	event []byte // reused buffer of one formatted event
}

func newSSETransport(w http.ResponseWriter) *sseTransport {
	return &sseTransport{inbox: newInbox(), w: w, rc: http.NewResponseController(w)}
}

func (t *sseTransport) box() *inbox { return &t.inbox }

// writeFrame writes frame as one event and flushes it, within ctx: when
// ctx ends the write deadline is moved to now, which fails the write.
func (t *sseTransport) writeFrame(ctx context.Context, frame []byte) error {
	if t.isEnded() {
		return errTransportEnded
	}
	t.event = appendEvent(t.event[:0], frame)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	_ = t.rc.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, t.cut)
	defer stop()
	if _, err := t.w.Write(t.event); err != nil {
		t.end(errTransportEnded)
		return err
	}
	if err := t.rc.Flush(); err != nil {
		t.end(errTransportEnded)
		return err
	}
	return nil
}

// appendEvent formats frame as an unnamed event: every line as
// "data: <line>\r\n", then an empty line. The client joins the lines with
// "\n", which gives frame back.
func appendEvent(buf, frame []byte) []byte {
	for {
		line, rest, found := bytes.Cut(frame, []byte{'\n'})
		buf = append(buf, "data: "...)
		buf = append(buf, bytes.TrimSuffix(line, []byte{'\r'})...)
		buf = append(buf, '\r', '\n')
		if !found {
			break
		}
		frame = rest
	}
	return append(buf, '\r', '\n')
}

// cut fails a write under way by moving its deadline to now.
func (t *sseTransport) cut() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.finished {
		_ = t.rc.SetWriteDeadline(time.Now())
	}
}

// close ends the stream: the handler returns, which ends the response.
func (t *sseTransport) close(context.Context, closeKind) { t.end(errTransportEnded) }

// abort ends the transport and fails a write under way.
func (t *sseTransport) abort() {
	t.end(errTransportEnded)
	t.cut()
}

func (t *sseTransport) supportsBinary() bool    { return false }
func (t *sseTransport) useBinary()              {}
func (t *sseTransport) inherentKeepAlive() bool { return false }

// serveServerSentEvents answers GET <url>?id=<token> with Accept:
// text/event-stream: it opens the stream and serves the connection on it
// until the connection ends.
func (e *Emulator) serveServerSentEvents(w http.ResponseWriter, r *http.Request, hubName, token string, claims jwt.MapClaims) {
	user := userID(claims)
	id, ok := e.claimForHTTPTransport(w, hubName, token)
	if !ok {
		return
	}
	t := newSSETransport(w)
	// Registered before the stream opens: the client sends its handshake
	// as soon as it sees the response.
	e.addSession(token, &httpSession{hub: hubName, user: user, t: t})
	defer e.endSession(token)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if err := t.rc.Flush(); err != nil {
		t.end(errClientLeft) // the connection ends before its handshake
	}
	// The client going away ends the transport.
	stop := context.AfterFunc(r.Context(), func() { t.end(errClientLeft) })
	defer stop()
	e.serveTransport(t, hubName, id, token, claims, r.URL.RawQuery)
	t.mu.Lock()
	t.finished = true
	t.mu.Unlock()
	_ = t.rc.SetWriteDeadline(time.Time{})
}
