package emulator

import (
	"sort"
	"sync"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// maxMembershipLifetime caps a user's group membership without a ttl, as
// the service documents ("at most 1 year").
const maxMembershipLifetime = 365 * 24 * time.Hour

// maxUserGroupsWithoutTTL is how many of a user's memberships without a ttl
// are kept: the service keeps the latest 100, which also bounds what a user
// who never connects can hold.
const maxUserGroupsWithoutTTL = 100

// hub holds the connections of one hub and who belongs to which group.
// Hub names are lowercased before they get here; user ids and group names
// are compared exactly.
type hub struct {
	name string
	// writers is the emulator's writer pool, which a broadcast hands the
	// connections to write to (writerpool.go); nil for a hub that holds
	// no connection.
	writers *writerPool

	mu    sync.RWMutex
	conns map[string]*connection
	// users maps a user id to its connections.
	users map[string]map[string]*connection
	// groups maps a group to its member connections; each member's expiry
	// is in connection.groups.
	groups map[string]map[string]*connection
	// userGroups maps a user id to the groups the user was added to, with
	// the membership's expiry. The user's later connections join them.
	userGroups map[string]map[string]userMembership
	// dead is set once the emulator dropped the hub; it then takes no new
	// state. Guarded by mu and pending.mu both.
	dead bool

	// pending holds negotiated tokens, under its own lock.
	pending *pendingSet

	// logs holds the broadcasts to every connection, one log per
	// protocol, made when the first connection of the protocol joins.
	// Guarded by mu: made under the write lock, appended to under the
	// read lock (the log has its own lock for appends).
	logs [hubproto.NumProtocols]*broadcastLog
}

// userMembership is one group a user was added to.
type userMembership struct {
	expiry time.Time
	noTTL  bool      // added without a ttl: counts toward the cap of 100
	added  time.Time // orders memberships for the cap
}

func newHub(name string) *hub {
	return &hub{
		name:       name,
		conns:      make(map[string]*connection),
		users:      make(map[string]map[string]*connection),
		groups:     make(map[string]map[string]*connection),
		userGroups: make(map[string]map[string]userMembership),
		pending:    newPendingSet(),
	}
}

func expired(expiry, now time.Time) bool { return !expiry.IsZero() && !now.Before(expiry) }

// add registers c and joins it to the groups its user belongs to. It
// reports false when the hub was dropped.
func (h *hub) add(c *connection) bool {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead {
		return false
	}
	h.conns[c.id] = c
	if p := c.proto; p >= 0 && p < hubproto.NumProtocols {
		if h.logs[p] == nil {
			h.logs[p] = newBroadcastLog()
		}
		c.queue.attach(h.logs[p])
	}
	if c.user == "" {
		return true
	}
	byID := h.users[c.user]
	if byID == nil {
		byID = make(map[string]*connection)
		h.users[c.user] = byID
	}
	byID[c.id] = c
	for group, m := range h.userGroups[c.user] {
		if expired(m.expiry, now) {
			delete(h.userGroups[c.user], group)
			continue
		}
		h.join(c, group, m.expiry)
	}
	if len(h.userGroups[c.user]) == 0 {
		delete(h.userGroups, c.user)
	}
	return true
}

// empty reports whether h holds no connection, no user membership and no
// pending token. Expired memberships count until a sweep removes them.
func (h *hub) empty(now time.Time) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns) == 0 && len(h.userGroups) == 0 && h.pending.expire(now) == 0
}

// markDeadIfEmpty marks h dropped if it is still empty, with both of its
// locks held so that nothing is added meanwhile.
func (h *hub) markDeadIfEmpty(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending.mu.Lock()
	defer h.pending.mu.Unlock()
	h.pending.expireLocked(now)
	if len(h.conns) > 0 || len(h.userGroups) > 0 || len(h.pending.byToken) > 0 {
		return false
	}
	h.dead = true
	h.pending.dead = true
	return true
}

// sweep forgets expired user memberships.
func (h *hub) sweep(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for user, groups := range h.userGroups {
		for group, m := range groups {
			if expired(m.expiry, now) {
				delete(groups, group)
			}
		}
		if len(groups) == 0 {
			delete(h.userGroups, user)
		}
	}
}

// remove forgets c and its group memberships.
func (h *hub) remove(c *connection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns[c.id] != c {
		return
	}
	delete(h.conns, c.id)
	if byID := h.users[c.user]; byID != nil {
		delete(byID, c.id)
		if len(byID) == 0 {
			delete(h.users, c.user)
		}
	}
	for group := range c.groups {
		h.leave(c, group)
	}
}

