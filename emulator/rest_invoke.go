package emulator

import (
	"net/http"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
)

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
	noteTarget(w, target)
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
