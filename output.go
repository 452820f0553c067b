package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sender delivers output items to a hub. *Client implements it over the
// REST API; signalrtest provides a recording fake for tests. Implementations
// must be safe for concurrent use: a Collector calls them from several
// goroutines during Flush.
type Sender interface {
	// SendMessage sends m to its audience in hub.
	SendMessage(ctx context.Context, hub string, m Message) error
	// ApplyGroupAction applies a to hub's groups.
	ApplyGroupAction(ctx context.Context, hub string, a GroupAction) error
}

// encodedSender is implemented by *Client: it takes the body the Collector
// encoded when the message was added, so it is not encoded twice.
type encodedSender interface {
	sendEncoded(ctx context.Context, hub string, m *Message, body []byte) error
}

// Output defaults, used where OutputOptions leaves a field zero.
const (
	// DefaultFlushConcurrency is how many requests a Flush has in flight.
	DefaultFlushConcurrency = 8
	// DefaultFlushTimeout bounds the flush WithOutput runs after a handler.
	DefaultFlushTimeout = 30 * time.Second
)

// OutputOptions tune an Output. The nil value means: the default Client
// options, 8 requests in flight per Flush, 30s for the flush after a
// handler, and flush errors that cannot become a response logged with the
// log package.
type OutputOptions struct {
	// Client configures the Client that OutputBinding.Bind makes; unused by
	// NewOutput.
	Client *ClientOptions
	// MaxConcurrency bounds the requests one Flush has in flight. Zero
	// means DefaultFlushConcurrency; 1 sends items one at a time, in the
	// order they were added.
	MaxConcurrency int
	// FlushTimeout bounds the flush WithOutput runs after the handler
	// returns. That flush is not cancelled when the HTTP client goes away,
	// as the Functions host still sends a function's outputs then. Zero
	// means DefaultFlushTimeout.
	FlushTimeout time.Duration
	// OnError receives a flush error WithOutput cannot report in the
	// response because the handler already wrote one. Nil means
	// log.Printf.
	OnError func(r *http.Request, err error)
}

// Output is a bound SignalR output binding: a Sender and a hub. Make one
// at start-up and share it; it makes a Collector per request.
type Output struct {
	sender      Sender
	hub         string
	concurrency int
	timeout     time.Duration
	onError     func(r *http.Request, err error)
}

// NewOutput returns an Output that sends to hub through s (a *Client, a
// fake from signalrtest, or your own Sender). opts may be nil. The hub name
// must match ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$; the error wraps
// ErrInvalidHubName.
func NewOutput(s Sender, hub string, opts *OutputOptions) (*Output, error) {
	if s == nil {
		return nil, errors.New("signalr: NewOutput needs a Sender, such as a *Client")
	}
	if err := validateHub(hub); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &OutputOptions{}
	}
	o := &Output{sender: s, hub: hub, concurrency: opts.MaxConcurrency, timeout: opts.FlushTimeout, onError: opts.OnError}
	if o.concurrency <= 0 {
		o.concurrency = DefaultFlushConcurrency
	}
	if o.timeout <= 0 {
		o.timeout = DefaultFlushTimeout
	}
	if o.onError == nil {
		o.onError = func(r *http.Request, err error) {
			log.Printf("signalr: output of %s %s not fully delivered after the response was written: %v", r.Method, r.URL.Path, err)
		}
	}
	return o, nil
}

// Bind loads the binding's connection string (see BindOptions), expands
// %NAME% app setting references in its hub name, checks the hub name
// and returns an Output that sends through a new Client. opts and
// outOpts may be nil. Errors wrap ErrInvalidBinding, ErrMissingSetting,
// ErrInvalidConnectionString or ErrInvalidHubName.
func (b OutputBinding) Bind(opts *BindOptions, outOpts *OutputOptions) (*Output, error) {
	if strings.TrimSpace(b.HubName) == "" {
		return nil, fmt.Errorf("%w: hubName is required; set it to the hub to send to, such as \"chat\"", ErrInvalidBinding)
	}
	opts = opts.withDefaults()
	hub, err := expandSettings("hubName", b.HubName, opts.Settings)
	if err != nil {
		return nil, err
	}
	if err := validateHub(hub); err != nil {
		return nil, fmt.Errorf("hubName: %w", err)
	}
	cs, err := resolveConnectionString(b.ConnectionStringSetting, opts)
	if err != nil {
		return nil, err
	}
	var copts *ClientOptions
	if outOpts != nil {
		copts = outOpts.Client
	}
	return NewOutput(NewClient(cs, copts), hub, outOpts)
}

// Hub returns the hub the Output sends to.
func (o *Output) Hub() string { return o.hub }

// Sender returns what the Output sends through; after Bind, a *Client.
func (o *Output) Sender() Sender { return o.sender }

