package emulator

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/odata"
	"github.com/funcsignalr/signalr/internal/validate"
)

// MaxExecuteCommands is the most commands one :execute request may carry;
// the emulator answers 400, naming this limit, to a longer list. A batch
// costs its commands times the connections it selects, and the bound keeps
// one request's work (and the memberships it can add) in proportion.
const MaxExecuteCommands = 1000

// executeChunk is how many steps (one command applied to one connection)
// an :execute batch takes under one hold of the hub's lock. Between chunks
// the lock is released, so that other calls on the hub wait for a chunk,
// never for the whole batch.
const executeChunk = 256

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
	if len(raw) > MaxExecuteCommands {
		return nil, "the command list has " + strconv.Itoa(len(raw)) + " commands; the emulator takes at most " +
			strconv.Itoa(MaxExecuteCommands) + " per :execute request, so split the list"
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
// them in order: each command to every selected connection before the
// next command. The batch is not one step for other calls: it takes the
// hub's lock for executeChunk steps at a time, so a concurrent call may see
// it half done. A connection that goes away meanwhile is skipped.
func (h *hub) execute(filter *odata.Filter, commands []execCommand) {
	selected := h.selectConnections(filter)
	if len(selected) == 0 {
		return
	}
	l := chunkLock{mu: &h.mu}
	defer l.release()
	h.reserveGroups(selected, commands, &l)
	for _, cmd := range commands {
		// Sends and closes change no hub state: they need only the read
		// lock, which leaves the hub's other readers free to run meanwhile.
		write := cmd.kind == "JoinGroup" || cmd.kind == "LeaveGroup"
		for _, c := range selected {
			l.step(write)
			if h.conns[c.id] != c {
				continue // removed since it was selected
			}
			switch cmd.kind {
			case "SendMessage":
				deliver(c, cmd.msg)
			case "JoinGroup":
				h.joinSized(c, cmd.group, time.Time{}, len(selected))
			case "LeaveGroup":
				h.leave(c, cmd.group)
			case "CloseConnection":
				c.requestClose(cmd.reason, true)
			}
		}
	}
}

// chunkLock holds a hub's lock for at most executeChunk steps at a time,
// in the mode each step asks for.
type chunkLock struct {
	mu    *sync.RWMutex
	held  bool
	write bool
	steps int
}

// step makes sure the lock is held in the mode asked for, first releasing
// it when the chunk is full or held in the other mode.
func (l *chunkLock) step(write bool) {
	if l.held && (l.write != write || l.steps >= executeChunk) {
		l.release()
	}
	if !l.held {
		if write {
			l.mu.Lock()
		} else {
			l.mu.RLock()
		}
		l.held, l.write, l.steps = true, write, 0
	}
	l.steps++
}

// release lets go of the lock if it is held.
func (l *chunkLock) release() {
	if !l.held {
		return
	}
	if l.write {
		l.mu.Unlock()
	} else {
		l.mu.RUnlock()
	}
	l.held = false
}

// selectConnections returns the connections filter matches (a nil filter
// matches all of them).
func (h *hub) selectConnections(filter *odata.Filter) []*connection {
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
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
	return selected
}

// reserveGroups makes room in each selected connection's group map for the
// groups commands join, so that a batch of joins grows each map once
// rather than doubling it step by step, under l's write lock.
func (h *hub) reserveGroups(selected []*connection, commands []execCommand, l *chunkLock) {
	joins := make(map[string]struct{})
	for _, cmd := range commands {
		if cmd.kind == "JoinGroup" {
			joins[cmd.group] = struct{}{}
		}
	}
	if len(joins) < 8 {
		return // small enough to grow as it goes
	}
	for _, c := range selected {
		l.step(true)
		if h.conns[c.id] != c {
			continue
		}
		grown := make(map[string]time.Time, len(c.groups)+len(joins))
		maps.Copy(grown, c.groups)
		c.groups = grown
	}
}
