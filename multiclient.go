package signalr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/funcsignalr/signalr/internal/restapi"
)

// Defaults of the endpoint health probes (MultiEndpointOptions).
const (
	// DefaultHealthInterval is how often each endpoint is probed. The
	// Management SDK probes every 2 minutes in its REST mode; 10 seconds
	// keeps negotiates off a dead endpoint for less time than a client's
	// first reconnect backoff, at one HEAD request per endpoint.
	DefaultHealthInterval = 10 * time.Second
	// DefaultHealthTimeout bounds each probe, as in the Management SDK.
	DefaultHealthTimeout = 2 * time.Second
)

// MultiEndpointOptions tune a Client over several endpoints
// (NewMultiEndpointClient). Nil means: the default ClientOptions,
// DefaultRouter, probes every DefaultHealthInterval bounded by
// DefaultHealthTimeout.
type MultiEndpointOptions struct {
	// Client tunes every endpoint's requests (retries, attempt timeout,
	// API version, HTTP client, shared by all endpoints); nil means the
	// defaults. Its Credential, when set, authenticates every endpoint.
	Client *ClientOptions
	// NewCredential makes the credential of an identity-based endpoint
	// when Client.Credential is nil (azidentity.NewCredential fits). Nil
	// means an identity-based endpoint without Client.Credential is an
	// error wrapping ErrMissingCredential.
	NewCredential func(*ConnectionString) (azcore.TokenCredential, error)
	// Router chooses the endpoints of each operation; nil means
	// DefaultRouter.
	Router Router
	// HealthInterval is the time between two probes (HEAD /api/health)
	// of each endpoint; zero means DefaultHealthInterval, a negative
	// value turns probing off (endpoints then go offline only on failed
	// requests and never come back: for tests of routing only).
	HealthInterval time.Duration
	// HealthTimeout bounds each probe; zero means DefaultHealthTimeout.
	HealthTimeout time.Duration
	// OnEndpointChange, when set, is called (from the goroutine that
	// noticed) each time an endpoint goes offline or comes back, for logs
	// and metrics. It must not block.
	OnEndpointChange func(EndpointState)
}

// multi is the state of a Client over several endpoints.
type multi struct {
	router   Router
	eps      []*endpointClient
	interval time.Duration
	timeout  time.Duration
	onChange func(EndpointState)

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// endpointClient is one endpoint: its own single-endpoint Client and state.
type endpointClient struct {
	ep     Endpoint
	key    string
	client *Client

	mu    sync.Mutex
	state EndpointState
}

// NewMultiEndpointClient returns a Client that sends through several
// SignalR Service endpoints (EndpointsFromSettings reads them from a
// Functions app's settings): every operation goes where opts.Router
// chooses, in parallel, and each endpoint's result is reported (a failure
// as an *EndpointError, joined with the others'); ConnectionInfo mints the
// token of the endpoint the Router picks. Each endpoint is probed in the
// background (see MultiEndpointOptions); call Close to stop the probes.
// Endpoints need distinct (Name, Type) pairs and URLs. It works in the REST
// mode, where the Management SDK allows a single endpoint.
func NewMultiEndpointClient(endpoints []Endpoint, opts *MultiEndpointOptions) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, outErrorf(ErrInvalidArgument, "no endpoints; give at least one (EndpointsFromSettings reads them from app settings)")
	}
	var o MultiEndpointOptions
	if opts != nil {
		o = *opts
	}
	var co ClientOptions
	if o.Client != nil {
		co = *o.Client
	}
	if co.HTTPClient == nil {
		co.HTTPClient = &http.Client{Transport: newTransport()}
	}
	if o.HealthTimeout < 0 {
		return nil, outErrorf(ErrInvalidArgument, "MultiEndpointOptions.HealthTimeout is %v; use a positive limit, or zero for %v", o.HealthTimeout, DefaultHealthTimeout)
	}
	m := &multi{router: o.Router, interval: o.HealthInterval, timeout: o.HealthTimeout, onChange: o.OnEndpointChange}
	if m.router == nil {
		m.router = DefaultRouter{}
	}
	if m.interval == 0 {
		m.interval = DefaultHealthInterval
	}
	if m.timeout == 0 {
		m.timeout = DefaultHealthTimeout
	}
	now := time.Now()
	seen := map[string]bool{}
	urls := map[string]string{}
	for i, e := range endpoints {
		if e.Type != Primary && e.Type != Secondary {
			return nil, outErrorf(ErrInvalidArgument, "endpoints[%d] %q: Type %d is not Primary or Secondary", i, e.Name, int(e.Type))
		}
		if err := e.ConnectionString.usable(); err != nil {
			return nil, fmt.Errorf("endpoints[%d] %q: %w", i, e.Name, err)
		}
		k := endpointKey(e.Name, e.Type)
		if seen[k] {
			return nil, outErrorf(ErrInvalidArgument, "endpoints[%d]: %s endpoint %q is given twice; names are unique per type", i, e.Type, e.Name)
		}
		u := strings.ToLower(e.ConnectionString.Endpoint())
		if prev, dup := urls[u]; dup {
			return nil, outErrorf(ErrInvalidArgument, "endpoints[%d] %q has the URL of endpoint %q (%s); configure each service instance once", i, e.Name, prev, e.ConnectionString.Endpoint())
		}
		seen[k], urls[u] = true, e.Name
		eco := co
		if e.ConnectionString.IdentityBased() && eco.Credential == nil && o.NewCredential != nil {
			cred, err := o.NewCredential(e.ConnectionString)
			if err != nil {
				return nil, fmt.Errorf("endpoint %q: MultiEndpointOptions.NewCredential: %w", e.Name, err)
			}
			eco.Credential = cred
		}
		c, err := NewClient(e.ConnectionString, &eco)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", e.Name, err)
		}
		m.eps = append(m.eps, &endpointClient{ep: e, key: k, client: c,
			state: EndpointState{Name: e.Name, Type: e.Type, URL: e.ConnectionString.Endpoint(), Online: true, Since: now}})
	}
	first := m.eps[0].client
	c := &Client{
		cs: first.cs, base: first.base, scheme: first.scheme, host: first.host,
		hc: co.HTTPClient, version: first.version, retry: first.retry, timeout: first.timeout,
		userAgent: first.userAgent, traced: first.traced, now: first.now, sleep: sleepCtx,
		serviceTokens: first.serviceTokens, multi: m,
	}
	if m.interval > 0 {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.probeLoop()
	}
	return c, nil
}

