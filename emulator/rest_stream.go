package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/restapi"
)

// serveStream answers the stream routes.
//
// The swagger declares no body for
// .../streams/{streamId}/:send; the emulator reads the request body as one
// JSON value, the stream item, and sends the client
// {"type":2,"invocationId":<streamId>,"item":<body>} (an empty body is the
// item null). With completed=true a Completion for the stream follows.
// .../:complete sends {"type":3,"invocationId":<streamId>}, with
// "error":<reason> when a reason is given. That the stream id is the
// invocation id of the client's StreamInvocation is this emulator's
// reading of the swagger (issue Azure/azure-signalr#2132 is open).
func (e *Emulator) serveStream(w http.ResponseWriter, r *http.Request, version apiVersion, route restRoute, h *hub, p routeParams) {
	// records encodes what the connection gets, in its protocol.
	var records func(hubproto.Protocol) [][]byte
	if route.op == restapi.SendToConnectionStream {
		body, err := readAllLimited(w, r, e.opts.maxMessageSize)
		if err != nil {
			writeRESTError(w, r, version, http.StatusRequestEntityTooLarge, codeRequestEntityTooLarge, "the request body is too large")
			return
		}
		item := bytes.TrimSpace(body)
		if len(item) == 0 {
			item = []byte("null")
		}
		if hubproto.CheckJSONDepth(item) != nil {
			writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, tooDeepProblem)
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, item); err != nil {
			writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, "the stream item must be one JSON value")
			return
		}
		item = compact.Bytes()
		completed, _ := strconv.ParseBool(r.URL.Query().Get("completed"))
		records = func(proto hubproto.Protocol) [][]byte {
			out := [][]byte{streamItem(proto, p.stream, item)}
			if completed {
				out = append(out, streamCompletion(proto, p.stream, ""))
			}
			return out
		}
	} else {
		reason := r.URL.Query().Get("reason")
		records = func(proto hubproto.Protocol) [][]byte { return [][]byte{streamCompletion(proto, p.stream, reason)} }
	}
	var c *connection
	if h != nil {
		h.mu.RLock()
		c = h.conns[p.connection]
		h.mu.RUnlock()
	}
	if c == nil {
		writeRESTError(w, r, version, http.StatusNotFound, codeConnectionNotExisted, "the connection does not exist")
		return
	}
	for _, rec := range records(c.proto) {
		if rec != nil {
			c.enqueue(rec)
		}
	}
	writeSuccess(w, version, http.StatusAccepted)
}
