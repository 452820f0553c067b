package emulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind says where a Fault strikes.
type FaultKind string

// The places a Fault can strike.
const (
	// FaultREST: REST API calls (Fault.Route a path prefix, such as
	// /api/hubs/chat/). Health checks are REST calls too.
	FaultREST FaultKind = "rest"
	// FaultNegotiate: client negotiate calls.
	FaultNegotiate FaultKind = "negotiate"
	// FaultUpstream: upstream calls (Fault.Route an event name, such as
	// connected or a hub method).
	FaultUpstream FaultKind = "upstream"
	// FaultDelivery: writes to clients, which Delay holds up.
	FaultDelivery FaultKind = "delivery"
)

// Fault is one misbehaviour injected on purpose. Faults are off unless
// added with Emulator.AddFault (or the control API, or the CLI's -fault);
// each firing is published on the feed as an EventFault.
type Fault struct {
	// Kind says where it strikes.
	Kind FaultKind `json:"kind"`
	// Route narrows it: a path prefix for rest and negotiate, an exact
	// event for upstream. Empty: everything of its kind.
	Route string `json:"route,omitempty"`
	// Status answers the call with this status instead of serving it
	// (rest, negotiate: 429, 500, 502 or 503; upstream: the status the
	// upstream seems to answer). Zero: the call is served.
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as Retry-After with a 429 or 503. Default: 1s.
	RetryAfter time.Duration `json:"retryAfterNs,omitempty"`
	// Delay holds each matching call (or write to a client) this long.
	Delay time.Duration `json:"delayNs,omitempty"`
	// Hang makes an upstream call wait until the upstream timeout and
	// fail as an upstream that never answers does.
	Hang bool `json:"hang,omitempty"`
	// Fraction of the matching calls it strikes, drawn from the
	// emulator's seeded random source (Options.FaultSeed). Zero: all.
	Fraction float64 `json:"fraction,omitempty"`
	// Count ends the fault after it struck this many calls. Zero: never.
	Count int `json:"count,omitempty"`
}

// FaultState is an armed Fault with its id and how often it struck.
type FaultState struct {
	Fault
	ID     string `json:"id"`
	Struck int    `json:"struck"`
}

// ErrBadFault is returned for a Fault that cannot be armed; the error
// names the field.
var ErrBadFault = errors.New("emulator: invalid fault")

func (f Fault) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadFault, fmt.Sprintf(format, args...))
	}
	switch f.Kind {
	case FaultREST, FaultNegotiate:
		if f.Status != 0 && f.Status != 429 && f.Status != 500 && f.Status != 502 && f.Status != 503 {
			return bad("status %d: use 429, 500, 502 or 503", f.Status)
		}
		if f.Hang {
			return bad("hang applies to upstream faults only")
		}
	case FaultUpstream:
		if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
			return bad("status %d is not an HTTP status", f.Status)
		}
	case FaultDelivery:
		if f.Status != 0 || f.Hang || f.Delay <= 0 {
			return bad("a delivery fault takes a positive delay only")
		}
	default:
		return bad("kind %q: use rest, negotiate, upstream or delivery", f.Kind)
	}
	if f.Status == 0 && f.Delay <= 0 && !f.Hang {
		return bad("set status, delay or hang: this fault would do nothing")
	}
	if f.Fraction < 0 || f.Fraction > 1 {
		return bad("fraction %v must be between 0 and 1", f.Fraction)
	}
	if f.Count < 0 || f.Delay < 0 || f.RetryAfter < 0 || f.Delay > 10*time.Minute {
		return bad("count, delay and retryAfter must be positive (delay at most 10m)")
	}
	return nil
}

// faultSet holds the faults armed on an emulator.
type faultSet struct {
	count   atomic.Int32 // faults armed, plus one while offline
	offline atomic.Bool

	mu     sync.Mutex
	rng    *rand.Rand
	next   int
	faults []*FaultState
	bus    *eventBus
}

// armed reports whether any fault is armed: one atomic load.
func (f *faultSet) armed() bool { return f.count.Load() > 0 }