// NewClientFromSettings is EndpointsFromSettings then NewMultiEndpointClient:
// the Client of a Functions app's settings, over one endpoint or several.
func NewClientFromSettings(s Settings, setting string, opts *MultiEndpointOptions) (*Client, error) {
	eps, err := EndpointsFromSettings(s, setting)
	if err != nil {
		return nil, err
	}
	return NewMultiEndpointClient(eps, opts)
}

// Close stops the health probes of a Client over several endpoints,
// closes its service connections (TransportPersistent) and its idle HTTP
// connections. Operations under way on a service connection fail (wrapping
// ErrMaybeApplied if they were written); later ones use REST when
// PersistentOptions.FallbackToREST is set, else fail. It returns once the
// probes and every goroutine of the service connections have ended.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	if m := c.multi; m != nil {
		if m.stop != nil {
			m.closeOnce.Do(func() { close(m.stop) })
			<-m.done
		}
		for _, e := range m.eps {
			if e.client != c {
				_ = e.client.Close()
			}
		}
	}
	if c.persist != nil {
		c.persist.close()
	}
	c.CloseIdleConnections()
	return nil
}

// Endpoints returns the state of each of the Client's endpoints, in the
// order they were given. A single-endpoint Client (NewClient) reports one
// Primary endpoint named by its host, always online: it is not probed.
func (c *Client) Endpoints() []EndpointState {
	if c == nil || c.cs == nil {
		return nil
	}
	if c.multi == nil {
		return []EndpointState{{Name: hostOf(c.cs.Endpoint()), Type: Primary, URL: c.cs.Endpoint(), Online: true}}
	}
	return c.multi.states()
}

func (m *multi) states() []EndpointState {
	out := make([]EndpointState, len(m.eps))
	for i, e := range m.eps {
		e.mu.Lock()
		out[i] = e.state
		e.mu.Unlock()
	}
	return out
}

// setOnline records a probe's or a request's outcome.
func (m *multi) setOnline(e *endpointClient, online bool, why error) {
	e.mu.Lock()
	changed := e.state.Online != online
	if changed {
		e.state.Online, e.state.Since = online, time.Now()
	}
	if online {
		e.state.LastError = nil
	} else if why != nil {
		e.state.LastError = why
	}
	st := e.state
	e.mu.Unlock()
	if changed && m.onChange != nil {
		m.onChange(st)
	}
}

