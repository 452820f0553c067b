package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/restapi"
	"github.com/funcsignalr/signalr/internal/validate"
	"github.com/golang-jwt/jwt/v5"
)

// The operations REST API 2023-07-01 and 2024-12-01 added. The emulator
// serves them whatever api-version a request names.
//
// Streams: the swagger declares no body for
// .../streams/{streamId}/:send; the emulator reads the request body as one
// JSON value, the stream item, and sends the client
// {"type":2,"invocationId":<streamId>,"item":<body>} (an empty body is the
// item null). With completed=true a Completion for the stream follows.
// .../:complete sends {"type":3,"invocationId":<streamId>}, with
// "error":<reason> when a reason is given. That the stream id is the
// invocation id of the client's StreamInvocation is this emulator's
// reading of the swagger (issue Azure/azure-signalr#2132 is open).

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

// serveREST2024 serves the operations added by 2023-07-01 and 2024-12-01
// once the route matched and the token was accepted; it reports false for
// the older operations, which runREST serves.
func (e *Emulator) serveREST2024(w http.ResponseWriter, r *http.Request, version apiVersion, route restRoute, p routeParams) bool {
	switch route.op {
	case restapi.GetAccessKey:
		e.serveAccessKey(w, r, version)
		return true
	case restapi.Execute, restapi.GenerateClientToken, restapi.InvokeConnection,
		restapi.SendToConnectionStream, restapi.CompleteConnectionStream, restapi.ListConnectionsInGroup:
	default:
		return false
	}
	query := r.URL.Query()
	hubName, problem := restHubName(p.hub, query.Get("application"))
	if problem == "" {
		problem = checkParams(route, p, nil)
	}
	if problem == "" && route.op != restapi.ListConnectionsInGroup && route.op != restapi.Execute && route.op != restapi.GenerateClientToken {
		problem = checkStreamID(route, p.stream)
	}
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return true
	}
	h := e.hub(hubName, false)
	switch route.op {
	case restapi.InvokeConnection:
		e.serveInvoke(w, r, version, h, p.connection)
	case restapi.SendToConnectionStream, restapi.CompleteConnectionStream:
		e.serveStream(w, r, version, route, h, p)
	case restapi.ListConnectionsInGroup:
		e.serveGroupConnections(w, r, version, h, p.group)
	case restapi.Execute:
		e.serveExecute(w, r, version, h)
	case restapi.GenerateClientToken:
		e.serveGenerateToken(w, r, version, hubName)
	}
	return true
}

// checkStreamID applies the swagger's rule to a stream id: 1 to 100
// characters, not only white space.
func checkStreamID(route restRoute, stream string) string {
	for _, segment := range route.pattern {
		if segment != "{stream}" {
			continue
		}
		switch {
		case !utf8.ValidString(stream):
			return "the stream id is not valid UTF-8"
		case strings.TrimSpace(stream) == "":
			return "the stream id is empty or only white space"
		case utf8.RuneCountInString(stream) > 100:
			return "the stream id is longer than 100 characters"
		}
	}
	return ""
}

// serveGenerateToken answers POST :generateToken with a client token for
// <this endpoint>/client/?hub=<hub>, for userId, valid for minutesToExpire
// (default 60), signed with the access key.
func (e *Emulator) serveGenerateToken(w http.ResponseWriter, r *http.Request, version apiVersion, hubName string) {
	query := r.URL.Query()
	minutes := int64(60)
	if s := query.Get("minutesToExpire"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, "minutesToExpire must be a whole number of minutes, 1 or more")
			return
		}
		minutes = n
	}
	userID := query.Get("userId")
	if !utf8.ValidString(userID) {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, "userId is not valid UTF-8")
		return
	}
	withPort, _ := requestBases(r)
	now := time.Now()
	claims := jwt.MapClaims{
		"aud": withPort + "/client/?hub=" + strings.ToLower(hubName),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Duration(minutes) * time.Minute).Unix(),
	}
	if userID != "" {
		claims["nameid"] = userID
		claims["asrs.s.uid"] = userID
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(e.key)
	if err != nil {
		writeRESTError(w, r, version, http.StatusInternalServerError, "Error.Internal", "could not sign the token")
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Token string `json:"token"`
	}{token})
}