// strike picks the first fault of kind for route that strikes this call,
// counting it, or nil.
func (f *faultSet) strike(kind FaultKind, route string) *Fault {
	if !f.armed() {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.faults {
		if s.Kind != kind {
			continue
		}
		if s.Route != "" && (kind == FaultUpstream && s.Route != route || kind != FaultUpstream && !strings.HasPrefix(route, s.Route)) {
			continue
		}
		if s.Fraction > 0 && f.rng.Float64() >= s.Fraction {
			continue
		}
		s.Struck++
		fault := s.Fault
		if s.Count > 0 && s.Struck >= s.Count {
			f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			f.count.Add(-1)
		}
		f.bus.publish(Event{Kind: EventFault, Target: string(kind) + " fault " + s.ID, Route: route, Status: fault.Status, Duration: fault.Delay})
		return &fault
	}
	return nil
}

// applyHTTP applies the offline state and the faults of r's route, and
// reports whether it answered r.
func (f *faultSet) applyHTTP(w http.ResponseWriter, r *http.Request, kind EventKind) bool {
	if f.offline.Load() {
		w.Header().Set("Retry-After", "1")
		if kind == EventREST {
			writeRESTError(w, r, api2022, http.StatusServiceUnavailable, codeServiceUnavailable, "the endpoint is offline (fault injection)")
		} else {
			http.Error(w, "The endpoint is offline (fault injection).", http.StatusServiceUnavailable)
		}
		return true
	}
	fk := FaultREST
	if kind == EventNegotiate {
		fk = FaultNegotiate
	}
	fault := f.strike(fk, r.URL.EscapedPath())
	if fault == nil {
		return false
	}
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if fault.Status == 0 {
		return false
	}
	if fault.Status == http.StatusTooManyRequests || fault.Status == http.StatusServiceUnavailable {
		after := fault.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	}
	if kind == EventREST {
		writeRESTError(w, r, api2022, fault.Status, "Error.FaultInjected", "injected fault: status "+strconv.Itoa(fault.Status))
	} else {
		http.Error(w, "Injected fault: status "+strconv.Itoa(fault.Status)+".", fault.Status)
	}
	return true
}

// refuseOffline answers 503 to a request of the client endpoint while the
// endpoint is offline (a WebSocket, Server-Sent Events or Long Polling
// request, with or without negotiate before it), and reports whether it
// did.
func (f *faultSet) refuseOffline(w http.ResponseWriter) bool {
	if !f.offline.Load() {
		return false
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "The endpoint is offline (fault injection).", http.StatusServiceUnavailable)
	return true
}

// upstreamFault applies the upstream faults of event: it waits out a
// delay, and returns a status to pretend the upstream answered, or an
// error when the call hangs, or neither.
func (cu *connUpstream) upstreamFault(ctx context.Context, event string) (status int, err error) {
	fault := cu.c.e.faults.strike(FaultUpstream, event)
	if fault == nil {
		return 0, nil
	}
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if fault.Hang {
		<-ctx.Done()
		if cu.u.ctx.Err() != nil {
			return 0, errors.New("the emulator is shutting down")
		}
		return 0, fmt.Errorf("the upstream did not answer within %v", cu.u.timeout)
	}
	return fault.Status, nil
}

// deliveryDelay holds a write to c for the delivery faults armed.
func (c *connection) deliveryDelay() {
	fault := c.e.faults.strike(FaultDelivery, c.hubName)
	if fault == nil {
		return
	}
	t := time.NewTimer(fault.Delay)
	select {
	case <-t.C:
	case <-c.writeCtx.Done():
	}
	t.Stop()
}

// AddFault arms f and returns its id; see Fault.
func (e *Emulator) AddFault(f Fault) (string, error) {
	if err := f.check(); err != nil {
		return "", err
	}
	e.faults.mu.Lock()
	e.faults.next++
	s := &FaultState{Fault: f, ID: "f" + strconv.Itoa(e.faults.next)}
	e.faults.faults = append(e.faults.faults, s)
	e.faults.count.Add(1)
	e.faults.mu.Unlock()
	e.opts.logger.Warn("fault armed", "id", s.ID, "kind", f.Kind, "route", f.Route, "status", f.Status, "delay", f.Delay, "fraction", f.Fraction, "count", f.Count)
	return s.ID, nil
}

// Faults lists the faults armed, in the order they were added.
func (e *Emulator) Faults() []FaultState {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	out := make([]FaultState, 0, len(e.faults.faults))
	for _, s := range e.faults.faults {
		out = append(out, *s)
	}
	return out
}

// ClearFaults disarms every fault and brings the endpoint back online.
func (e *Emulator) ClearFaults() {
	e.faults.mu.Lock()
	e.faults.count.Add(-int32(len(e.faults.faults)))
	e.faults.faults = nil
	e.faults.mu.Unlock()
	e.SetOffline(false)
}

// SetOffline takes the endpoint offline (true) or back online: while
// offline, health answers 503, negotiate and the REST API are refused with
// 503, so is every request of the client endpoint (a WebSocket dialled
// with skipNegotiation included), and every connected client is dropped
// abruptly, as when a service instance goes away.
func (e *Emulator) SetOffline(offline bool) {
	if e.faults.offline.Swap(offline) == offline {
		return
	}
	if offline {
		e.faults.count.Add(1)
		e.bus.publish(Event{Kind: EventFault, Target: "offline"})
		e.DropConnections("", Recipient{})
		return
	}
	e.faults.count.Add(-1)
	e.bus.publish(Event{Kind: EventFault, Target: "online"})
}

// Offline reports whether SetOffline took the endpoint offline.
func (e *Emulator) Offline() bool { return e.faults.offline.Load() }

// DropConnections cuts the selected connections of hub abruptly: a TCP
// reset for WebSockets (no Close message, no close frame), the end of the
// response for the other transports. An empty hub means every hub. It
// returns how many it cut.
func (e *Emulator) DropConnections(hubName string, who Recipient) int {
	e.liveMu.Lock()
	var targets []*connection
	for c := range e.live {
		if hubName != "" && !strings.EqualFold(c.hubName, hubName) ||
			who.Connection != "" && c.id != who.Connection ||
			who.User != "" && c.user != who.User {
			continue
		}
		targets = append(targets, c)
	}
	e.liveMu.Unlock()
	n := 0
	for _, c := range targets {
		if who.Group != "" && (c.hub == nil || !c.inGroup(who.Group)) {
			continue
		}
		c.dropAbruptly()
		n++
	}
	if n > 0 {
		e.bus.publish(Event{Kind: EventFault, Target: "drop", Hub: strings.ToLower(hubName), Connection: who.Connection, User: who.User, Group: who.Group, Reason: strconv.Itoa(n) + " connection(s) dropped"})
	}
	return n
}

func (c *connection) inGroup(group string) bool {
	c.hub.mu.RLock()
	defer c.hub.mu.RUnlock()
	return memberOf(c, group, time.Now())
}

// dropAbruptly resets the connection's socket without a goodbye.
func (c *connection) dropAbruptly() {
	c.faultDropped.Store(true)
	if ws, ok := c.t.(*wsTransport); ok && ws.netConn != nil {
		if tcp, ok := ws.netConn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	}
	c.t.abort()
}

// serveFaults serves /_emulator/api/faults: GET lists the faults and the
// offline state, POST arms the Fault in the body (answering its id),
// DELETE clears them all; POST with {"offline":true|false} sets the
// offline state, and {"drop":{"hub":..,"connection"|"user"|"group":..}}
// drops connections abruptly.
func (e *Emulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, map[string]any{"faults": e.Faults(), "offline": e.Offline()})
	case http.MethodDelete:
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		var body struct {
			Fault
			Offline *bool `json:"offline"`
			Drop    *struct {
				Hub string `json:"hub"`
				Recipient
			} `json:"drop"`
		}
		if !readControlBody(w, r, &body) {
			return
		}
		switch {
		case body.Offline != nil:
			e.SetOffline(*body.Offline)
			writeJSON(w, map[string]any{"offline": e.Offline()})
		case body.Drop != nil:
			writeJSON(w, map[string]any{"dropped": e.DropConnections(body.Drop.Hub, body.Drop.Recipient)})
		default:
			id, err := e.AddFault(body.Fault)
			if err != nil {
				controlError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeJSON(w, map[string]string{"id": id})
		}
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		controlError(w, http.StatusMethodNotAllowed, "faults take GET, POST or DELETE")
	}
}

// ParseFault reads a fault in the CLI's -fault form: comma-separated
// key=value pairs, such as
//
//	kind=rest,status=503,fraction=0.3,route=/api/hubs/chat/
//	kind=upstream,hang=true,route=connected
//	kind=delivery,delay=200ms
func ParseFault(s string) (Fault, error) {
	var f Fault
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return f, fmt.Errorf("%w: %q is not key=value", ErrBadFault, pair)
		}
		var err error
		switch k {
		case "kind":
			f.Kind = FaultKind(v)
		case "route":
			f.Route = v
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "retry-after":
			f.RetryAfter, err = time.ParseDuration(v)
		case "delay":
			f.Delay, err = time.ParseDuration(v)
		case "hang":
			f.Hang, err = strconv.ParseBool(v)
		case "fraction":
			f.Fraction, err = strconv.ParseFloat(v, 64)
		case "count":
			f.Count, err = strconv.Atoi(v)
		default:
			return f, fmt.Errorf("%w: unknown key %q (kind, route, status, retry-after, delay, hang, fraction, count)", ErrBadFault, k)
		}
		if err != nil {
			return f, fmt.Errorf("%w: %s=%q: %v", ErrBadFault, k, v, err)
		}
	}
	return f, f.check()
}
