package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/validate"
)

// Error codes sent in the x-ms-error-code header and the error body. The
// NotExisted/NotInGroup ones are those the official SDKs look for.
const (
	codeConnectionNotExisted     = "Error.Connection.NotExisted"
	codeWarnConnectionNotExisted = "Warning.Connection.NotExisted"
	codeWarnGroupNotExisted      = "Warning.Group.NotExisted"
	codeWarnUserNotExisted       = "Warning.User.NotExisted"
	codeUserNotInGroup           = "Info.User.NotInGroup"
	codeInvalidArgument          = "Error.InvalidArgument"
	codeUnauthorized             = "Error.Unauthorized"
	codeNotFound                 = "Error.NotFound"
	codeMethodNotAllowed         = "Error.MethodNotAllowed"
	codeRequestEntityTooLarge    = "Error.RequestEntityTooLarge"
	codeServiceUnavailable       = "Error.ServiceUnavailable"
	contentTypeJSON              = "application/json"
	headerErrorCode              = "x-ms-error-code"
	restPrefixV1, restPrefix2022 = "/api/v1/", "/api/"
	healthPathV1, healthPath2022 = "/api/v1/health", "/api/health"
	errorBodyFormatHint          = "send {\"target\":\"<method>\",\"arguments\":[...]}"
	argumentsNotArrayMessage     = "arguments must be a JSON array"
)

