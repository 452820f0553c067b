package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/restapi"
)

// DefaultInvokeTimeout is how long a REST :invoke waits for the client's
// answer when Options.InvokeTimeout is zero.
const DefaultInvokeTimeout = 60 * time.Second

// Error statuses and codes of :invoke. The swagger leaves them to the
// service ("default: ErrorDetail"); these are the emulator's, and the
// Client in the root package recognizes the codes:
//
//	404 Error.Connection.NotExisted        no such connection (no body)
//	500 Error.Invocation.ClientError       the client's Completion carried an error
//	500 Error.Invocation.ConnectionClosed  the connection closed before answering
//	504 Error.Invocation.Timeout           no answer within Options.InvokeTimeout
//	503 Error.ServiceUnavailable           the emulator is shutting down
const (
	codeInvocationClientError      = restapi.CodeInvocationClientError
	codeInvocationConnectionClosed = restapi.CodeInvocationConnectionClosed
	codeInvocationTimeout          = restapi.CodeInvocationTimeout
)

// invocationTable holds the :invoke calls waiting for a client's
// Completion, by invocation id. Ids are unique across the emulator, and a
// Completion counts only when it comes from the connection that was asked.
type invocationTable struct {
	mu   sync.Mutex
	next uint64
	byID map[string]*pendingInvocation
}

// pendingInvocation is one :invoke waiting for its answer.
type pendingInvocation struct {
	conn   *connection
	answer chan invocationAnswer // buffered: complete never blocks
}

// invocationAnswer is what the client's Completion said.
type invocationAnswer struct {
	result   json.RawMessage // nil when the Completion had none
	errorMsg string
	failed   bool
}

// add registers an invocation for c and returns its id.
func (t *invocationTable) add(c *connection) (string, *pendingInvocation) {
	p := &pendingInvocation{conn: c, answer: make(chan invocationAnswer, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	id := strconv.FormatUint(t.next, 10)
	t.byID[id] = p
	return id, p
}

func (t *invocationTable) remove(id string) {
	t.mu.Lock()
	delete(t.byID, id)
	t.mu.Unlock()
}

// complete hands a client's Completion record to the :invoke waiting for
// it. A Completion for an unknown id, or from another connection, is
// ignored, as the service ignores stray Completions.
func (t *invocationTable) complete(c *connection, msg hubproto.Message, record []byte) {
	if msg.InvocationID == nil {
		return
	}
	t.mu.Lock()
	p := t.byID[*msg.InvocationID]
	if p != nil && p.conn == c {
		delete(t.byID, *msg.InvocationID)
	} else {
		p = nil
	}
	t.mu.Unlock()
	if p == nil {
		return
	}
	var a invocationAnswer
	result, errorText, err := completionResult(c.proto, record)
	switch {
	case err != nil:
		a = invocationAnswer{failed: true, errorMsg: "the client's Completion is not valid " + c.proto.String() + ": " + err.Error()}
	case errorText != nil:
		a = invocationAnswer{failed: true, errorMsg: *errorText}
	default:
		a.result = result
	}
	p.answer <- a
}

// completionResult reads a client's Completion: its result as JSON (nil
// for none), or its error text.
func completionResult(p hubproto.Protocol, record []byte) (result json.RawMessage, errorText *string, err error) {
	c, err := p.ParseCompletion(record)
	if err != nil || c.Error != nil || c.Result == nil || p == hubproto.JSON {
		return c.Result, c.Error, err
	}
	result, err = hubproto.MessagePackToJSON(c.Result)
	return result, nil, err
}

// serveInvoke answers POST .../connections/{connectionId}/:invoke: it sends
// the client an Invocation with an invocation id and answers with the
// client's Completion as {"result": ...}.
func (e *Emulator) serveInvoke(w http.ResponseWriter, r *http.Request, version apiVersion, h *hub, connectionID string) {
	body, err := readAllLimited(w, r, e.opts.maxMessageSize)
	if err != nil {
		writeRESTError(w, r, version, http.StatusRequestEntityTooLarge, codeRequestEntityTooLarge, "the request body is too large")
		return
	}
	target, arguments, problem := parseSendBody(body)
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return
	}
	var c *connection
	if h != nil {
		h.mu.RLock()
		c = h.conns[connectionID]
		h.mu.RUnlock()
	}
	if c == nil {
		writeRESTError(w, r, version, http.StatusNotFound, codeConnectionNotExisted, "the connection does not exist")
		return
	}
	id, p := e.invocations.add(c)
	defer e.invocations.remove(id)
	record, err := c.proto.Invocation(id, target, arguments)
	if err != nil {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, argumentsNotArrayMessage)
		return
	}
	if !c.queue.push(record) {
		writeRESTError(w, r, version, http.StatusInternalServerError, codeInvocationConnectionClosed, "the connection is closing (its send queue is full)")
		return
	}
	timer := time.NewTimer(e.opts.invokeTimeout)
	defer timer.Stop()
	select {
	case a := <-p.answer:
		if a.failed {
			writeRESTError(w, r, version, http.StatusInternalServerError, codeInvocationClientError, a.errorMsg)
			return
		}
		w.Header().Set("Content-Type", contentTypeJSON)
		if a.result == nil {
			_, _ = w.Write([]byte("{}"))
			return
		}
		out := make([]byte, 0, len(a.result)+12)
		out = append(out, `{"result":`...)
		out = append(out, a.result...)
		_, _ = w.Write(append(out, '}'))
	case <-c.done:
		writeRESTError(w, r, version, http.StatusInternalServerError, codeInvocationConnectionClosed, "the connection closed before the client answered")
	case <-timer.C:
		writeRESTError(w, r, version, http.StatusGatewayTimeout, codeInvocationTimeout, "the client did not answer within "+e.opts.invokeTimeout.String())
	case <-e.closing:
		writeRESTError(w, r, version, http.StatusServiceUnavailable, codeServiceUnavailable, "the emulator is shutting down")
	case <-r.Context().Done():
		// The caller left; nobody reads the answer.
	}
}