// NewCollector returns an empty Collector for one request or job.
func (o *Output) NewCollector() *Collector {
	return &Collector{out: o}
}

// Collector gathers the messages and group actions of one function
// invocation and sends them on Flush, like the Functions IAsyncCollector.
// It is safe for concurrent use.
//
// Items are validated (and messages encoded) when added, so a bad item is an
// immediate error and nothing is queued. Flush sends concurrently, but keeps
// the order of items that touch the same user, group or connection: an
// add-to-group of user U to group G followed by a send to G arrives in that
// order. A broadcast is ordered after everything added before it and before
// everything added after it, and so is a removeAll relative to every group
// operation. Items with nothing in common may arrive in any order, even if
// a client sees both (say, one in group G and user U receiving a send to G
// and one to U); set MaxConcurrency to 1 for strict order.
type Collector struct {
	out     *Output
	mu      sync.Mutex
	pending []pendingItem
	added   int
	flushMu sync.Mutex
}

// pendingItem is a queued Message, held by value so queuing a message
// does not box it, or a GroupAction (action != nil).
type pendingItem struct {
	index  int
	msg    Message
	action *GroupAction
	body   []byte // encoded payload of a message
}

func (p *pendingItem) item() OutputItem {
	if p.action != nil {
		return *p.action
	}
	return p.msg
}

func (p *pendingItem) keys() itemKeys {
	if p.action != nil {
		return actionKeys(p.action)
	}
	return messageKeys(&p.msg)
}

// AddMessage validates m and queues it. m.Arguments are encoded now, so
// with a *Client later changes to them do not affect what is sent; other
// Senders (such as the signalrtest fake) receive m as it is at Flush. The
// error wraps ErrInvalidMessage.
func (c *Collector) AddMessage(m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	body, err := encodeSendBody(m.Target, m.Arguments)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.pending = append(c.pending, pendingItem{index: c.added, msg: m, body: body})
	c.added++
	c.mu.Unlock()
	return nil
}

// AddGroupAction validates a and queues it. The error wraps
// ErrInvalidGroupAction.
func (c *Collector) AddGroupAction(a GroupAction) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a.Action, _ = ParseGroupActionType(string(a.Action))
	c.mu.Lock()
	c.pending = append(c.pending, pendingItem{index: c.added, action: &a})
	c.added++
	c.mu.Unlock()
	return nil
}

// Add queues a Message or GroupAction (or a pointer to one).
func (c *Collector) Add(item OutputItem) error {
	switch it := item.(type) {
	case Message:
		return c.AddMessage(it)
	case *Message:
		if it != nil {
			return c.AddMessage(*it)
		}
	case *GroupAction:
		if it != nil {
			return c.AddGroupAction(*it)
		}
	case GroupAction:
		return c.AddGroupAction(it)
	}
	return outErrorf(ErrInvalidOutputItem, "cannot add %T; add a Message or a GroupAction", item)
}

// AddJSON queues what a JavaScript or Python function would assign to its
// output binding: see ParseOutput. Either every item is queued or, on
// error, none.
func (c *Collector) AddJSON(data []byte) error {
	items, err := ParseOutput(data)
	if err != nil {
		return err
	}
	batch := make([]pendingItem, len(items))
	for i, it := range items {
		switch v := it.(type) {
		case Message:
			batch[i].msg = v
			if batch[i].body, err = encodeSendBody(v.Target, v.Arguments); err != nil {
				return fmt.Errorf("output item %d: %w", i, err)
			}
		case GroupAction:
			batch[i].action = &v
		}
	}
	c.mu.Lock()
	for i := range batch {
		batch[i].index = c.added
		c.added++
	}
	c.pending = append(c.pending, batch...)
	c.mu.Unlock()
	return nil
}

// Len returns the number of items waiting for Flush.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// DeliveryError reports one item Flush could not deliver. Flush returns
// them joined (errors.Join); find them with errors.As, or iterate with
// DeliveryErrors.
type DeliveryError struct {
	// Index is the item's position among everything added to the
	// Collector, counting from 0.
	Index int
	// Item is the Message or GroupAction, so it can be added again.
	Item OutputItem
	// Err is why: a *ResponseError, a transport error, or the context's
	// error for an item that was not attempted.
	Err error
}

// Error names the item and says why it was not delivered.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("signalr: output item %d (%s) not delivered: %v", e.Index, describeItem(e.Item), e.Err)
}

// Unwrap returns Err.
func (e *DeliveryError) Unwrap() error { return e.Err }

