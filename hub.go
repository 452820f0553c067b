package signalr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Hub is a class-based hub, the Go form of the Functions ServerlessHub: the
// exported methods of a Go value become the hub's methods, each one a
// SignalR trigger on (hub, "messages", method name), and its OnConnected and
// OnDisconnected methods handle the connection events. Make one with
// NewHub, register it with Upstream.HandleHub.
//
// A hub method has the shape
//
//	func (T) Name(ctx context.Context, params...) error
//	func (T) Name(ctx context.Context, params...) (R, error)
//
// Each parameter is decoded from the client's argument in its position, from
// JSON or MessagePack alike (json tags apply to both): numbers, strings,
// booleans, structs, slices, maps, any, json.RawMessage (the argument as
// JSON) and Argument (the argument as it came). Trailing pointer parameters
// are optional: a client that sends fewer arguments gets nil there. R is the
// invocation's result (a nil pointer, map, slice or interface means no
// result); the error becomes the client's error Completion, its Error text
// what the client sees. OnConnected and OnDisconnected take only the
// context and return only an error; an error from OnConnected is answered
// 403, as the Functions extension does (the service logs it). Inside a method, HubCallFromContext(ctx) gives the calling
// connection and the Clients and Groups helpers.
//
// The method name is the event, matched case-insensitively as the service
// and the Functions extension do, so the client's invoke("broadcast", ...)
// reaches Broadcast. All reflection happens in NewHub; a call decodes the
// arguments and calls the method.
type Hub struct {
	name    string
	service string // the hub name the service uses: ApplicationName_name, lower case, or name
	opts    HubOptions
	methods map[string]*hubMethod // by lower-case event
	names   []string              // hub methods, sorted
	logger  *slog.Logger
}

// HubOptions configure a Hub. The nil value means: the hub is named after
// the value's type, nothing can be sent (Clients and Groups report an
// error), no filters, the default connection string setting and no logging.
type HubOptions struct {
	// Name is the hub name; empty means the name of the value's type (of
	// the pointed-to type for a pointer), as the Functions extension uses
	// the class name. It must be a valid hub name (see NewOutput).
	Name string
	// ApplicationName, when set, prefixes the hub as the Azure SignalR
	// SDKs' ApplicationName does: the service knows the hub as
	// lower(ApplicationName)_lower(Name). Output must send to that hub,
	// NegotiateOptions.ApplicationName should be the same, and HandleHub
	// registers the methods under both names, as which one the service
	// puts in X-ASRS-Hub for a prefixed hub is not documented.
	ApplicationName string
	// Output sends what hub methods queue through HubCall's Clients and
	// Groups, after the method returns; its hub must be the hub's (with
	// the ApplicationName prefix). Nil means the hub sends nothing.
	Output *Output
	// Filters wrap every hub method and connection event, the first one
	// outermost, the way http.Handler middleware wraps a handler. A filter
	// sees the InvocationContext before the arguments are decoded, may
	// reject the call by returning an error without calling next, and sees
	// the result and error next returned (including argument errors,
	// delivery failures and recovered panics).
	Filters []HubFilter
	// ConnectionStringSetting names the app setting whose connection
	// string's access key signs the upstream requests (see
	// TriggerBinding); empty means DefaultConnectionStringSetting.
	ConnectionStringSetting string
	// Ignore lists exported methods of the value that are not hub methods
	// (helpers with other shapes); every other exported method must have
	// a hub method's shape.
	Ignore []string
	// Logger receives the panics recovered in hub methods and filters, with
	// their stack. Nil means they are not logged (the client still gets
	// an error Completion).
	Logger *slog.Logger
}

// HubFilter is middleware around a hub's methods and connection events: it
// returns a TriggerHandler that runs before and after next, such as a
// logger, an authorization check on the caller's claims, or a metric. The
// HubCall is HubCallFromContext(ctx).
type HubFilter func(next TriggerHandler) TriggerHandler

// ErrHubMethodPanicked is wrapped by the error a hub method or filter that
// panicked is answered with. The client sees only "<method> failed: the hub
// method panicked"; the panic value goes to HubOptions.Logger.
var ErrHubMethodPanicked = errors.New("the hub method panicked")