func (m *multi) probeLoop() {
	defer close(m.done)
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.probeAll()
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// probeAll probes every endpoint in parallel and waits for them.
func (m *multi) probeAll() {
	var wg sync.WaitGroup
	for _, e := range m.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
			defer cancel()
			go func() {
				select {
				case <-m.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			ok, err := e.client.Healthy(ctx, nil)
			select {
			case <-m.stop:
				return // shutting down: the outcome says nothing
			default:
			}
			if !ok && err == nil {
				err = errors.New("health probe answered 5xx")
			}
			m.setOnline(e, ok, err)
		}()
	}
	wg.Wait()
}

// byKey finds an endpoint the Router returned.
func (m *multi) byKey(s EndpointState) *endpointClient {
	k := endpointKey(s.Name, s.Type)
	for _, e := range m.eps {
		if e.key == k {
			return e
		}
	}
	return nil
}

// noEndpointError is ErrNoEndpoint with the time after which to try again.
type noEndpointError struct {
	err        error
	retryAfter time.Duration
}

func (e *noEndpointError) Error() string   { return e.err.Error() }
func (e *noEndpointError) Unwrap() []error { return []error{e.err, ErrNoEndpoint} }

func (m *multi) noEndpoint(err error) error {
	ra := m.interval
	if ra <= 0 {
		ra = DefaultHealthInterval
	}
	return &noEndpointError{err: err, retryAfter: ra}
}

// connectionInfo mints the token of the endpoint the Router picks.
func (m *multi) connectionInfo(ctx context.Context, hub string, opts *ClientTokenOptions) (ConnectionInfo, error) {
	st, err := m.router.NegotiateEndpoint(ctx, hub, m.states())
	if err != nil {
		if errors.Is(err, ErrNoEndpoint) {
			return ConnectionInfo{}, m.noEndpoint(err)
		}
		return ConnectionInfo{}, err
	}
	e := m.byKey(st)
	if e == nil {
		return ConnectionInfo{}, fmt.Errorf("%w: the Router picked %s endpoint %q, which is not one of the Client's", ErrInvalidArgument, st.Type, st.Name)
	}
	info, err := e.client.ConnectionInfo(ctx, hub, opts)
	if err != nil {
		return ConnectionInfo{}, &EndpointError{Endpoint: e.ep.Name, Type: e.ep.Type, Err: err}
	}
	return info, nil
}

// connectionInfos mints a ConnectionInfo for every endpoint, in parallel,
// online or not (the signalRNegotiation input binding).
func (c *Client) connectionInfos(ctx context.Context, hub string, opts *ClientTokenOptions) ([]EndpointInfo, []ConnectionInfo, error) {
	if c.multi == nil {
		info, err := c.ConnectionInfo(ctx, hub, opts)
		if err != nil {
			return nil, nil, err
		}
		st := c.Endpoints()[0]
		return []EndpointInfo{{EndpointType: st.Type, Name: st.Name, Endpoint: st.URL, Online: st.Online}}, []ConnectionInfo{info}, nil
	}
	m := c.multi
	states := m.states()
	infos := make([]ConnectionInfo, len(m.eps))
	errs := make([]error, len(m.eps))
	var wg sync.WaitGroup
	for i, e := range m.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o ClientTokenOptions
			if opts != nil {
				o = *opts
			}
			info, err := e.client.ConnectionInfo(ctx, hub, &o)
			if err != nil {
				errs[i] = &EndpointError{Endpoint: e.ep.Name, Type: e.ep.Type, Err: err}
			}
			infos[i] = info
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	eps := make([]EndpointInfo, len(states))
	for i, st := range states {
		eps[i] = EndpointInfo{EndpointType: st.Type, Name: st.Name, Endpoint: st.URL, Online: st.Online}
	}
	return eps, infos, nil
}

// route returns the endpoints op goes to.
func (m *multi) route(op restapi.Op, a *routeArgs, only []EndpointInfo) ([]*endpointClient, error) {
	states := m.states()
	var chosen []EndpointState
	switch {
	case only != nil:
		if len(only) == 0 {
			return nil, outErrorf(ErrNoEndpoint, "the item's endpoints list is empty; leave it out (null) to send through the router, or list the endpoints to send to")
		}
		for _, ref := range only {
			found := false
			for _, st := range states {
				if strings.EqualFold(st.Name, ref.Name) && st.Type == ref.EndpointType && (ref.Endpoint == "" || strings.EqualFold(strings.TrimRight(ref.Endpoint, "/"), st.URL)) {
					chosen, found = append(chosen, st), true
					break
				}
			}
			if !found {
				return nil, outErrorf(ErrNoEndpoint, "the item's endpoints list names %s endpoint %q (%s), which is not configured; list endpoints as the signalREndpoints input gives them", ref.EndpointType, ref.Name, ref.Endpoint)
			}
		}
	case op == restapi.Health:
		chosen = states
	default:
		chosen = m.decide(op, a, states)
	}
	if len(chosen) == 0 {
		return nil, m.noEndpoint(fmt.Errorf("%w: the router chose no endpoint for %s (of %d configured, %d online); nothing was sent", ErrNoEndpoint, restapi.Routes[op].Name, len(states), countOnline(states)))
	}
	out := make([]*endpointClient, 0, len(chosen))
	for _, st := range chosen {
		e := m.byKey(st)
		if e == nil {
			return nil, fmt.Errorf("%w: the Router chose %s endpoint %q, which is not one of the Client's", ErrInvalidArgument, st.Type, st.Name)
		}
		if !containsEndpoint(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func containsEndpoint(list []*endpointClient, e *endpointClient) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

func countOnline(states []EndpointState) int {
	n := 0
	for _, s := range states {
		if s.Online {
			n++
		}
	}
	return n
}

// decide asks the Router about op.
func (m *multi) decide(op restapi.Op, a *routeArgs, states []EndpointState) []EndpointState {
	r := m.router
	switch op {
	case restapi.SendToUser, restapi.CloseUser, restapi.UserExists, restapi.RemoveUserFromAllGroups:
		return r.UserEndpoints(a.hub, a.user, states)
	case restapi.SendToGroup, restapi.CloseGroup, restapi.GroupExists, restapi.ListConnectionsInGroup:
		return r.GroupEndpoints(a.hub, a.group, states)
	case restapi.AddUserToGroup, restapi.RemoveUserFromGroup, restapi.UserInGroup:
		users := r.UserEndpoints(a.hub, a.user, states)
		groups := r.GroupEndpoints(a.hub, a.group, states)
		var both []EndpointState
		for _, u := range users {
			for _, g := range groups {
				if endpointKey(u.Name, u.Type) == endpointKey(g.Name, g.Type) {
					both = append(both, u)
					break
				}
			}
		}
		return both
	case restapi.SendToConnection, restapi.CloseConnection, restapi.ConnectionExists,
		restapi.AddConnectionToGroup, restapi.RemoveConnectionFromGroup, restapi.RemoveConnectionFromAllGroups,
		restapi.InvokeConnection, restapi.SendToConnectionStream, restapi.CompleteConnectionStream:
		return r.ConnectionEndpoints(a.hub, a.connection, states)
	default: // Broadcast, CloseAll, Execute
		return r.BroadcastEndpoints(a.hub, states)
	}
}

// connectionScoped reports whether op addresses one connection, which only
// one endpoint holds.
func connectionScoped(op restapi.Op) bool {
	switch op {
	case restapi.SendToConnection, restapi.CloseConnection, restapi.ConnectionExists,
		restapi.AddConnectionToGroup, restapi.RemoveConnectionFromGroup, restapi.RemoveConnectionFromAllGroups,
		restapi.InvokeConnection, restapi.SendToConnectionStream, restapi.CompleteConnectionStream:
		return true
	}
	return false
}

type endpointResult struct {
	status int
	out    []byte
	err    error
}

// call runs op on every endpoint route chooses, in parallel, and combines
// the outcomes: an existence check is true when any endpoint says so; an
// operation on one connection succeeds when the endpoint holding it does
// (the others' "not found" is no error); anything else succeeds when every
// endpoint does, and otherwise returns one *EndpointError per failure,
// joined.
func (m *multi) call(ctx context.Context, op restapi.Op, a *routeArgs, body []byte, o callOpts, only []EndpointInfo) (int, error) {
	targets, err := m.route(op, a, only)
	if err != nil {
		return 0, err
	}
	results := make([]endpointResult, len(targets))
	run := func(i int, e *endpointClient) {
		eo := o
		eo.endpoints = nil // chosen already
		if o.out != nil {
			eo.out = &results[i].out
		}
		results[i].status, results[i].err = e.client.call(ctx, op, a, body, eo)
		if err := results[i].err; err != nil && ctx.Err() == nil && endpointDown(err) {
			m.setOnline(e, false, err)
		}
	}
	if len(targets) == 1 {
		run(0, targets[0])
	} else {
		var wg sync.WaitGroup
		for i, e := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(i, e)
			}()
		}
		wg.Wait()
	}
	spec := &restapi.Routes[op]
	var errs []error
	best := -1
	for i, r := range results {
		if r.err != nil {
			if connectionScoped(op) && isNotFound(r.err) {
				continue
			}
			errs = append(errs, &EndpointError{Endpoint: targets[i].ep.Name, Type: targets[i].ep.Type, Err: r.err})
			continue
		}
		if best < 0 || (r.status != http.StatusNotFound && results[best].status == http.StatusNotFound) {
			best = i
		}
	}
	if op == restapi.Health {
		if best >= 0 {
			return results[best].status, nil
		}
		return 0, errors.Join(errs...)
	}
	if spec.Kind == restapi.KindExists && best >= 0 && results[best].status != http.StatusNotFound {
		return results[best].status, nil
	}
	if len(errs) > 0 {
		return 0, errors.Join(errs...)
	}
	if best < 0 {
		// Every endpoint said the connection is not there: report one.
		for i, r := range results {
			return 0, &EndpointError{Endpoint: targets[i].ep.Name, Type: targets[i].ep.Type, Err: r.err}
		}
	}
	if o.out != nil {
		*o.out = results[best].out
	}
	return results[best].status, nil
}

// isNotFound reports a 404 answer.
func isNotFound(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// endpointDown reports whether err says the endpoint is unreachable or
// failing (no answer, or 5xx), not that the request was wrong.
func endpointDown(err error) bool {
	if errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrNoAccessKey) || errors.Is(err, ErrMissingCredential) {
		return false
	}
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500
	}
	return true
}

// String describes a multi-endpoint Client.
func (m *multi) String(version APIVersion) string {
	var b strings.Builder
	b.WriteString("signalr.Client{endpoints: ")
	for i, e := range m.eps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %q %s", e.ep.Type, e.ep.Name, e.ep.ConnectionString.Endpoint())
	}
	b.WriteString(", api: " + string(version) + "}")
	return b.String()
}

