package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/validate"
)

// connStats counts one connection's traffic. Frames out are what the
// emulator wrote (a frame may carry several messages); messages in are the
// hub protocol messages the client sent, pings included.
type connStats struct {
	messagesIn, bytesIn, framesOut, bytesOut atomic.Int64
}

// countIn counts a frame the client sent.
func (c *connection) countIn(n int) {
	if c.e.uninstrumented.Load() {
		return
	}
	c.stats.bytesIn.Add(int64(n))
}

// countOut counts a frame written to the client.
func (c *connection) countOut(n int) {
	if c.e.uninstrumented.Load() {
		return
	}
	c.stats.framesOut.Add(1)
	c.stats.bytesOut.Add(int64(n))
}

func (c *connection) publishConnected() {
	if !c.e.bus.on() {
		return
	}
	c.e.bus.publish(Event{Kind: EventConnected, Hub: c.hubName, Connection: c.id, User: c.user,
		Transport: transportName(c.t), Protocol: c.proto.String()})
}

func (c *connection) publishDisconnected(reason string) {
	if !c.e.bus.on() {
		return
	}
	if c.faultDropped.Load() {
		reason = "dropped abruptly (fault injection)"
	}
	c.e.bus.publish(Event{Kind: EventDisconnected, Hub: c.hubName, Connection: c.id, User: c.user,
		Transport: transportName(c.t), Reason: reason})
}

// publishMessage reports a client's Invocation or Completion.
func (c *connection) publishMessage(msg hubproto.Message) {
	ev := Event{Hub: c.hubName, Connection: c.id, User: c.user, Target: msg.Target}
	if msg.InvocationID != nil {
		ev.InvocationID = *msg.InvocationID
	}
	switch msg.Type {
	case hubproto.TypeInvocation, hubproto.TypeStreamInvocation:
		ev.Kind = EventInvocation
	case hubproto.TypeCompletion:
		ev.Kind = EventCompletion
	default:
		return
	}
	c.e.bus.publish(ev)
}

// publish reports an upstream call: status 0 with err when no answer came.
func (cu *connUpstream) publish(ev upstreamEvent, status int, took time.Duration, err error) {
	e := cu.c.e
	if !e.bus.on() {
		return
	}
	out := Event{Kind: EventUpstream, Hub: cu.c.hubName, Connection: cu.c.id, User: cu.c.user,
		Target: ev.event, InvocationID: ev.invocationID, Status: status, Duration: took, Signed: len(cu.u.key) > 0}
	if err != nil {
		out.Error = err.Error()
	}
	e.bus.publish(out)
}

// HubInfo sums up one hub for the state API.
type HubInfo struct {
	Name        string `json:"name"`
	Connections int    `json:"connections"`
	Users       int    `json:"users"`
	Groups      int    `json:"groups"`
	// Servers counts the hub's service connections (app servers on the
	// service protocol; see ServerConnections).
	Servers int `json:"servers"`
}