// ErrInvalidArguments is wrapped by the error a call with the wrong number or
// types of arguments is answered with; the text names the method, the
// argument and what it must be.
var ErrInvalidArguments = errors.New("invalid arguments")

// hubMethod is one method or connection event, reflected once.
type hubMethod struct {
	hub      *Hub
	name     string // the Go method name
	event    string // the event in canonical case: the method name, connected or disconnected
	category string
	fn       reflect.Value // the method: bound to its receiver, or taking it first (hasRecv)
	recv     reflect.Value
	hasRecv  bool
	params   []reflect.Type
	plain    []bool    // params[i] is a plain scalar (see plainKind)
	frames   sync.Pool // of *callFrame
	required int       // parameters before the optional (pointer) tail
	result   bool      // returns (R, error)
	handler  TriggerHandler
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// NewHub makes a hub of v's exported methods. For an interface type T (say
// NewHub[ChatHub](impl, nil)) the hub has the interface's methods; for any
// other T, the methods of T's method set (use a pointer for methods with a
// pointer receiver). opts may be nil. An exported method of the wrong shape
// is an error naming it and the fix, as are two methods whose names differ
// only in case, an invalid hub name and an Output for another hub; errors
// wrap ErrInvalidHub.
func NewHub[T any](v T, opts *HubOptions) (*Hub, error) {
	t := reflect.TypeFor[T]()
	rv := reflect.ValueOf(&v).Elem()
	if t.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, fmt.Errorf("%w: the %s value is nil", ErrInvalidHub, t)
		}
	} else if k := t.Kind(); (k == reflect.Pointer || k == reflect.Map || k == reflect.Func || k == reflect.Chan || k == reflect.Slice) && rv.IsNil() {
		return nil, fmt.Errorf("%w: the %s value is nil", ErrInvalidHub, t)
	}
	h := &Hub{methods: map[string]*hubMethod{}}
	if opts != nil {
		h.opts = *opts
		h.opts.Filters = slices.Clone(opts.Filters)
	}
	h.logger = h.opts.Logger
	if h.logger == nil {
		h.logger = discardLogger
	}
	h.name = h.opts.Name
	if h.name == "" {
		nt := t
		if nt.Kind() == reflect.Pointer {
			nt = nt.Elem()
		}
		h.name = nt.Name()
		if err := validateHub(h.name); err != nil {
			return nil, fmt.Errorf("%w: the type name %q is not a hub name (%v); set HubOptions.Name", ErrInvalidHub, h.name, err)
		}
	} else if err := validateHub(h.name); err != nil {
		return nil, fmt.Errorf("%w: HubOptions.Name: %w", ErrInvalidHub, err)
	}
	h.service = h.name
	if app := h.opts.ApplicationName; app != "" {
		h.service = strings.ToLower(app) + "_" + strings.ToLower(h.name)
		if err := validateHub(h.service); err != nil {
			return nil, fmt.Errorf("%w: HubOptions.ApplicationName %q: the prefixed hub %q is not a hub name: %w", ErrInvalidHub, app, h.service, err)
		}
	}
	if o := h.opts.Output; o != nil && !strings.EqualFold(o.Hub(), h.service) {
		return nil, fmt.Errorf("%w: HubOptions.Output sends to hub %q, but the hub is %q; bind the output to %q", ErrInvalidHub, o.Hub(), h.service, h.service)
	}
	ignore := map[string]bool{}
	for _, n := range h.opts.Ignore {
		ignore[n] = false // true once found
	}
	seen := map[string]string{}
	for i := range t.NumMethod() {
		m := t.Method(i)
		if !m.IsExported() {
			continue
		}
		if _, skip := ignore[m.Name]; skip {
			ignore[m.Name] = true
			continue
		}
		fnType := m.Type
		if t.Kind() != reflect.Interface {
			// Drop the receiver: methods are called bound.
			fnType = rv.Method(i).Type()
		}
		hm, err := h.reflectMethod(m.Name, fnType)
		if err != nil {
			return nil, err
		}
		if t.Kind() == reflect.Interface {
			hm.fn = rv.Method(i)
		} else {
			// The method's func with the receiver as its first argument:
			// cheaper to call than a bound method value.
			hm.fn, hm.recv, hm.hasRecv = m.Func, rv, true
		}
		key := hm.category + "/" + strings.ToLower(hm.event)
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("%w: methods %s and %s differ only in case, and the service matches method names case-insensitively; rename one or list it in HubOptions.Ignore", ErrInvalidHub, other, m.Name)
		}
		seen[key] = m.Name
		h.methods[key] = hm
		if hm.category == CategoryMessages {
			h.names = append(h.names, m.Name)
		}
	}
	for _, n := range h.opts.Ignore {
		if ignore[n] {
			continue
		}
		return nil, fmt.Errorf("%w: HubOptions.Ignore names %q, which is not an exported method of %s", ErrInvalidHub, n, t)
	}
	if len(h.methods) == 0 {
		hint := ""
		if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer && reflect.PointerTo(t).NumMethod() > t.NumMethod() {
			hint = " (its methods have pointer receivers: pass a pointer, NewHub(&v, opts))"
		}
		return nil, fmt.Errorf("%w: %s has no exported methods%s; a hub method is func(ctx context.Context, args...) error or (R, error)", ErrInvalidHub, t, hint)
	}
	sort.Strings(h.names)
	for _, hm := range h.methods {
		var th TriggerHandler = hm
		for i := len(h.opts.Filters) - 1; i >= 0; i-- {
			f := h.opts.Filters[i]
			if f == nil {
				return nil, fmt.Errorf("%w: HubOptions.Filters[%d] is nil", ErrInvalidHub, i)
			}
			if th = f(th); th == nil {
				return nil, fmt.Errorf("%w: HubOptions.Filters[%d] returned a nil handler", ErrInvalidHub, i)
			}
		}
		hm.handler = th
	}
	return h, nil
}