// checkOnlyEndpoint checks an item's endpoints list against the one
// endpoint of a single-endpoint Client: it must name that endpoint.
func (c *Client) checkOnlyEndpoint(only []EndpointInfo) error {
	st := c.Endpoints()[0]
	if len(only) == 0 {
		return outErrorf(ErrNoEndpoint, "the item's endpoints list is empty; leave it out (null) to send to the Client's endpoint")
	}
	for _, ref := range only {
		if !strings.EqualFold(ref.Name, st.Name) || ref.EndpointType != st.Type || (ref.Endpoint != "" && !strings.EqualFold(strings.TrimRight(ref.Endpoint, "/"), st.URL)) {
			return outErrorf(ErrNoEndpoint, "the item's endpoints list names %s endpoint %q (%s), but the Client's one endpoint is Primary %q (%s); nothing was sent", ref.EndpointType, ref.Name, ref.Endpoint, st.Name, st.URL)
		}
	}
	return nil
}

// groupMembers lists a group's members on every endpoint the Router
// chooses, one endpoint after another; Top caps the total.
func (m *multi) groupMembers(ctx context.Context, hub, group string, o *GroupMembersOptions, yield func(GroupMember, error) bool) {
	targets, err := m.route(restapi.ListConnectionsInGroup, &routeArgs{hub: hub, group: group}, nil)
	if err != nil {
		yield(GroupMember{}, err)
		return
	}
	n := 0
	for _, e := range targets {
		for gm, err := range e.client.GroupMembers(ctx, hub, group, o) {
			if err != nil {
				yield(GroupMember{}, &EndpointError{Endpoint: e.ep.Name, Type: e.ep.Type, Err: err})
				return
			}
			if !yield(gm, nil) {
				return
			}
			n++
			if o.Top > 0 && n >= o.Top {
				return
			}
		}
	}
}