// Hubs lists the hubs the emulator holds, by name: those with clients or
// state, and those only service connections serve.
func (e *Emulator) Hubs() []HubInfo {
	e.hubsMu.RLock()
	hubs := make([]*hub, 0, len(e.hubs))
	for _, h := range e.hubs {
		hubs = append(hubs, h)
	}
	e.hubsMu.RUnlock()
	servers := map[string]int{}
	e.servers.mu.Lock()
	for _, sc := range e.servers.byID {
		servers[sc.hubName]++
	}
	e.servers.mu.Unlock()
	out := make([]HubInfo, 0, len(hubs))
	for _, h := range hubs {
		h.mu.RLock()
		out = append(out, HubInfo{Name: h.name, Connections: len(h.conns), Users: len(h.users), Groups: len(h.groups), Servers: servers[h.name]})
		h.mu.RUnlock()
		delete(servers, h.name)
	}
	for name, n := range servers {
		out = append(out, HubInfo{Name: name, Servers: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ConnectionInfo describes one connection for the state API.
type ConnectionInfo struct {
	ID         string    `json:"id"`
	User       string    `json:"user,omitempty"`
	Transport  string    `json:"transport"`
	Protocol   string    `json:"protocol"`
	Groups     []string  `json:"groups"`
	Since      time.Time `json:"connectedSince"`
	MessagesIn int64     `json:"messagesIn"`
	BytesIn    int64     `json:"bytesIn"`
	FramesOut  int64     `json:"framesOut"`
	BytesOut   int64     `json:"bytesOut"`
}

// PageOptions selects one page of a listing, in id (or name) order. A nil
// *PageOptions means the first page of DefaultPageLimit.
type PageOptions struct {
	// Cursor is the NextCursor of the previous page; "" starts at the
	// beginning.
	Cursor string
	// Limit is the page size: DefaultPageLimit when 0, at most
	// MaxPageLimit.
	Limit int
	// User and Group, when set, keep only the connections of that user
	// or in that group (Connections only).
	User, Group string
}

// Page sizes of the state listings.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// ErrPageLimit is returned for a PageOptions.Limit outside 0..MaxPageLimit.
var ErrPageLimit = errors.New("emulator: page limit must be between 0 and 1000")

func (o *PageOptions) limit() (int, error) {
	if o == nil || o.Limit == 0 {
		return DefaultPageLimit, nil
	}
	if o.Limit < 0 || o.Limit > MaxPageLimit {
		return 0, ErrPageLimit
	}
	return o.Limit, nil
}

// ConnectionPage is one page of a hub's connections.
type ConnectionPage struct {
	Connections []ConnectionInfo `json:"connections"`
	// Total counts the connections that match, on every page.
	Total int `json:"total"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Connections returns a page of hub's connections in id order. Paging
// neither repeats nor skips a connection that stays connected.
func (e *Emulator) Connections(hubName string, opts *PageOptions) (ConnectionPage, error) {
	limit, err := opts.limit()
	if err != nil {
		return ConnectionPage{}, err
	}
	var o PageOptions
	if opts != nil {
		o = *opts
	}
	page := ConnectionPage{Connections: []ConnectionInfo{}}
	h := e.hub(strings.ToLower(hubName), false)
	if h == nil {
		return page, nil
	}
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	source := h.conns
	switch {
	case o.User != "":
		source = h.users[o.User]
	case o.Group != "":
		source = h.groups[o.Group]
	}
	ids := make([]string, 0, len(source))
	for id, c := range source {
		if o.Group != "" && !memberOf(c, o.Group, now) {
			continue
		}
		page.Total++
		if id > o.Cursor {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > limit {
		ids = ids[:limit]
		page.NextCursor = ids[limit-1]
	}
	for _, id := range ids {
		c := h.conns[id]
		info := ConnectionInfo{ID: c.id, User: c.user, Transport: transportName(c.t), Protocol: c.proto.String(),
			Groups: []string{}, Since: c.since,
			MessagesIn: c.stats.messagesIn.Load(), BytesIn: c.stats.bytesIn.Load(),
			FramesOut: c.stats.framesOut.Load(), BytesOut: c.stats.bytesOut.Load()}
		for g, expiry := range c.groups {
			if !expired(expiry, now) {
				info.Groups = append(info.Groups, g)
			}
		}
		sort.Strings(info.Groups)
		page.Connections = append(page.Connections, info)
	}
	return page, nil
}

func memberOf(c *connection, group string, now time.Time) bool {
	expiry, ok := c.groups[group]
	return ok && !expired(expiry, now)
}

// MemberInfo is a group or user with its member connection ids.
type MemberInfo struct {
	Name        string   `json:"name"`
	Connections []string `json:"connections"`
	// Groups lists a user's groups, including those remembered for its
	// later connections (Users only).
	Groups []string `json:"groups,omitempty"`
}

// MemberPage is one page of groups or users.
type MemberPage struct {
	Items      []MemberInfo `json:"items"`
	Total      int          `json:"total"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

// Groups returns a page of hub's groups with current members, by name.
func (e *Emulator) Groups(hubName string, opts *PageOptions) (MemberPage, error) {
	return e.members(hubName, opts, false)
}

// Users returns a page of hub's users (connected, or with remembered
// group memberships), by id.
func (e *Emulator) Users(hubName string, opts *PageOptions) (MemberPage, error) {
	return e.members(hubName, opts, true)
}

func (e *Emulator) members(hubName string, opts *PageOptions, users bool) (MemberPage, error) {
	limit, err := opts.limit()
	if err != nil {
		return MemberPage{}, err
	}
	cursor := ""
	if opts != nil {
		cursor = opts.Cursor
	}
	page := MemberPage{Items: []MemberInfo{}}
	h := e.hub(strings.ToLower(hubName), false)
	if h == nil {
		return page, nil
	}
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	names := map[string]bool{}
	if users {
		for u := range h.users {
			names[u] = true
		}
		for u := range h.userGroups {
			names[u] = true
		}
	} else {
		for g, members := range h.groups {
			for _, c := range members {
				if memberOf(c, g, now) {
					names[g] = true
					break
				}
			}
		}
	}
	page.Total = len(names)
	list := make([]string, 0, len(names))
	for n := range names {
		if n > cursor {
			list = append(list, n)
		}
	}
	sort.Strings(list)
	if len(list) > limit {
		list = list[:limit]
		page.NextCursor = list[limit-1]
	}
	for _, n := range list {
		item := MemberInfo{Name: n, Connections: []string{}}
		if users {
			groups := map[string]bool{}
			for id, c := range h.users[n] {
				item.Connections = append(item.Connections, id)
				for g, expiry := range c.groups {
					if !expired(expiry, now) {
						groups[g] = true
					}
				}
			}
			for g, m := range h.userGroups[n] {
				if !expired(m.expiry, now) {
					groups[g] = true
				}
			}
			for g := range groups {
				item.Groups = append(item.Groups, g)
			}
			sort.Strings(item.Groups)
		} else {
			for id, c := range h.groups[n] {
				if memberOf(c, n, now) {
					item.Connections = append(item.Connections, id)
				}
			}
		}
		sort.Strings(item.Connections)
		page.Items = append(page.Items, item)
	}
	return page, nil
}

// Recipient names who a control action reaches in a hub: one connection,
// every connection of a user, the members of a group, or (all empty)
// every connection. At most one field may be set.
type Recipient struct {
	Connection string `json:"connection,omitempty"`
	User       string `json:"user,omitempty"`
	Group      string `json:"group,omitempty"`
}

// Control errors, for errors.Is.
var (
	// ErrBadRecipient: more than one of a Recipient's fields is set, or
	// the action needs one that is not.
	ErrBadRecipient = errors.New("emulator: set at most one of connection, user and group")
	// ErrNoConnection: the connection named is not connected.
	ErrNoConnection = errors.New("emulator: no such connection")
	// ErrBadName: a hub, group or target name is empty or invalid.
	ErrBadName = errors.New("emulator: invalid name")
)

func (r Recipient) count() int {
	n := 0
	for _, s := range []string{r.Connection, r.User, r.Group} {
		if s != "" {
			n++
		}
	}
	return n
}

// Send sends target(arguments...) to the recipients in hub, as a REST send
// does; arguments is a JSON array (nil: no arguments).
func (e *Emulator) Send(hubName string, to Recipient, target string, arguments json.RawMessage) error {
	if to.count() > 1 {
		return ErrBadRecipient
	}
	if err := validate.HubName(hubName); err != nil {
		return errors.Join(ErrBadName, err)
	}
	if target == "" {
		return errors.Join(ErrBadName, errors.New("target is empty; name the client method to call"))
	}
	if len(arguments) == 0 {
		arguments = json.RawMessage("[]")
	}
	body, _ := json.Marshal(map[string]any{"target": target, "arguments": arguments})
	t, args, problem := parseSendBody(body)
	if problem != "" {
		return errors.New("emulator: " + problem)
	}
	msg := newOutMessage(t, args)
	name := strings.ToLower(hubName)
	h := e.hub(name, false)
	if h != nil {
		switch {
		case to.Connection != "":
			h.sendConnection(to.Connection, msg)
		case to.User != "":
			h.sendUser(to.User, msg, nil)
		case to.Group != "":
			h.sendGroup(to.Group, msg, nil)
		default:
			h.sendAll(msg, nil)
		}
	}
	e.bus.publish(Event{Kind: EventControl, Route: "send", Hub: name, Connection: to.Connection, User: to.User, Group: to.Group, Target: target})
	return nil
}

// AddToGroup adds a connection, or a user (and its later connections), to
// group in hub.
func (e *Emulator) AddToGroup(hubName string, who Recipient, group string) error {
	return e.groupAction(hubName, who, group, true)
}

// RemoveFromGroup takes a connection, or a user, out of group in hub.
func (e *Emulator) RemoveFromGroup(hubName string, who Recipient, group string) error {
	return e.groupAction(hubName, who, group, false)
}

func (e *Emulator) groupAction(hubName string, who Recipient, group string, add bool) error {
	if who.count() != 1 || who.Group != "" {
		return ErrBadRecipient
	}
	if err := validate.HubName(hubName); err != nil {
		return errors.Join(ErrBadName, err)
	}
	if err := validate.GroupName(group); err != nil {
		return errors.Join(ErrBadName, err)
	}
	name := strings.ToLower(hubName)
	action := "group-remove"
	if add {
		action = "group-add"
	}
	switch {
	case who.Connection != "":
		h := e.hub(name, false)
		ok := h != nil && (add && h.addConnectionToGroup(who.Connection, group) || !add && h.removeConnectionFromGroup(who.Connection, group))
		if !ok {
			return ErrNoConnection
		}
	case add:
		e.withLiveHub(name, func(h *hub) bool { return h.addUserToGroup(who.User, group, nil) })
	default:
		if h := e.hub(name, false); h != nil {
			h.removeUserFromGroup(who.User, group)
			e.dropIfEmpty(h, time.Now())
		}
	}
	e.bus.publish(Event{Kind: EventControl, Route: action, Hub: name, Connection: who.Connection, User: who.User, Group: group})
	return nil
}

// CloseConnection asks a connection to close with reason (sent as the
// Close message's error, reconnect allowed), as the REST API's close does.
func (e *Emulator) CloseConnection(hubName, id, reason string) error {
	name := strings.ToLower(hubName)
	h := e.hub(name, false)
	if h == nil || !h.hasConnection(id) {
		return ErrNoConnection
	}
	h.closeConnection(id, reason)
	e.bus.publish(Event{Kind: EventControl, Route: "close", Hub: name, Connection: id, Reason: reason})
	return nil
}

// statusOf maps a control error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoConnection):
		return http.StatusNotFound
	default:
		return http.StatusBadRequest
	}
}