// ErrInvalidHub is wrapped by the errors of NewHub and HandleHub.
var ErrInvalidHub = errors.New("signalr: invalid hub")

// reflectMethod checks one method's shape.
func (h *Hub) reflectMethod(name string, ft reflect.Type) (*hubMethod, error) {
	shape := func(problem string) error {
		return fmt.Errorf("%w: method %s: %s; a hub method is func(ctx context.Context, args...) error or (R, error), OnConnected and OnDisconnected are func(ctx context.Context) error; list other methods in HubOptions.Ignore", ErrInvalidHub, name, problem)
	}
	hm := &hubMethod{hub: h, name: name, category: CategoryMessages, event: name}
	switch {
	case strings.EqualFold(name, "OnConnected"):
		hm.category, hm.event = CategoryConnections, EventConnected
	case strings.EqualFold(name, "OnDisconnected"):
		hm.category, hm.event = CategoryConnections, EventDisconnected
	}
	if ft.NumIn() == 0 || ft.In(0) != contextType {
		return nil, shape("the first parameter must be context.Context")
	}
	if ft.IsVariadic() {
		return nil, shape("variadic parameters are not supported")
	}
	for i := 1; i < ft.NumIn(); i++ {
		p := ft.In(i)
		if err := checkParamType(p); err != nil {
			return nil, shape(fmt.Sprintf("parameter %d (%s) %v", i, p, err))
		}
		hm.params = append(hm.params, p)
		hm.plain = append(hm.plain, plainKind(p))
	}
	hm.required = len(hm.params)
	for hm.required > 0 && hm.params[hm.required-1].Kind() == reflect.Pointer {
		hm.required--
	}
	switch ft.NumOut() {
	case 1:
	case 2:
		if err := checkParamType(ft.Out(0)); err != nil {
			return nil, shape(fmt.Sprintf("the result (%s) %v", ft.Out(0), err))
		}
		hm.result = true
	default:
		return nil, shape(fmt.Sprintf("it returns %d values", ft.NumOut()))
	}
	if ft.Out(ft.NumOut()-1) != errorType {
		return nil, shape("the last result must be error")
	}
	if hm.category == CategoryConnections && (len(hm.params) > 0 || hm.result) {
		return nil, shape("a connection event takes only the context and returns only an error")
	}
	return hm, nil
}

