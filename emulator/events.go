package emulator

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind names what an Event reports.
type EventKind string

// The kinds of Event the feed carries.
const (
	// EventConnected: a client finished its handshake.
	EventConnected EventKind = "connected"
	// EventDisconnected: a client's connection ended; Reason says why.
	EventDisconnected EventKind = "disconnected"
	// EventREST: a REST API call was answered (Method, Route, Status,
	// Duration; Target for a send).
	EventREST EventKind = "rest"
	// EventNegotiate: a client negotiated (Status, Duration).
	EventNegotiate EventKind = "negotiate"
	// EventUpstream: an upstream call ended (Target is the event, Status
	// 0 when no answer came, Error, Signed, Duration).
	EventUpstream EventKind = "upstream"
	// EventInvocation: a client sent an Invocation (Target, InvocationID).
	EventInvocation EventKind = "invocation"
	// EventCompletion: a client sent a Completion (InvocationID, Error).
	EventCompletion EventKind = "completion"
	// EventControl: the control API or a Go control method acted (Route
	// names the action).
	EventControl EventKind = "control"
	// EventFault: an injected fault fired (Target names it).
	EventFault EventKind = "fault"
)

// Event is one entry of the emulator's traffic feed (Emulator.Events, the
// control API's /_emulator/api/events and the traffic record). Fields that
// do not apply are empty. Every string is redacted before it is published:
// access keys, JWTs, access_token values, Authorization values and upstream
// signatures never appear in an Event.
type Event struct {
	// Seq numbers the events of one emulator from 1, in publishing order.
	Seq uint64 `json:"seq"`
	// Time is when the event was published.
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind EventKind `json:"kind"`
	// Hub is the hub's name, lowercased.
	Hub string `json:"hub,omitempty"`
	// Connection is the connection id concerned.
	Connection string `json:"connection,omitempty"`
	// User is the user id concerned.
	User string `json:"user,omitempty"`
	// Group is the group concerned.
	Group string `json:"group,omitempty"`
	// Transport and Protocol describe a connection (connected events).
	Transport string `json:"transport,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
	// Method and Route are a REST call's method and escaped path (no
	// query), or a control action's name.
	Method string `json:"method,omitempty"`
	Route  string `json:"route,omitempty"`
	// Status is the HTTP status answered (REST, negotiate) or received
	// (upstream).
	Status int `json:"status,omitempty"`
	// Duration is how long the call took.
	Duration time.Duration `json:"durationNs,omitempty"`
	// Target is the hub method of a send or invocation, or the upstream
	// event.
	Target string `json:"target,omitempty"`
	// InvocationID is the id of an invocation or completion.
	InvocationID string `json:"invocationId,omitempty"`
	// Signed reports that an upstream request carried X-ASRS-Signature.
	Signed bool `json:"signed,omitempty"`
	// Reason says why a connection ended or a fault fired.
	Reason string `json:"reason,omitempty"`
	// Error is the error of a failed call or a Completion.
	Error string `json:"error,omitempty"`
	// Dropped counts the events this subscriber missed just before this
	// one because it did not keep up (its buffer was full).
	Dropped uint64 `json:"dropped,omitempty"`
}

// EventFilter selects events; every field set must match and an empty
// filter matches everything. Hub is compared without case; the others
// exactly, against the event's own fields (a group filter selects events
// that name the group, such as a send to it).
type EventFilter struct {
	Hub        string
	User       string
	Group      string
	Connection string
	// Kinds, when not empty, lists the kinds wanted.
	Kinds []EventKind
}

func (f *EventFilter) match(ev *Event) bool {
	if f == nil {
		return true
	}
	if f.Hub != "" && !strings.EqualFold(f.Hub, ev.Hub) ||
		f.User != "" && f.User != ev.User ||
		f.Group != "" && f.Group != ev.Group ||
		f.Connection != "" && f.Connection != ev.Connection {
		return false
	}
	if len(f.Kinds) == 0 {
		return true
	}
	for _, k := range f.Kinds {
		if k == ev.Kind {
			return true
		}
	}
	return false
}

// DefaultEventBuffer is how many events a subscriber of Events may fall
// behind before it misses some (counted in Event.Dropped).
const DefaultEventBuffer = 4096

// eventBus hands events to subscribers without ever waiting for one: a
// subscriber whose buffer is full misses the event, and is told how many
// it missed with the next one it gets. With no subscriber, publishing
// costs one atomic load.
type eventBus struct {
	active atomic.Int32 // number of subscribers

	mu   sync.Mutex
	seq  uint64
	subs map[*subscriber]struct{}
	// redact scrubs secrets from every string of an event.
	redact func(string) string
}

type subscriber struct {
	filter  EventFilter
	ch      chan Event
	dropped uint64 // guarded by eventBus.mu
}

// on reports whether anybody listens; callers skip building events when
// nobody does.
func (b *eventBus) on() bool { return b.active.Load() > 0 }

func (b *eventBus) subscribe(filter *EventFilter, buffer int) *subscriber {
	s := &subscriber{ch: make(chan Event, max(buffer, 1))}
	if filter != nil {
		s.filter = *filter
		s.filter.Kinds = append([]EventKind(nil), filter.Kinds...)
	}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*subscriber]struct{})
	}
	b.subs[s] = struct{}{}
	b.active.Add(1)
	b.mu.Unlock()
	return s
}

// unsubscribe removes s and closes its channel.
func (b *eventBus) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	b.active.Add(-1)
	close(s.ch)
}

// publish numbers, redacts and hands ev to every matching subscriber.
func (b *eventBus) publish(ev Event) {
	if !b.on() {
		return
	}
	ev.Time = time.Now()
	if b.redact != nil {
		redactEvent(&ev, b.redact)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	ev.Seq = b.seq
	for s := range b.subs {
		if !s.filter.match(&ev) {
			continue
		}
		out := ev
		out.Dropped = s.dropped
		select {
		case s.ch <- out:
			s.dropped = 0
		default:
			s.dropped++
		}
	}
}

// redactEvent applies redact to every string field of ev.
func redactEvent(ev *Event, redact func(string) string) {
	for _, p := range []*string{&ev.Hub, &ev.Connection, &ev.User, &ev.Group, &ev.Transport, &ev.Protocol,
		&ev.Method, &ev.Route, &ev.Target, &ev.InvocationID, &ev.Reason, &ev.Error} {
		if *p != "" {
			*p = redact(*p)
		}
	}
}

// Secret shapes removed from every event: a JWT (three base64url parts,
// the first a JSON object), an access_token or AccessKey value, the value
// after Bearer, and an upstream signature.
var (
	jwtPattern       = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	secretParamShape = regexp.MustCompile(`(?i)(access_token=|accesskey=|bearer\s+|sha256=)[^&;\s"]*`)
)

// redactor returns the function that scrubs the emulator's secrets, and
// every token shape, from a string.
func (e *Emulator) redactor() func(string) string {
	secrets := e.secrets()
	return func(s string) string {
		for _, key := range secrets {
			if key != "" && strings.Contains(s, key) {
				s = strings.ReplaceAll(s, key, "[redacted]")
			}
		}
		// The patterns run only on a string that could match them: most
		// fields (ids, names, routes) hold neither "eyJ" nor "=" nor
		// "bearer", and the regexps were most of an event's cost.
		if strings.Contains(s, "eyJ") {
			s = jwtPattern.ReplaceAllString(s, "[redacted-jwt]")
		}
		if strings.IndexByte(s, '=') >= 0 || containsFold(s, "bearer") {
			s = secretParamShape.ReplaceAllString(s, "${1}[redacted]")
		}
		return s
	}
}

// containsFold reports whether s holds word (ASCII) in any case.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

// secrets lists the keys the emulator holds, as they are and as they
// look escaped in a path or a query.
func (e *Emulator) secrets() []string {
	var out []string
	for _, k := range []string{e.opts.accessKey, string(e.dynamicKey)} {
		out = append(out, k, url.PathEscape(k), url.QueryEscape(k))
	}
	return out
}

// Events streams the feed's events that match filter (nil: all) until ctx
// ends, when the channel is closed. The emulator never waits for the
// reader: an Event's Dropped field counts the events missed because the
// buffer (DefaultEventBuffer) was full.
func (e *Emulator) Events(ctx context.Context, filter *EventFilter) <-chan Event {
	s := e.bus.subscribe(filter, DefaultEventBuffer)
	go func() {
		select {
		case <-ctx.Done():
		case <-e.finished:
		}
		e.bus.unsubscribe(s)
	}()
	return s.ch
}

// transportName names a transport as negotiate does.
func transportName(t transport) string {
	switch t.(type) {
	case *wsTransport:
		return "WebSockets"
	case *sseTransport:
		return "ServerSentEvents"
	case *lpTransport:
		return "LongPolling"
	}
	return ""
}