// DeliveryErrors returns the DeliveryErrors in an error from Flush.
func DeliveryErrors(err error) []*DeliveryError {
	var out []*DeliveryError
	var walk func(error)
	walk = func(err error) {
		if de, ok := err.(*DeliveryError); ok {
			out = append(out, de)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func describeItem(it OutputItem) string {
	switch v := it.(type) {
	case Message:
		switch {
		case v.ConnectionID != "":
			return fmt.Sprintf("message %q to connection %q", v.Target, v.ConnectionID)
		case v.UserID != "":
			return fmt.Sprintf("message %q to user %q", v.Target, v.UserID)
		case v.GroupName != "":
			return fmt.Sprintf("message %q to group %q", v.Target, v.GroupName)
		}
		return fmt.Sprintf("message %q to everyone", v.Target)
	case GroupAction:
		who := fmt.Sprintf("user %q", v.UserID)
		if v.ConnectionID != "" {
			who = fmt.Sprintf("connection %q", v.ConnectionID)
		}
		switch v.Action {
		case GroupActionAdd:
			return fmt.Sprintf("add %s to group %q", who, v.GroupName)
		case GroupActionRemove:
			return fmt.Sprintf("remove %s from group %q", who, v.GroupName)
		}
		return fmt.Sprintf("remove %s from all groups", who)
	}
	return fmt.Sprintf("%T", it)
}

// Flush sends every queued item and empties the queue. It returns nil when
// all were delivered; otherwise errors.Join of one *DeliveryError per item
// that was not, in the order added. Undelivered items are not queued again
// (resending one that timed out could deliver it twice); each
// DeliveryError carries its Item for the caller to add again if it wants.
// When ctx ends, the items not yet attempted fail with ctx's error. An
// item that fails does not hold back the items ordered after it: they are
// still sent, in order, and only the failures are reported. Concurrent
// Flush calls run one after the other.
func (c *Collector) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	items := c.pending
	c.pending = nil
	c.mu.Unlock()
	switch len(items) {
	case 0:
		return nil
	case 1:
		if err := c.deliver(ctx, &items[0]); err != nil {
			return errors.Join(&DeliveryError{Index: items[0].index, Item: items[0].item(), Err: err})
		}
		return nil
	}
	errs := make([]error, len(items))
	if c.out.concurrency == 1 {
		for i := range items {
			errs[i] = c.deliver(ctx, &items[i])
		}
	} else {
		c.flushConcurrently(ctx, items, errs)
	}
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, &DeliveryError{Index: items[i].index, Item: items[i].item(), Err: err})
		}
	}
	return errors.Join(failed...)
}

func (c *Collector) deliver(ctx context.Context, p *pendingItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.action != nil {
		return c.out.sender.ApplyGroupAction(ctx, c.out.hub, *p.action)
	}
	if es, ok := c.out.sender.(encodedSender); ok {
		return es.sendEncoded(ctx, c.out.hub, &p.msg, p.body)
	}
	return c.out.sender.SendMessage(ctx, c.out.hub, p.msg)
}