// checkParamType refuses the types that cannot travel as JSON or
// MessagePack.
func checkParamType(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128, reflect.Uintptr:
		return fmt.Errorf("cannot be decoded from JSON or MessagePack")
	}
	if t == contextType {
		return fmt.Errorf("is a second context")
	}
	return nil
}

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// ServiceHub returns the hub as the service knows it: the name, prefixed
// with the ApplicationName when one is set.
func (h *Hub) ServiceHub() string { return h.service }

// Methods returns the names of the hub methods (not the connection events),
// sorted.
func (h *Hub) Methods() []string { return slices.Clone(h.names) }

// Handler returns the TriggerHandler of one hub method or connection
// event, named as its Go method is (matched case-insensitively), or nil
// when the hub has no such method. It is for hosts that dispatch by
// function rather than through an Upstream, such as package customhandler;
// the handler runs the filters and the method as HandleHub's do.
func (h *Hub) Handler(method string) TriggerHandler {
	if h == nil {
		return nil
	}
	for _, hm := range h.methods {
		if strings.EqualFold(hm.name, method) {
			return hubEntry{hm}
		}
	}
	return nil
}

// Bindings returns the trigger bindings HandleHub registers, one per method
// and connection event, as function.json would declare them (without
// parameterNames, as Go does not keep parameter names), sorted by event.
func (h *Hub) Bindings() []TriggerBinding {
	out := make([]TriggerBinding, 0, len(h.methods))
	for _, hm := range h.methods {
		out = append(out, TriggerBinding{Name: hm.name, HubName: h.service, Category: hm.category, Event: hm.event, ConnectionStringSetting: h.opts.ConnectionStringSetting})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		return out[i].Event < out[j].Event
	})
	return out
}

// HandleHub registers every method and connection event of h on u, all or
// none: it fails, registering nothing, when one of them is registered
// already. Connection strings load as for Handle. With
// HubOptions.ApplicationName, each is registered under the prefixed hub
// and the bare one.
func (u *Upstream) HandleHub(h *Hub) error {
	if u == nil || h == nil || len(h.methods) == 0 {
		return fmt.Errorf("%w: HandleHub needs an Upstream and a Hub from NewHub", ErrInvalidHub)
	}
	hubs := []string{h.service}
	if h.service != h.name {
		hubs = append(hubs, h.name)
	}
	type reg struct {
		key   triggerKey
		entry *triggerEntry
	}
	var regs []reg
	var keys []*ConnectionString
	for _, hub := range hubs {
		for _, b := range h.Bindings() {
			b.HubName = hub
			category, err := b.check()
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidHub, err)
			}
			css, err := u.connectionStrings(b)
			if err != nil {
				return fmt.Errorf("hub %s: %w", h.name, err)
			}
			keys = append(keys, css...)
			hm := h.methods[category+"/"+strings.ToLower(b.Event)]
			regs = append(regs, reg{triggerKey{strings.ToLower(hub), category, strings.ToLower(b.Event)}, &triggerEntry{binding: b, handler: hubEntry{hm}}})
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range regs {
		if _, dup := u.handlers[r.key]; dup {
			return fmt.Errorf("%w: hub %s: %s/%s is registered already", ErrInvalidHub, r.key.hub, r.key.category, r.key.event)
		}
	}
	if u.handlers == nil {
		u.handlers = make(map[triggerKey]*triggerEntry)
	}
	for _, cs := range keys {
		u.addKey(cs)
	}
	for _, r := range regs {
		u.handlers[r.key] = r.entry
	}
	return nil
}

// hubEntry is what the Upstream calls for one method: the filters around
// the method, with the HubCall in the context and panics recovered.
type hubEntry struct{ m *hubMethod }

// ServeTrigger runs the filters and the method for one upstream request.
func (e hubEntry) ServeTrigger(ctx context.Context, inv *InvocationContext) (result any, err error) {
	h := e.m.hub
	// One allocation for the context and the HubCall it carries.
	hc := &hubContext{Context: ctx, call: HubCall{InvocationContext: inv, hub: h}}
	if h.opts.Output != nil {
		hc.call.col = h.opts.Output.NewCollector()
	}
	hc.self = hc
	ctx = hc
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, h.panicked(e.m, inv.Event, p, "a filter")
		}
	}()
	return e.m.handler.ServeTrigger(ctx, inv)
}

