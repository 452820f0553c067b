package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// The control API and the dashboard live under these paths of the
// emulator's port: GET / is the dashboard page, /_emulator/api/... the
// JSON API it uses (see the README).
const (
	controlPrefix   = "/_emulator/api"
	dashboardPrefix = "/_emulator/static/"
	controlAudience = "/_emulator"
	// maxControlBody bounds a control request's JSON body.
	maxControlBody = 1 << 20
	// maxFaultedBody bounds what the feed reads of a body a fault
	// answered, to name the send's target.
	maxFaultedBody = 64 << 10
)

// observe serves r with serve and, when anybody listens to the feed or a
// fault is armed, times it, publishes it as kind and applies the faults of
// its route. With neither it costs two atomic loads.
func (e *Emulator) observe(w http.ResponseWriter, r *http.Request, kind EventKind, serve func(http.ResponseWriter, *http.Request)) {
	if !e.bus.on() && !e.faults.armed() || e.uninstrumented.Load() {
		serve(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	faulted := e.faults.applyHTTP(rec, r, kind)
	if !faulted {
		serve(rec, r)
	}
	if !e.bus.on() {
		return
	}
	ev := Event{Kind: kind, Method: r.Method, Route: r.URL.EscapedPath(), Status: rec.status, Duration: time.Since(start), Target: rec.target}
	if kind == EventNegotiate {
		ev.Hub = strings.ToLower(r.URL.Query().Get("hub"))
	} else {
		restEventFields(&ev, r)
		if faulted && r.Method == http.MethodPost && r.Body != nil {
			// A fault answered without reading the body: read it for
			// the target, within a bound.
			body, _ := io.ReadAll(io.LimitReader(r.Body, maxFaultedBody))
			if target, _, problem := parseSendBody(body); problem == "" {
				ev.Target = target
			}
		}
	}
	e.bus.publish(ev)
}

// restEventFields fills hub, user, group and connection from a REST path.
func restEventFields(ev *Event, r *http.Request) {
	path := r.URL.EscapedPath()
	version, rest := api2022, strings.TrimPrefix(path, restPrefix2022)
	if strings.HasPrefix(path, restPrefixV1) {
		version, rest = apiV1, strings.TrimPrefix(path, restPrefixV1)
	}
	if _, p, result := matchRoute(routeTables[version], r.Method, rest); result == routeFound {
		ev.Hub, ev.User, ev.Group, ev.Connection = strings.ToLower(p.hub), p.user, p.group, p.connection
	}
}

// serveControl serves the dashboard (GET /, /_emulator/static/...) and the
// control API (/_emulator/api/...). Only loopback clients are served unless
// Options.RemoteControl is set; then the others must present a bearer token
// (header, or access_token query for an event stream) signed with the
// access key, whose aud is the emulator's base URL followed by /_emulator.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	path := r.URL.EscapedPath()
	api := path == controlPrefix || strings.HasPrefix(path, controlPrefix+"/")
	if !loopback(r) {
		if !e.opts.remoteControl {
			http.Error(w, "Forbidden: the emulator's dashboard and control API answer loopback clients only; start it with -remote-dashboard (Options.RemoteControl) to open them.", http.StatusForbidden)
			return
		}
		if api {
			if _, err := e.verifyTokenKeys(bearerToken(r, true), controlTokenAudience(r), false); err != nil {
				w.Header().Set("WWW-Authenticate", "Bearer")
				controlError(w, http.StatusUnauthorized, "Unauthorized: "+err.Error()+"; send a bearer token signed with the access key whose aud is <emulator URL>/_emulator")
				return
			}
		}
	}
	if !api {
		serveDashboard(w, r)
		return
	}
	e.serveControlAPI(w, r, strings.TrimPrefix(path, controlPrefix))
}

// loopback reports whether r comes from the machine itself.
func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// controlTokenAudience accepts <base URL>/_emulator, with or without the port.
func controlTokenAudience(r *http.Request) func(string) bool {
	withPort, withoutPort := requestBases(r)
	return func(aud string) bool {
		aud = strings.TrimSuffix(aud, "/")
		return sameURL(aud, withPort, controlAudience) || sameURL(aud, withoutPort, controlAudience)
	}
}

func controlError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", contentTypeJSON)
	_ = json.NewEncoder(w).Encode(v)
}

