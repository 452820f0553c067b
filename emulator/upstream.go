package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/funcsignalr/signalr/internal/textutil"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// Upstream limits.
const (
	// upstreamQueueSize bounds the events of one connection waiting for
	// the upstream. A client that invokes faster than the upstream answers
	// is slowed down (its messages are read later); others are not.
	upstreamQueueSize = 64
	// maxUpstreamResponse bounds a relayed response body, as in
	// Microsoft's emulator (and never more than a connection's send queue
	// holds, which Options.SendQueueBytes bounds).
	maxUpstreamResponse = 16 << 20
)

// upstreamCategory and events, as sent in X-ASRS-Category / X-ASRS-Event.
const (
	categoryConnections = "connections"
	categoryMessages    = "messages"
)

// upstream is the emulator's upstream client: the compiled templates, one
// HTTP client, and a context that Shutdown cancels when its grace period
// ends.
type upstream struct {
	rules       []upstreamRule
	timeout     time.Duration
	maxResponse int64
	client      *http.Client
	key         []byte

	ctx    context.Context
	cancel context.CancelFunc
}

// newUpstream returns nil when no template is configured: the emulator then
// answers invocations itself, as before.
func newUpstream(o options) *upstream {
	if len(o.upstream) == 0 {
		return nil
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	ctx, cancel := context.WithCancel(context.Background())
	u := &upstream{
		rules:   compileTemplates(o.upstream),
		timeout: o.upstreamTimeout,
		// A larger Completion would overflow the client's send queue.
		maxResponse: min(maxUpstreamResponse, o.sendQueueBytes),
		client:      &http.Client{Transport: transport},
		key:         []byte(o.accessKey),
		ctx:         ctx,
		cancel:      cancel,
	}
	return u
}

// abort cancels every upstream call in flight and any later one.
func (u *upstream) abort() {
	if u != nil {
		u.cancel()
	}
}

// stop ends upstream use once every connection is gone: it cancels what
// is left and drops idle keep-alive connections to upstreams.
func (u *upstream) stop() {
	if u != nil {
		u.cancel()
		u.client.CloseIdleConnections()
	}
}

// signature is X-ASRS-Signature for a connection id: sha256=<HEX> of
// HMAC-SHA256 under the access key.
func (u *upstream) signature(connectionID string) string {
	mac := hmac.New(sha256.New, u.key)
	mac.Write([]byte(connectionID))
	return "sha256=" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

// upstreamEvent is one request a connection owes its upstream.
type upstreamEvent struct {
	category, event string
	body            []byte
	contentType     string
	invocationID    string // a blocking invocation's id
}

// connUpstream delivers the upstream events of one connection, in order, on
// its own goroutine, so that a slow upstream holds up only this connection.
type connUpstream struct {
	u        *upstream
	c        *connection
	claims   string // X-ASRS-User-Claims
	query    string // X-ASRS-Client-Query
	events   chan upstreamEvent
	finished chan struct{}
	once     sync.Once
	started  bool // set by connected, on the connection's goroutine
	log      *slog.Logger
}

// forConnection prepares the upstream events of c; nil when no upstream is
// configured. Its worker starts with the connected event. claims are the connection's token claims, rawQuery the query
// of its WebSocket request.
func (u *upstream) forConnection(c *connection, claims jwt.MapClaims, rawQuery string) *connUpstream {
	if u == nil {
		return nil
	}
	cu := &connUpstream{
		u:        u,
		c:        c,
		claims:   formatClaims(claims),
		events:   make(chan upstreamEvent, upstreamQueueSize),
		finished: make(chan struct{}),
		log:      c.log,
	}
	if rawQuery != "" {
		cu.query = "?" + rawQuery
	}
	return cu
}

// registeredClaims are the JWT claims the service does not forward.
var registeredClaims = map[string]bool{"aud": true, "exp": true, "iat": true, "nbf": true, "iss": true, "jti": true}

// formatClaims writes claims as "type: value, type: value", sorted by type,
// an array claim as one entry per value.
func formatClaims(claims jwt.MapClaims) string {
	types := make([]string, 0, len(claims))
	for t := range claims {
		if !registeredClaims[t] {
			types = append(types, t)
		}
	}
	sort.Strings(types)
	var parts []string
	for _, t := range types {
		switch v := claims[t].(type) {
		case []any:
			for _, e := range v {
				parts = append(parts, t+": "+fmt.Sprint(e))
			}
		default:
			parts = append(parts, t+": "+fmt.Sprint(v))
		}
	}
	return strings.Join(parts, ", ")
}

// connected queues the connected event. It is called once the handshake
// succeeded, before any message of the client is handled.
func (cu *connUpstream) connected() {
	if cu == nil {
		return
	}
	cu.started = true
	go cu.run()
	cu.queue(upstreamEvent{category: categoryConnections, event: "connected", body: hubproto.OpenConnectionBody(), contentType: hubproto.ContentTypeJSON})
}

// invocation queues a client Invocation (record is the message in the
// connection's protocol, without framing) and reports false when the
// emulator is shutting down instead. It blocks while this connection
// already has upstreamQueueSize events waiting: only this client is slowed
// down.
func (cu *connUpstream) invocation(record []byte, target, invocationID string) bool {
	// The message goes up as the client sent it, without its framing: a
	// JSON client's Invocation without the record separator as
	// application/json, a MessagePack client's array without its VarInt
	// length prefix as application/x-msgpack. The app answers in the
	// same protocol, framed, and the answer is relayed as is.
	return cu.queue(upstreamEvent{
		category:     categoryMessages,
		event:        target,
		body:         bytes.Clone(record),
		contentType:  cu.c.proto.ContentType(),
		invocationID: invocationID,
	})
}

// handle takes a client Invocation or StreamInvocation (record is the
// message without its framing) and returns a record to send the client at once,
// if any: stream invocations are not forwarded (as in Azure), so one with
// an id gets an error Completion.
func (cu *connUpstream) handle(record []byte, msg hubproto.Message) []byte {
	id := ""
	if msg.InvocationID != nil {
		id = *msg.InvocationID
	}
	if msg.Type == hubproto.TypeStreamInvocation {
		cu.log.Info("stream invocation not forwarded to the upstream", "target", msg.Target)
		if id == "" {
			return nil
		}
		return cu.c.proto.CompletionError(id, "Stream invocations are not forwarded to the upstream in serverless mode, so '"+msg.Target+"' cannot be streamed.")
	}
	cu.invocation(record, msg.Target, id)
	return nil
}

// disconnectError is the Error of the disconnected event for a connection
// that ended for reason: empty for a clean close.
func disconnectError(reason string) string {
	switch {
	case reason == "client closed the connection", reason == "client sent Close",
		reason == "closed by REST call", reason == "emulator shutting down":
		return ""
	case strings.HasPrefix(reason, "closed by REST call: "):
		return strings.TrimPrefix(reason, "closed by REST call: ")
	}
	return "Connection closed with an error: " + reason + "."
}

func (cu *connUpstream) queue(ev upstreamEvent) bool {
	select {
	case cu.events <- ev:
		return true
	default:
	}
	select {
	case cu.events <- ev:
		return true
	case <-cu.c.queue.overflowed:
		// The connection is being dropped for not keeping up: its
		// writer, waiting here, goes and drops it rather than hold
		// the broadcasts queued for it (see sendQueue) until the
		// upstream makes room.
		cu.log.Warn("upstream event dropped: connection dropped as too slow with the upstream queue full", "event", ev.event)
		return false
	case <-cu.c.e.closing:
		// Shutting down: the event is still sent if there is room, so
		// a full queue cannot hold the connection.
		select {
		case cu.events <- ev:
			return true
		default:
			cu.log.Warn("upstream event dropped: emulator shutting down with the upstream queue full", "event", ev.event)
			return false
		}
	}
}

// disconnected queues the disconnected event (errText empty for a clean
// close), then waits until every queued event was delivered. It is called
// once, after the connection left its hub.
func (cu *connUpstream) disconnected(errText string) {
	if cu == nil || !cu.started {
		return
	}
	cu.once.Do(func() {
		ev := upstreamEvent{category: categoryConnections, event: "disconnected", body: hubproto.CloseConnectionBody(errText), contentType: hubproto.ContentTypeJSON}
		select {
		case cu.events <- ev:
		case <-cu.u.ctx.Done():
		}
		close(cu.events)
	})
	<-cu.finished
}

func (cu *connUpstream) run() {
	defer close(cu.finished)
	for ev := range cu.events {
		cu.deliver(ev)
	}
}

// deliver sends one event and, for a blocking invocation, queues the
// client's Completion.
func (cu *connUpstream) deliver(ev upstreamEvent) {
	c := cu.c
	target, ok := matchUpstream(cu.u.rules, c.hubName, ev.category, ev.event)
	if !ok {
		cu.log.Info("upstream event not sent: no upstream template matches", "category", ev.category, "event", ev.event)
		cu.complete(ev, cu.c.proto.CompletionError(ev.invocationID,
			"The SignalR emulator has no upstream configured for hub '"+c.hubName+"', event '"+ev.event+"', so invocation of '"+ev.event+"' cannot be handled."))
		return
	}
	start := time.Now()
	status, body, err := cu.post(target, ev)
	cu.publish(ev, status, time.Since(start), err)
	if err != nil {
		cu.log.Warn("upstream call failed", "url", textutil.RedactQuery(target), "event", ev.event, "error", err.Error())
		cu.complete(ev, cu.c.proto.CompletionError(ev.invocationID, "Invocation failed, "+err.Error()+"."))
		return
	}
	if status != http.StatusOK && status != http.StatusNoContent {
		cu.log.Warn("upstream answered an error", "url", textutil.RedactQuery(target), "category", ev.category, "event", ev.event, "status", status)
		cu.complete(ev, cu.c.proto.CompletionError(ev.invocationID, fmt.Sprintf("Invocation failed, status code %d", status)))
		return
	}
	if len(body) == 0 {
		cu.complete(ev, cu.c.proto.CompletionVoid(ev.invocationID))
		return
	}
	if ev.contentType == contentTypeJSON && body[len(body)-1] != hubproto.RecordSeparator {
		// The app should send a framed Completion; a missing separator
		// would otherwise swallow the client's next message.
		body = append(body, hubproto.RecordSeparator)
	}
	cu.complete(ev, body)
}

// complete queues record for the client when ev was a blocking invocation
// and the connection is still open.
func (cu *connUpstream) complete(ev upstreamEvent, record []byte) {
	if ev.invocationID == "" {
		return
	}
	select {
	case <-cu.c.done:
		return
	default:
	}
	if cu.c.sr != nil {
		// Only trackable messages may go through the queue of a
		// stateful reconnect connection: each is numbered as written.
		if record = trackableOnly(cu.c.proto, record); len(record) == 0 {
			return
		}
	}
	cu.c.enqueue(record)
}

// errResponseTooLarge is the Completion error for a body over 16 MiB.
var errResponseTooLarge = errors.New("response too large")

// post sends one upstream request and returns its status and body. Its
// errors are worded for the client's Completion and never contain the URL
// (which may carry a key).
func (cu *connUpstream) post(target string, ev upstreamEvent) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(cu.u.ctx, cu.u.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(ev.body))
	if err != nil {
		return 0, nil, errors.New("the upstream URL is invalid")
	}
	c := cu.c
	h := req.Header
	h.Set("Content-Type", ev.contentType)
	h.Set("X-ASRS-Connection-Id", c.id)
	h.Set("X-ASRS-Hub", c.hubName)
	h.Set("X-ASRS-Category", ev.category)
	h.Set("X-ASRS-Event", ev.event)
	if c.user != "" {
		h.Set("X-ASRS-User-Id", c.user)
	}
	if cu.claims != "" {
		h.Set("X-ASRS-User-Claims", cu.claims)
	}
	if cu.query != "" {
		h.Set("X-ASRS-Client-Query", cu.query)
	}
	h.Set("X-ASRS-Signature", cu.u.signature(c.id))
	if c.e.faults.armed() {
		if status, err := cu.upstreamFault(ctx, ev.event); err != nil || status != 0 {
			return status, nil, err
		}
	}
	resp, err := cu.u.client.Do(req)
	if err != nil {
		var netErr net.Error
		switch {
		case cu.u.ctx.Err() != nil:
			return 0, nil, errors.New("the emulator is shutting down")
		case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
			return 0, nil, fmt.Errorf("the upstream did not answer within %v", cu.u.timeout)
		}
		return 0, nil, errors.New("the upstream could not be reached (status code 500)")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cu.u.maxResponse+1))
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return 0, nil, fmt.Errorf("the upstream did not answer within %v", cu.u.timeout)
	case err != nil:
		return 0, nil, errors.New("error: reading the response failed")
	case int64(len(body)) > cu.u.maxResponse:
		return 0, nil, errResponseTooLarge
	}
	return resp.StatusCode, body, nil
}