// restError is the JSON error body of a failed REST call.
type restError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeRESTError answers status with the error code header and, where the
// swagger of the API version gives the status a body, an error body: none
// for HEAD, none for an operation's 404 (neither swagger lists a schema for
// it), none on the access key route (whose error response has no schema in
// 2023-07-01 and 2024-12-01; a 401 there says why in WWW-Authenticate),
// text/plain for a v1 400 (as v1.json says), JSON otherwise.
func writeRESTError(w http.ResponseWriter, r *http.Request, version apiVersion, status int, code, message string) {
	w.Header().Set(headerErrorCode, code)
	switch {
	case r.Method == http.MethodHead, status == http.StatusNotFound && code != codeNotFound:
		w.WriteHeader(status)
	case isAccessKeyPath(r.URL.EscapedPath()):
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description=`+strconv.Quote(asciiOnly(message)))
		}
		w.WriteHeader(status)
	case version == apiV1 && status == http.StatusBadRequest:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, message)
	default:
		w.Header().Set("Content-Type", contentTypeJSON)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(restError{Code: code, Message: message})
	}
}

// isAccessKeyPath reports whether path is the access key route, below
// /api or /api/v1.
func isAccessKeyPath(path string) bool {
	path = strings.TrimSuffix(path, "/")
	return strings.EqualFold(path, restPrefix2022+"auth/accessKey") || strings.EqualFold(path, restPrefixV1+"auth/accessKey")
}

// asciiOnly keeps the printable ASCII of s, which a header value can carry.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return -1
		}
		return r
	}, s)
}

// statusRecorder remembers the status written, for the log line, and the
// target of a send, for the feed.
type statusRecorder struct {
	http.ResponseWriter
	status int
	target string
}

// noteTarget tells every statusRecorder around w the target the handler
// parsed from the body, so that the feed's event names it without parsing
// the body a second time.
func noteTarget(w http.ResponseWriter, target string) {
	for {
		rec, ok := w.(*statusRecorder)
		if !ok {
			return
		}
		rec.target = target
		w = rec.ResponseWriter
	}
}

func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// serveREST serves the data-plane REST API under /api and /api/v1.
func (e *Emulator) serveREST(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	start := time.Now()
	defer func() {
		// The escaped path holds no secret; the query is not logged.
		e.opts.logger.Info("rest", "method", r.Method, "path", r.URL.EscapedPath(),
			"status", rec.status, "duration", time.Since(start).Round(time.Microsecond))
	}()
	e.handleREST(rec, r)
}

func (e *Emulator) handleREST(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	version, rest := api2022, strings.TrimPrefix(path, restPrefix2022)
	if strings.HasPrefix(path, restPrefixV1) {
		version, rest = apiV1, strings.TrimPrefix(path, restPrefixV1)
	}
	if e.shuttingDown() {
		// Whatever the call, its effect could not reach a client: the
		// connections are closing.
		w.Header().Set("Retry-After", "1")
		writeRESTError(w, r, version, http.StatusServiceUnavailable, codeServiceUnavailable, "the emulator is shutting down")
		return
	}
	if p := strings.TrimSuffix(path, "/"); p == healthPath2022 || p == healthPathV1 {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeRESTError(w, r, version, http.StatusMethodNotAllowed, codeMethodNotAllowed, "health takes GET or HEAD")
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	table := routeTables[version]
	route, params, result := matchRoute(table, r.Method, rest)
	switch result {
	case routeBadEscape:
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, "the path holds an invalid percent-escape")
		return
	case routeNotFound:
		writeRESTError(w, r, version, http.StatusNotFound, codeNotFound, "no such REST API route")
		return
	case routeWrongMethod:
		w.Header().Set("Allow", allowedMethods(table, rest))
		writeRESTError(w, r, version, http.StatusMethodNotAllowed, codeMethodNotAllowed, "method "+r.Method+" is not allowed on this route")
		return
	}
	if _, err := e.verifyToken(bearerToken(r, false), restAudience(r)); err != nil {
		writeRESTError(w, r, version, http.StatusUnauthorized, codeUnauthorized, err.Error())
		return
	}
	if e.serveREST2024(w, r, version, route, params) {
		return
	}
	hubName, problem := restHubName(params.hub, r.URL.Query().Get("application"))
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return
	}
	if problem := checkParams(route, params, r.URL.Query()["excluded"]); problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return
	}
	e.maybeSweep(time.Now())
	e.runREST(w, r, version, route, params, hubName)
}

// restHubName validates hub (and application, when given) and returns the
// internal hub name: lowercased, prefixed by "<application>_".
func restHubName(hub, application string) (string, string) {
	if err := validate.HubName(hub); err != nil {
		return "", err.Error()
	}
	if application != "" {
		if err := validate.HubName(application); err != nil {
			return "", "application: " + err.Error()
		}
		return strings.ToLower(application) + "_" + strings.ToLower(hub), ""
	}
	return strings.ToLower(hub), ""
}

// checkParams validates the group, user and connection path parameters of
// route and the excluded connection ids: none may be empty or hold bytes
// that are not UTF-8 (a token carries ids as JSON strings, which cannot),
// and groups follow the service's name rule.
func checkParams(route restRoute, p routeParams, excluded []string) string {
	for _, segment := range route.pattern {
		switch {
		case segment == "{user}" && p.user == "":
			return "the user id is empty"
		case segment == "{user}" && !utf8.ValidString(p.user):
			return "the user id is not valid UTF-8; send it UTF-8 encoded, then percent-escaped"
		case segment == "{connection}" && p.connection == "":
			return "the connection id is empty"
		case segment == "{connection}" && !utf8.ValidString(p.connection):
			return "the connection id is not valid UTF-8; send it UTF-8 encoded, then percent-escaped"
		case segment == "{group}" && !utf8.ValidString(p.group):
			return "the group name is not valid UTF-8; send it UTF-8 encoded, then percent-escaped"
		case segment == "{group}":
			if err := validate.GroupName(p.group); err != nil {
				return err.Error()
			}
		}
	}
	for _, id := range excluded {
		if !utf8.ValidString(id) {
			return "an excluded connection id is not valid UTF-8"
		}
	}
	return ""
}

// runREST performs a matched, authorized operation.
func (e *Emulator) runREST(w http.ResponseWriter, r *http.Request, version apiVersion, route restRoute, p routeParams, hubName string) {
	query := r.URL.Query()
	excluded := excludedSet{}
	for _, id := range query["excluded"] {
		excluded[id] = struct{}{}
	}
	// Reads and closes need no hub; an unknown hub is simply empty.
	h := e.hub(hubName, false)
	if h == nil {
		h = newHub(hubName)
	}
	switch route.op {
	case opBroadcast, opSendUser, opSendConnection, opSendGroup:
		msg, problem, status := e.readSendBody(w, r)
		if problem != "" {
			code := codeInvalidArgument
			if status == http.StatusRequestEntityTooLarge {
				code = codeRequestEntityTooLarge
			}
			writeRESTError(w, r, version, status, code, problem)
			return
		}
		switch route.op {
		case opBroadcast:
			h.sendAll(msg, excluded)
		case opSendUser:
			h.sendUser(p.user, msg, excluded)
		case opSendConnection:
			h.sendConnection(p.connection, msg)
		case opSendGroup:
			h.sendGroup(p.group, msg, excluded)
		}
	case opCloseAll:
		h.closeConnections("", "", excluded, query.Get("reason"))
	case opCloseGroup:
		h.closeConnections("", p.group, excluded, query.Get("reason"))
	case opCloseUser:
		h.closeConnections(p.user, "", excluded, query.Get("reason"))
	case opCloseConnection:
		h.closeConnection(p.connection, query.Get("reason"))
	case opConnectionExists:
		if !h.hasConnection(p.connection) {
			writeRESTError(w, r, version, http.StatusNotFound, codeWarnConnectionNotExisted, "the connection does not exist")
			return
		}
	case opGroupExists:
		if !h.hasGroup(p.group) {
			writeRESTError(w, r, version, http.StatusNotFound, codeWarnGroupNotExisted, "the group has no connections")
			return
		}
	case opUserExists:
		if !h.hasUser(p.user) {
			writeRESTError(w, r, version, http.StatusNotFound, codeWarnUserNotExisted, "the user has no connections")
			return
		}
	case opUserInGroup:
		if !h.userInGroup(p.user, p.group) {
			writeRESTError(w, r, version, http.StatusNotFound, codeUserNotInGroup, "the user is not in the group")
			return
		}
	case opAddConnectionToGroup:
		if !h.addConnectionToGroup(p.connection, p.group) {
			writeRESTError(w, r, version, http.StatusNotFound, codeConnectionNotExisted, "the connection does not exist")
			return
		}
	case opRemoveConnectionFromGroup:
		// Removing a connection that is not in the group is done already,
		// so it succeeds; only an unknown connection is a 404, with the
		// code the SDKs treat as "gone".
		if !h.removeConnectionFromGroup(p.connection, p.group) {
			writeRESTError(w, r, version, http.StatusNotFound, codeConnectionNotExisted, "the connection does not exist")
			return
		}
	case opRemoveConnectionFromAllGroups:
		h.removeConnectionFromAllGroups(p.connection)
	case opAddUserToGroup:
		ttl, problem := parseTTL(query)
		if problem != "" {
			writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
			return
		}
		// User memberships outlive connections, so the hub must exist.
		e.withLiveHub(hubName, func(h *hub) bool { return h.addUserToGroup(p.user, p.group, ttl) })
	case opRemoveUserFromGroup:
		h.removeUserFromGroup(p.user, p.group)
		e.dropIfEmpty(h, time.Now())
	case opRemoveUserFromAllGroups:
		h.removeUserFromAllGroups(p.user)
		e.dropIfEmpty(h, time.Now())
	}
	writeSuccess(w, version, route.status)
}

// parseTTL reads the ttl query parameter in seconds; nil means absent.
func parseTTL(query map[string][]string) (*time.Duration, string) {
	values := query["ttl"]
	if len(values) == 0 || values[0] == "" {
		return nil, ""
	}
	seconds, err := strconv.ParseInt(values[0], 10, 32)
	if err != nil || seconds < 0 {
		return nil, "ttl must be a whole number of seconds, 0 or more"
	}
	ttl := time.Duration(seconds) * time.Second
	return &ttl, ""
}

// readSendBody decodes {"target":..,"arguments":[..]} (property names in
// any case, as the .NET SDK writes Target and Arguments) and returns the
// Invocation to deliver.
func (e *Emulator) readSendBody(w http.ResponseWriter, r *http.Request) (msg *outMessage, problem string, status int) {
	body, err := readAllLimited(w, r, e.opts.maxMessageSize)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, "the request body is larger than " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes", http.StatusRequestEntityTooLarge
		}
		return nil, "could not read the request body", http.StatusBadRequest
	}
	target, arguments, problem := parseSendBody(body)
	if problem != "" {
		return nil, problem, http.StatusBadRequest
	}
	noteTarget(w, target)
	return newOutMessage(target, arguments), "", http.StatusOK
}

func readAllLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}

// tooDeepProblem is the answer to a REST body nested deeper than
// hubproto.MaxNestingDepth, which is refused before it is decoded.
var tooDeepProblem = "the request body nests arrays and objects more than " + strconv.Itoa(hubproto.MaxNestingDepth) +
	" deep, the limit; send flatter arguments"

// parseSendBody extracts target and arguments (compacted, "[]" when absent
// or null) from a send body.
func parseSendBody(body []byte) (target string, arguments json.RawMessage, problem string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil, "the request body is empty; " + errorBodyFormatHint
	}
	if hubproto.CheckJSONDepth(body) != nil {
		return "", nil, tooDeepProblem
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", nil, "the request body is not a JSON object; " + errorBodyFormatHint
	}
	var rawTarget, rawArguments json.RawMessage
	for name, value := range fields {
		switch {
		case strings.EqualFold(name, "target"):
			rawTarget = value
		case strings.EqualFold(name, "arguments"):
			rawArguments = value
		}
	}
	if rawTarget == nil || json.Unmarshal(rawTarget, &target) != nil || target == "" {
		return "", nil, "target is required and must be a non-empty string; " + errorBodyFormatHint
	}
	trimmed := bytes.TrimSpace(rawArguments)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return target, json.RawMessage("[]"), ""
	}
	if trimmed[0] != '[' {
		return "", nil, argumentsNotArrayMessage
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, trimmed); err != nil {
		return "", nil, argumentsNotArrayMessage
	}
	return target, compact.Bytes(), ""
}

// writeSuccess answers a successful operation. The dated APIs describe a
// ServiceResponse body for their 200 and 202 answers; the emulator sends
// the empty one, {}. v1 describes none.
func writeSuccess(w http.ResponseWriter, version apiVersion, status int) {
	if version == apiV1 || (status != http.StatusOK && status != http.StatusAccepted) {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write([]byte("{}"))
}