// serveControlAPI routes the control API; rest is the path after the prefix.
//
//	GET  /hubs                                    HubInfo list
//	GET  /hubs/{hub}/connections?cursor&limit&user&group   ConnectionPage
//	GET  /hubs/{hub}/groups?cursor&limit          MemberPage
//	GET  /hubs/{hub}/users?cursor&limit           MemberPage
//	GET  /hubs/{hub}/servers                      {"servers": ServerConnectionInfo list}
//	GET  /servers                                 the same for every hub
//	POST /hubs/{hub}/send   {"connection"|"user"|"group", "target", "arguments"}
//	POST /hubs/{hub}/groups/{group}/add     {"connection"|"user"}
//	POST /hubs/{hub}/groups/{group}/remove  {"connection"|"user"}
//	POST /hubs/{hub}/connections/{id}/close {"reason"}
//	GET  /events?hub&user&group&connection&kind   Server-Sent Events
//	GET, PUT, DELETE /faults                      see faults.go
func (e *Emulator) serveControlAPI(w http.ResponseWriter, r *http.Request, rest string) {
	raw := strings.Split(strings.Trim(rest, "/"), "/")
	seg := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			controlError(w, http.StatusBadRequest, "the path holds an invalid percent-escape")
			return
		}
		seg[i] = u
	}
	q := r.URL.Query()
	method := r.Method
	switch {
	case len(seg) == 1 && seg[0] == "events" && method == http.MethodGet:
		filter := &EventFilter{Hub: q.Get("hub"), User: q.Get("user"), Group: q.Get("group"), Connection: q.Get("connection")}
		for _, k := range q["kind"] {
			for _, part := range strings.Split(k, ",") {
				if part != "" {
					filter.Kinds = append(filter.Kinds, EventKind(part))
				}
			}
		}
		e.serveEventStream(w, r, filter)
	case len(seg) == 1 && seg[0] == "faults":
		e.serveFaults(w, r)
	case len(seg) == 1 && seg[0] == "hubs" && method == http.MethodGet:
		writeJSON(w, map[string]any{"hubs": e.Hubs()})
	case len(seg) == 1 && seg[0] == "servers" && method == http.MethodGet:
		writeJSON(w, map[string]any{"servers": e.ServerConnections("")})
	case len(seg) == 3 && seg[0] == "hubs" && seg[2] == "servers" && method == http.MethodGet:
		writeJSON(w, map[string]any{"servers": e.ServerConnections(seg[1])})
	case len(seg) == 3 && seg[0] == "hubs" && method == http.MethodGet && (seg[2] == "connections" || seg[2] == "groups" || seg[2] == "users"):
		opts := &PageOptions{Cursor: q.Get("cursor"), User: q.Get("user"), Group: q.Get("group")}
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil {
				controlError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 1000")
				return
			}
			opts.Limit = n
		}
		var page any
		var err error
		switch seg[2] {
		case "connections":
			page, err = e.Connections(seg[1], opts)
		case "groups":
			page, err = e.Groups(seg[1], opts)
		default:
			page, err = e.Users(seg[1], opts)
		}
		if err != nil {
			controlError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 1000")
			return
		}
		writeJSON(w, page)
	case len(seg) == 3 && seg[0] == "hubs" && seg[2] == "send" && method == http.MethodPost:
		var body struct {
			Recipient
			Target    string          `json:"target"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if !readControlBody(w, r, &body) {
			return
		}
		e.controlResult(w, e.Send(seg[1], body.Recipient, body.Target, body.Arguments))
	case len(seg) == 5 && seg[0] == "hubs" && seg[2] == "groups" && (seg[4] == "add" || seg[4] == "remove") && method == http.MethodPost:
		var who Recipient
		if !readControlBody(w, r, &who) {
			return
		}
		if seg[4] == "add" {
			e.controlResult(w, e.AddToGroup(seg[1], who, seg[3]))
		} else {
			e.controlResult(w, e.RemoveFromGroup(seg[1], who, seg[3]))
		}
	case len(seg) == 5 && seg[0] == "hubs" && seg[2] == "connections" && seg[4] == "close" && method == http.MethodPost:
		var body struct {
			Reason string `json:"reason"`
		}
		if !readControlBody(w, r, &body) {
			return
		}
		e.controlResult(w, e.CloseConnection(seg[1], seg[3], body.Reason))
	default:
		controlError(w, http.StatusNotFound, "no such control API route: "+method+" "+controlPrefix+rest+" (see the README's emulator section)")
	}
}

// readControlBody decodes a JSON body (an empty one is {}) into v. The body
// is bounded in size (maxControlBody) and in nesting (MaxNestingDepth,
// checked without recursion before encoding/json sees it), as every
// decoder of client data is.
func readControlBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxControlBody))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if err := hubproto.CheckJSONDepth(body); err != nil {
		controlError(w, http.StatusBadRequest, "the body is refused: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		controlError(w, http.StatusBadRequest, "the body is not the JSON object expected: "+err.Error())
		return false
	}
	return true
}

func (e *Emulator) controlResult(w http.ResponseWriter, err error) {
	if err != nil {
		controlError(w, statusOf(err), err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sseWriteTimeout bounds each write of the event stream to a viewer.
const sseWriteTimeout = 10 * time.Second

// maxSSEBatch bounds the bytes of events written to a viewer at once.
const maxSSEBatch = 64 << 10

// serveEventStream streams the feed as Server-Sent Events (event: the
// kind, id: the sequence number, data: the Event as JSON) until the viewer
// leaves or the emulator shuts down. A comment goes out every 15s so that
// proxies keep the stream open.
func (e *Emulator) serveEventStream(w http.ResponseWriter, r *http.Request, filter *EventFilter) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	s := e.bus.subscribe(filter, DefaultEventBuffer)
	defer e.bus.unsubscribe(s)
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	write := func(p []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := w.Write(p); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte(": connected\n\n")) {
		return
	}
	var buf []byte
	appendEvent := func(ev Event) {
		data, _ := json.Marshal(ev)
		buf = append(buf, "id: "...)
		buf = strconv.AppendUint(buf, ev.Seq, 10)
		buf = append(buf, "\nevent: "...)
		buf = append(buf, ev.Kind...)
		buf = append(buf, "\ndata: "...)
		buf = append(buf, data...)
		buf = append(buf, "\n\n"...)
	}
	for {
		select {
		case ev := <-s.ch:
			// The events already waiting go out with this one, in one
			// write and one flush (a burst of connects is one write, not
			// thousands), up to maxSSEBatch bytes.
			buf = buf[:0]
			appendEvent(ev)
		more:
			for len(buf) < maxSSEBatch {
				select {
				case ev := <-s.ch:
					appendEvent(ev)
				default:
					break more
				}
			}
			if !write(buf) {
				return
			}
		case <-heartbeat.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-e.finished:
			return
		case <-e.closing:
			// Drain what is left for a moment, then stop: Shutdown
			// waits for no viewer.
			return
		}
	}
}
