package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/odata"
	"github.com/funcsignalr/signalr/internal/validate"
)

// execCommand is one parsed :execute command.
type execCommand struct {
	kind   string // SendMessage, JoinGroup, LeaveGroup, CloseConnection
	group  string
	msg    *outMessage // SendMessage, encoded once per protocol
	reason string
}

// parseCommands reads the :execute body: a JSON array of SignalRCommand.
func parseCommands(body []byte) ([]execCommand, string) {
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
	filter, err := odata.Parse(r.URL.Query().Get("filter"))
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
func (h *hub) execute(filter *odata.Filter, commands []execCommand) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	var selected []*connection
	for _, c := range h.conns {
		if filter.Match(&odata.Subject{
			ConnectionID: c.id,
			UserID:       c.user,
			InGroup: func(g string) bool {
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