// join adds c to group until expiry (zero: no expiry). h.mu must be held.
func (h *hub) join(c *connection, group string, expiry time.Time) {
	h.joinSized(c, group, expiry, 0)
}

// joinSized is join for a caller about to add about size members to
// group: a new group's map is made that large at once.
func (h *hub) joinSized(c *connection, group string, expiry time.Time, size int) {
	members := h.groups[group]
	if members == nil {
		members = make(map[string]*connection, size)
		h.groups[group] = members
	}
	members[c.id] = c
	c.groups[group] = expiry
}

// leave removes c from group and reports whether it was a member.
// h.mu must be held.
func (h *hub) leave(c *connection, group string) bool {
	_, member := c.groups[group]
	delete(c.groups, group)
	if members := h.groups[group]; members != nil {
		delete(members, c.id)
		if len(members) == 0 {
			delete(h.groups, group)
		}
	}
	return member
}

// excludedSet is the set of connection ids a send skips.
type excludedSet map[string]struct{}

func (x excludedSet) has(id string) bool {
	_, ok := x[id]
	return ok
}

// deliver queues msg for c in c's protocol.
func deliver(c *connection, msg *outMessage) {
	if record := msg.record(c.proto); record != nil {
		c.enqueue(record)
	}
}

// sendAll queues msg for every connection not excluded. Without
// exclusions msg is appended once to the broadcast log of each protocol in
// use and every connection is told, which costs a connection no copy.
func (h *hub) sendAll(msg *outMessage, excluded excludedSet) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(excluded) > 0 {
		for id, c := range h.conns {
			if !excluded.has(id) {
				deliver(c, msg)
			}
		}
		return
	}
	var ends [hubproto.NumProtocols]*logMark
	batch := poolBatches.Get().(*[]*connection)
	for _, c := range h.conns {
		p := c.proto
		if p < 0 || p >= hubproto.NumProtocols || c.queue.log != h.logs[p] {
			deliver(c, msg) // not following the hub's log
			continue
		}
		if ends[p] == nil {
			record := msg.record(p)
			if record == nil {
				continue
			}
			ends[p] = h.logs[p].append(record)
		}
		if c.queue.notifyPooled(ends[p]) {
			*batch = append(*batch, c)
		}
	}
	if h.writers != nil {
		h.writers.addBatch(*batch)
	} else {
		for _, c := range *batch {
			c.queue.toPool()
		}
	}
	clear(*batch)
	*batch = (*batch)[:0]
	poolBatches.Put(batch)
}

// poolBatches holds the slices a broadcast gathers the connections for the
// writer pool in.
var poolBatches = sync.Pool{New: func() any { return new([]*connection) }}

// sendUser queues msg for every connection of user.
func (h *hub) sendUser(user string, msg *outMessage, excluded excludedSet) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, c := range h.users[user] {
		if !excluded.has(id) {
			deliver(c, msg)
		}
	}
}

// sendConnection queues msg for one connection.
func (h *hub) sendConnection(id string, msg *outMessage) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if c := h.conns[id]; c != nil {
		deliver(c, msg)
	}
}

// sendGroup queues msg for every current member of group not excluded.
func (h *hub) sendGroup(group string, msg *outMessage, excluded excludedSet) {
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, c := range h.groups[group] {
		if !excluded.has(id) && !expired(c.groups[group], now) {
			deliver(c, msg)
		}
	}
}

// closeConnections asks the selected connections to close. Selection is by
// user when user is set, by group when group is set, else all.
func (h *hub) closeConnections(user, group string, excluded excludedSet, reason string) {
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	var targets map[string]*connection
	switch {
	case user != "":
		targets = h.users[user]
	case group != "":
		targets = h.groups[group]
	default:
		targets = h.conns
	}
	for id, c := range targets {
		if excluded.has(id) || group != "" && expired(c.groups[group], now) {
			continue
		}
		c.requestClose(reason, true)
	}
}

// closeConnection asks one connection to close.
func (h *hub) closeConnection(id, reason string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if c := h.conns[id]; c != nil {
		c.requestClose(reason, true)
	}
}

// hasConnection reports whether connection id is connected.
func (h *hub) hasConnection(id string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id] != nil
}

// hasUser reports whether user has at least one connection.
func (h *hub) hasUser(user string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users[user]) > 0
}

// hasGroup reports whether group has at least one current member.
func (h *hub) hasGroup(group string) bool {
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.groups[group] {
		if !expired(c.groups[group], now) {
			return true
		}
	}
	return false
}

// userInGroup reports whether user belongs to group, either as a user or
// through one of its connections.
func (h *hub) userInGroup(user, group string) bool {
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	if m, ok := h.userGroups[user][group]; ok && !expired(m.expiry, now) {
		return true
	}
	for _, c := range h.users[user] {
		if expiry, ok := c.groups[group]; ok && !expired(expiry, now) {
			return true
		}
	}
	return false
}