// panicked logs a recovered panic and returns the error the client sees.
func (h *Hub) panicked(m *hubMethod, event string, p any, where string) error {
	h.logger.Error("signalr: hub method panicked", "hub", h.name, "method", m.name, "in", where, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return fmt.Errorf("%s failed: %w", event, ErrHubMethodPanicked)
}

// ServeTrigger is the innermost handler: it decodes the arguments, calls
// the method, then delivers what the method queued.
func (m *hubMethod) ServeTrigger(ctx context.Context, inv *InvocationContext) (any, error) {
	call := HubCallFromContext(ctx)
	if call == nil || call.hub != m.hub {
		return nil, fmt.Errorf("%s: the hub method was called without its HubCall; register the hub with Upstream.HandleHub", m.event)
	}
	f, err := m.decode(ctx, inv.Event, inv.Arguments)
	if err != nil {
		return nil, err
	}
	result, err := m.call(inv.Event, f.in)
	m.release(f)
	if ferr := call.finish(ctx); ferr != nil && err == nil {
		result, err = nil, ferr
	}
	return result, err
}

// call runs the method, turning a panic into an error.
func (m *hubMethod) call(event string, in []reflect.Value) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, m.hub.panicked(m, event, p, "the method")
		}
	}()
	out := m.fn.Call(in)
	if e := out[len(out)-1]; !e.IsNil() {
		return nil, e.Interface().(error)
	}
	if !m.result {
		return nil, nil
	}
	r := out[0]
	switch r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		if r.IsNil() {
			return nil, nil
		}
	}
	if r.Type() == rawMessageType {
		// The JSON value itself, in either protocol (MessagePack would
		// write a json.RawMessage as binary).
		return JSONArgument(r.Bytes()), nil
	}
	return r.Interface(), nil
}

// DefaultHubFlushTimeout bounds the delivery of what a hub method queued
// when its Output has no FlushTimeout of its own.
const DefaultHubFlushTimeout = DefaultFlushTimeout

// finish delivers what the call queued, then closes the connections it
// asked to close. The flush is bounded by the Output's FlushTimeout and is
// not cancelled when the upstream request is.
func (c *HubCall) finish(ctx context.Context) error {
	c.mu.Lock()
	closes := c.closes
	c.mu.Unlock()
	if c.col == nil || (c.col.Len() == 0 && len(closes) == 0) {
		return nil
	}
	timeout := c.hub.opts.Output.timeout
	if timeout <= 0 {
		timeout = DefaultHubFlushTimeout
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	var errs []error
	if err := c.col.Flush(fctx); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", c.Event, &HubDeliveryError{Err: err}))
	}
	for _, cl := range closes {
		closer, ok := c.hub.opts.Output.sender.(ConnectionCloser)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: closing connection %q: the Output's Sender (%T) cannot close connections; use a *Client", c.Event, cl.id, c.hub.opts.Output.sender))
			continue
		}
		if err := closer.CloseConnection(fctx, c.hub.service, cl.id, &CloseConnectionOptions{Reason: cl.reason}); err != nil {
			errs = append(errs, fmt.Errorf("%s: closing connection %q: %w", c.Event, cl.id, err))
		}
	}
	return errors.Join(errs...)
}

// HubDeliveryError reports the items a hub method queued that were not
// delivered; Err is the Collector's Flush error (see DeliveryErrors).
type HubDeliveryError struct {
	// Err is what Collector.Flush returned.
	Err error
}

// Error counts the undelivered items and gives the first reason.
func (e *HubDeliveryError) Error() string {
	des := DeliveryErrors(e.Err)
	if len(des) == 0 {
		return "output not delivered: " + e.Err.Error()
	}
	return fmt.Sprintf("%d output item(s) not delivered: %s: %v", len(des), describeItem(des[0].Item), des[0].Err)
}

// Unwrap returns Err.
func (e *HubDeliveryError) Unwrap() error { return e.Err }

// ConnectionCloser is implemented by a Sender that can close client
// connections, as *Client does; HubCall.CloseConnection needs one.
type ConnectionCloser interface {
	CloseConnection(ctx context.Context, hub, connectionID string, opts *CloseConnectionOptions) error
}

var _ ConnectionCloser = (*Client)(nil)