// flushConcurrently delivers items with at most c.out.concurrency in
// flight, each only after the earlier items it conflicts with (see
// orderItems) have finished.
func (c *Collector) flushConcurrently(ctx context.Context, items []pendingItem, errs []error) {
	waits, next := orderItems(items)
	workers := min(c.out.concurrency, len(items))
	var wg sync.WaitGroup
	if independent(waits) {
		// Nothing to order: hand out indexes with one atomic counter.
		var nextIndex atomic.Int64
		wg.Add(workers)
		for range workers {
			go func() {
				defer wg.Done()
				for i := int(nextIndex.Add(1) - 1); i < len(items); i = int(nextIndex.Add(1) - 1) {
					errs[i] = c.deliver(ctx, &items[i])
				}
			}()
		}
		wg.Wait()
		return
	}
	ready := make(chan int, len(items))
	for i, w := range waits {
		if w == 0 {
			ready <- i
		}
	}
	var (
		mu        sync.Mutex
		remaining = len(items)
	)
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for i := range ready {
				errs[i] = c.deliver(ctx, &items[i])
				mu.Lock()
				for _, d := range next[i] {
					if waits[d]--; waits[d] == 0 {
						ready <- int(d)
					}
				}
				if remaining--; remaining == 0 {
					close(ready)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// independent reports whether no item waits for another.
func independent(waits []int32) bool {
	for _, w := range waits {
		if w != 0 {
			return false
		}
	}
	return true
}

// orderItems builds the dependency graph of a flush. Item i waits for
// waits[i] earlier items; when item j finishes, the items in next[j] have
// one fewer to wait for. An item depends on the latest earlier item that
// touches each of its keys (user, group, connection); a broadcast or a close
// of every connection depends on everything since the previous one and
// everything after depends on it; a removeAll depends on every group
// operation since the previous removeAll, and every later group operation
// depends on it. The edges are a transitive reduction in spirit: ordering
// through chains keeps the graph linear in the number of items.
func orderItems(items []pendingItem) (waits []int32, next [][]int32) {
	n := len(items)
	waits = make([]int32, n)
	next = make([][]int32, n)
	mark := make([]int, n) // mark[j] == i+1 when i already depends on j
	lastUser := map[string]int{}
	lastGroup := map[string]int{}
	lastConn := map[string]int{}
	lastBarrier, lastAllGroups := -1, -1
	var sinceBarrier, groupOps []int
	for i := range items {
		dep := func(j int) {
			if j < 0 || mark[j] == i+1 {
				return
			}
			mark[j] = i + 1
			waits[i]++
			next[j] = append(next[j], int32(i))
		}
		k := items[i].keys()
		dep(lastBarrier)
		if k.barrier {
			for _, j := range sinceBarrier {
				dep(j)
			}
			clear(lastUser)
			clear(lastGroup)
			clear(lastConn)
			sinceBarrier, groupOps = sinceBarrier[:0], groupOps[:0]
			lastBarrier, lastAllGroups = i, -1
			continue
		}
		if k.user != "" {
			if j, ok := lastUser[k.user]; ok {
				dep(j)
			}
			lastUser[k.user] = i
		}
		if k.conn != "" {
			if j, ok := lastConn[k.conn]; ok {
				dep(j)
			}
			lastConn[k.conn] = i
		}
		if k.group != "" {
			if j, ok := lastGroup[k.group]; ok {
				dep(j)
			}
			dep(lastAllGroups)
			lastGroup[k.group] = i
			groupOps = append(groupOps, i)
		}
		if k.allGroups {
			dep(lastAllGroups)
			for _, j := range groupOps {
				dep(j)
			}
			groupOps = groupOps[:0]
			lastAllGroups = i
		}
		sinceBarrier = append(sinceBarrier, i)
	}
	return waits, next
}

// itemKeys is what an item touches.
type itemKeys struct {
	barrier           bool // touches everything
	allGroups         bool // touches every group
	user, group, conn string
}

func messageKeys(m *Message) itemKeys {
	if m.UserID == "" && m.GroupName == "" && m.ConnectionID == "" {
		return itemKeys{barrier: true}
	}
	return itemKeys{user: m.UserID, group: m.GroupName, conn: m.ConnectionID}
}

func actionKeys(a *GroupAction) itemKeys {
	return itemKeys{user: a.UserID, conn: a.ConnectionID, group: a.GroupName, allGroups: a.Action == GroupActionRemoveAll}
}

// WithOutput returns a handler that runs h with a fresh Collector for o and
// flushes it after h returns, as the Functions host sends a function's
// outputs when it completes. If the flush fails and h has not written a
// response, the response is 502 Bad Gateway with a JSON body naming each
// undelivered item and the service's reason; if h has written, or the
// client has gone away, the error goes to OutputOptions.OnError. If h
// panics, nothing is flushed.
func WithOutput(o *Output, h func(w http.ResponseWriter, r *http.Request, out *Collector)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		col := o.NewCollector()
		tw := &trackingWriter{ResponseWriter: w}
		h(tw, r, col)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), o.timeout)
		defer cancel()
		err := col.Flush(ctx)
		if err == nil {
			return
		}
		if tw.wrote || r.Context().Err() != nil {
			// Nobody will read a 502 now: the handler answered already,
			// or the client is gone. The hook is the only place left.
			o.onError(r, err)
			return
		}
		writeOutputError(w, err)
	})
}

// outputFailure is one entry of the 502 body WithOutput writes.
type outputFailure struct {
	Index      int    `json:"index"`
	Item       string `json:"item"`
	StatusCode int    `json:"statusCode,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"`
	Reason     string `json:"reason"`
}

func writeOutputError(w http.ResponseWriter, err error) {
	des := DeliveryErrors(err)
	failures := make([]outputFailure, 0, len(des))
	for _, de := range des {
		f := outputFailure{Index: de.Index, Item: describeItem(de.Item), Reason: de.Err.Error()}
		var re *ResponseError
		if errors.As(de.Err, &re) {
			f.StatusCode, f.ErrorCode, f.Reason = re.StatusCode, re.ErrorCode, re.Message
			if f.Reason == "" {
				f.Reason = http.StatusText(re.StatusCode)
			}
		}
		failures = append(failures, f)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadGateway)
	_ = json.NewEncoder(w).Encode(struct {
		Error    string          `json:"error"`
		Failures []outputFailure `json:"failures"`
	}{fmt.Sprintf("SignalR output: %d item(s) not delivered", len(failures)), failures})
}

// trackingWriter records whether the handler has started a response.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		t.wrote = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

// Flush implements http.Flusher; flushing starts the response.
func (t *trackingWriter) Flush() {
	t.wrote = true
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