// addConnectionToGroup reports false when the connection is unknown.
func (h *hub) addConnectionToGroup(id, group string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conns[id]
	if c == nil {
		return false
	}
	h.join(c, group, time.Time{})
	return true
}

// removeConnectionFromGroup takes the connection out of group, if it is in
// it, and reports whether the connection exists.
func (h *hub) removeConnectionFromGroup(id, group string) (exists bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conns[id]
	if c == nil {
		return false
	}
	h.leave(c, group)
	return true
}

// removeConnectionFromAllGroups reports false when the connection is unknown.
func (h *hub) removeConnectionFromAllGroups(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conns[id]
	if c == nil {
		return false
	}
	for group := range c.groups {
		h.leave(c, group)
	}
	return true
}

// addUserToGroup adds user's current connections to group and, unless ttl
// is zero, remembers the membership so that the user's later connections
// join too. A nil ttl means the longest membership the service allows, and
// of those only the latest maxUserGroupsWithoutTTL are kept. It reports
// false when the hub was dropped.
func (h *hub) addUserToGroup(user, group string, ttl *time.Duration) bool {
	now := time.Now()
	var expiry time.Time
	switch {
	case ttl == nil:
		expiry = now.Add(maxMembershipLifetime)
	case *ttl > 0:
		expiry = now.Add(*ttl)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead {
		return false
	}
	if ttl == nil || *ttl > 0 {
		groups := h.userGroups[user]
		if groups == nil {
			groups = make(map[string]userMembership)
			h.userGroups[user] = groups
		}
		groups[group] = userMembership{expiry: expiry, noTTL: ttl == nil, added: now}
		if ttl == nil {
			capUserGroups(groups)
		}
	}
	for _, c := range h.users[user] {
		h.join(c, group, expiry)
	}
	return true
}

// capUserGroups keeps the latest maxUserGroupsWithoutTTL of a user's
// memberships without a ttl. The user's current connections keep their
// groups; only later connections miss the dropped ones. h.mu must be held.
func capUserGroups(groups map[string]userMembership) {
	count := 0
	for _, m := range groups {
		if m.noTTL {
			count++
		}
	}
	for ; count > maxUserGroupsWithoutTTL; count-- {
		oldest, first := "", true
		for group, m := range groups {
			if m.noTTL && (first || m.added.Before(groups[oldest].added)) {
				oldest, first = group, false
			}
		}
		delete(groups, oldest)
	}
}

// removeUserFromGroup removes user, and each of its connections, from group.
func (h *hub) removeUserFromGroup(user, group string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if groups := h.userGroups[user]; groups != nil {
		delete(groups, group)
		if len(groups) == 0 {
			delete(h.userGroups, user)
		}
	}
	for _, c := range h.users[user] {
		h.leave(c, group)
	}
}

// removeUserFromAllGroups removes user, and each of its connections, from
// every group.
func (h *hub) removeUserFromAllGroups(user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.userGroups, user)
	for _, c := range h.users[user] {
		for group := range c.groups {
			h.leave(c, group)
		}
	}
}

// snapshot copies the hub's state, leaving out expired memberships.
func (h *hub) snapshot() HubSnapshot {
	now := time.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := HubSnapshot{
		Hub:        h.name,
		Users:      make(map[string][]string),
		Groups:     make(map[string][]string),
		UserGroups: make(map[string][]string),
	}
	for _, c := range h.conns {
		cs := ConnectionSnapshot{ID: c.id, UserID: c.user}
		if sr := c.resumable.Load(); sr != nil {
			cs.AwaitingReconnect = sr.awaiting.Load()
		}
		for group, expiry := range c.groups {
			if expired(expiry, now) {
				continue
			}
			cs.Groups = append(cs.Groups, group)
			s.Groups[group] = append(s.Groups[group], c.id)
		}
		sort.Strings(cs.Groups)
		s.Connections = append(s.Connections, cs)
		if c.user != "" {
			s.Users[c.user] = append(s.Users[c.user], c.id)
		}
	}
	for user, groups := range h.userGroups {
		for group, m := range groups {
			if !expired(m.expiry, now) {
				s.UserGroups[user] = append(s.UserGroups[user], group)
			}
		}
	}
	sort.Slice(s.Connections, func(i, j int) bool { return s.Connections[i].ID < s.Connections[j].ID })
	for _, m := range []map[string][]string{s.Users, s.Groups, s.UserGroups} {
		for _, ids := range m {
			sort.Strings(ids)
		}
	}
	return s
}