// serveStream answers the stream routes; see the package comment above.
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

// Paging of group connections.
const (
	defaultMaxPageSize = 200
	maxTop             = 1<<31 - 1
)

// groupMember is one entry of GroupMemberPagedValues.
type groupMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

// groupMembersAfter returns up to limit current members of group whose ids
// sort after after, in id order, and whether more follow. Paging by id
// keeps the order stable: a page neither repeats nor skips a member that
// stays in the group, whoever joins or leaves meanwhile.
func (h *hub) groupMembersAfter(group, after string, limit int) ([]groupMember, bool) {
	now := time.Now()
	h.mu.RLock()
	var members []groupMember
	for id, c := range h.groups[group] {
		if id > after && !expired(c.groups[group], now) {
			members = append(members, groupMember{id, c.user})
		}
	}
	h.mu.RUnlock()
	sort.Slice(members, func(i, j int) bool { return members[i].ConnectionID < members[j].ConnectionID })
	if len(members) > limit {
		return members[:limit], true
	}
	return members, false
}

// serveGroupConnections answers GET .../groups/{group}/connections with a
// page of members and, unless it is the last, an absolute nextLink that
// carries the continuation token and what is left of top.
func (e *Emulator) serveGroupConnections(w http.ResponseWriter, r *http.Request, version apiVersion, h *hub, group string) {
	query := r.URL.Query()
	pageSize, problem := intParam(query, "maxpagesize", 1, defaultMaxPageSize, defaultMaxPageSize)
	top := 0
	if problem == "" {
		top, problem = intParam(query, "top", 1, maxTop, 0)
	}
	after := ""
	if problem == "" && query.Get("continuationToken") != "" {
		raw, err := base64.RawURLEncoding.DecodeString(query.Get("continuationToken"))
		if err != nil || !utf8.Valid(raw) {
			problem = "continuationToken is not one this emulator issued; start again without it"
		}
		after = string(raw)
	}
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return
	}
	limit := pageSize
	if top > 0 {
		limit = min(limit, top)
	}
	var page struct {
		Value    []groupMember `json:"value"`
		NextLink string        `json:"nextLink,omitempty"`
	}
	page.Value = []groupMember{}
	more := false
	if h != nil {
		page.Value, more = h.groupMembersAfter(group, after, limit)
		if page.Value == nil {
			page.Value = []groupMember{}
		}
	}
	if top > 0 && len(page.Value) >= top {
		more = false
	}
	if more {
		next := url.Values{}
		for _, k := range []string{"api-version", "application"} {
			if v := query.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("maxpagesize", strconv.Itoa(pageSize))
		if top > 0 {
			next.Set("top", strconv.Itoa(top-len(page.Value)))
		}
		next.Set("continuationToken", base64.RawURLEncoding.EncodeToString([]byte(page.Value[len(page.Value)-1].ConnectionID)))
		withPort, _ := requestBases(r)
		page.NextLink = withPort + r.URL.EscapedPath() + "?" + next.Encode()
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	_ = json.NewEncoder(w).Encode(page)
}

// intParam reads an optional whole-number query parameter in [lo, hi].
func intParam(query url.Values, name string, lo, hi, def int) (int, string) {
	s := query.Get(name)
	if s == "" {
		return def, ""
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, name + " must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	}
	return n, ""
}

// execCommand is one parsed :execute command.
type execCommand struct {
	kind   string // SendMessage, JoinGroup, LeaveGroup, CloseConnection
	group  string
	msg    *outMessage // SendMessage, encoded once per protocol
	reason string
}

// parseCommands reads the :execute body: a JSON array of SignalRCommand.
func parseCommands(body []byte) ([]execCommand, string) {
	if hubproto.CheckJSONDepth(body) != nil {
		return nil, tooDeepProblem
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "the request body must be a JSON array of commands such as [{\"type\":\"JoinGroup\",\"group\":\"g1\"}]"
	}
	if len(raw) == 0 {
		return nil, "the command list is empty"
	}
	out := make([]execCommand, 0, len(raw))
	for i, fields := range raw {
		at := "commands[" + strconv.Itoa(i) + "]: "
		get := func(name string) (json.RawMessage, bool) {
			for k, v := range fields {
				if strings.EqualFold(k, name) {
					return v, true
				}
			}
			return nil, false
		}
		str := func(name string) (string, bool) {
			v, ok := get(name)
			var s string
			if !ok || json.Unmarshal(v, &s) != nil {
				return "", false
			}
			return s, true
		}
		kind, _ := str("type")
		cmd := execCommand{}
		switch {
		case strings.EqualFold(kind, "SendMessage"):
			cmd.kind = "SendMessage"
			msg, ok := get("message")
			if !ok {
				return nil, at + "SendMessage needs message: {\"target\":..,\"arguments\":[..]}"
			}
			target, arguments, problem := parseSendBody(msg)
			if problem != "" {
				return nil, at + "message: " + problem
			}
			cmd.msg = newOutMessage(target, arguments)
		case strings.EqualFold(kind, "JoinGroup"), strings.EqualFold(kind, "LeaveGroup"):
			cmd.kind = "JoinGroup"
			if strings.EqualFold(kind, "LeaveGroup") {
				cmd.kind = "LeaveGroup"
			}
			group, ok := str("group")
			if !ok {
				return nil, at + cmd.kind + " needs group, a string"
			}
			if err := validate.GroupName(group); err != nil {
				return nil, at + err.Error()
			}
			cmd.group = group
		case strings.EqualFold(kind, "CloseConnection"):
			cmd.kind = "CloseConnection"
			if v, ok := get("reason"); ok && string(v) != "null" {
				reason, ok := str("reason")
				if !ok {
					return nil, at + "reason must be a string"
				}
				cmd.reason = reason
			}
		default:
			return nil, at + "type must be SendMessage, JoinGroup, LeaveGroup or CloseConnection"
		}
		out = append(out, cmd)
	}
	return out, ""
}

// serveExecute answers POST :execute: it selects the connections the
// filter matches (all of the hub's when there is none), then applies the
// commands in order to each of them.
func (e *Emulator) serveExecute(w http.ResponseWriter, r *http.Request, version apiVersion, h *hub) {
	filter, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return
	}
	body, err := readAllLimited(w, r, e.opts.maxMessageSize)
	if err != nil {
		writeRESTError(w, r, version, http.StatusRequestEntityTooLarge, codeRequestEntityTooLarge, "the request body is too large")
		return
	}
	commands, problem := parseCommands(body)
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return
	}
	if h != nil {
		h.execute(filter, commands)
	}
	w.WriteHeader(http.StatusAccepted)
}

// execute selects the connections filter matches and applies commands to
// them in order, holding the hub's lock so that the batch is one step for
// every other REST call.
func (h *hub) execute(filter filterNode, commands []execCommand) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	var selected []*connection
	for _, c := range h.conns {
		if filter == nil || filter.eval(&filterSubject{
			connectionID: c.id,
			userID:       c.user,
			inGroup: func(g string) bool {
				expiry, ok := c.groups[g]
				return ok && !expired(expiry, now)
			},
		}) {
			selected = append(selected, c)
		}
	}
	for _, cmd := range commands {
		for _, c := range selected {
			switch cmd.kind {
			case "SendMessage":
				deliver(c, cmd.msg)
			case "JoinGroup":
				h.join(c, cmd.group, time.Time{})
			case "LeaveGroup":
				h.leave(c, cmd.group)
			case "CloseConnection":
				c.requestClose(cmd.reason, true)
			}
		}
	}
}
