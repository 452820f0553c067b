package emulator

import (
	"sync"
	"time"
)

// pendingConnection is a negotiated connection waiting for its transport.
type pendingConnection struct {
	id        string
	expires   time.Time
	connected bool
	// stateful is set when negotiate granted stateful reconnect.
	stateful bool
}

// pendingSet holds one hub's negotiated connection tokens. Tokens are
// indexed by value, and since every token lives for the same negotiate
// timeout they expire in the order they were made: expiring them walks only
// the expired ones, so negotiate costs the same with one pending token or a
// hundred thousand.
type pendingSet struct {
	mu      sync.Mutex
	byToken map[string]*pendingConnection
	order   []string // tokens, oldest first, from head on
	head    int
	// dead is set, with the hub's lock held too, when the hub is dropped;
	// a dropped hub takes no new tokens.
	dead bool
}

func newPendingSet() *pendingSet {
	return &pendingSet{byToken: make(map[string]*pendingConnection)}
}

// add records token for connection id until expires. It reports false when
// the hub was dropped meanwhile.
func (p *pendingSet) add(token, id string, now, expires time.Time) bool {
	return p.addStateful(token, id, now, expires, false)
}

// addStateful is add with whether negotiate granted stateful reconnect.
func (p *pendingSet) addStateful(token, id string, now, expires time.Time, stateful bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return false
	}
	p.expireLocked(now)
	p.byToken[token] = &pendingConnection{id: id, expires: expires, stateful: stateful}
	p.order = append(p.order, token)
	return true
}

// claim turns token into its connection id, marking it used. It returns
// the HTTP status to answer when it cannot: 404 unknown or expired, 409
// already connected.
func (p *pendingSet) claim(token string, now time.Time) (id string, status int) {
	id, _, status = p.claimStateful(token, now)
	return id, status
}

// claimStateful is claim that also reports whether negotiate granted
// stateful reconnect to the token.
func (p *pendingSet) claimStateful(token string, now time.Time) (id string, stateful bool, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.byToken[token]
	switch {
	case c == nil || now.After(c.expires):
		return "", false, 404
	case c.connected:
		return "", false, 409
	}
	c.connected = true
	return c.id, c.stateful, 200
}

// forget drops token, whose connection has ended: the token cannot connect
// again, and the hub need not be kept for it.
func (p *pendingSet) forget(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byToken, token)
}

// expire drops the expired tokens and reports how many remain.
func (p *pendingSet) expire(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked(now)
	return len(p.byToken)
}

func (p *pendingSet) expireLocked(now time.Time) {
	for p.head < len(p.order) {
		token := p.order[p.head]
		if c := p.byToken[token]; c != nil {
			if !now.After(c.expires) {
				break
			}
			delete(p.byToken, token)
		}
		p.order[p.head] = ""
		p.head++
	}
	// Reclaim the walked prefix once it is most of the slice, so the
	// slice stays proportional to the live tokens at amortized O(1).
	if p.head > 64 && p.head*2 > len(p.order) {
		n := copy(p.order, p.order[p.head:])
		clear(p.order[n:])
		p.order, p.head = p.order[:n], 0
	}
}
