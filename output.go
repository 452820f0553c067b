package signalr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sender delivers output items to a hub: the two Client methods a Collector
// calls (with nil options, but for OutputOptions.AtMostOnce), so a
// Collector does what a user calling the Client would. *Client
// implements it over the REST API; signalrtest provides a recording fake
// for tests. Implementations must be safe for concurrent use: a Collector
// calls them from several goroutines during Flush.
//
// Every Sender gets the same thing from a Collector: the snapshot taken
// when the item was added. A message's Arguments are then each a
// json.RawMessage holding the argument's JSON encoding (which encodes
// back to the same bytes), and its Excluded list is the Collector's own
// copy. A Sender that knows a failed item may have been applied says so by
// wrapping ErrMaybeApplied in its error.
type Sender interface {
	// SendMessage sends m to its audience in hub.
	SendMessage(ctx context.Context, hub string, m Message, opts *SendMessageOptions) error
	// ApplyGroupAction applies a to hub's groups.
	ApplyGroupAction(ctx context.Context, hub string, a GroupAction, opts *ApplyGroupActionOptions) error
}

// Output defaults, used where OutputOptions leaves a field zero.
const (
	// DefaultFlushConcurrency is how many requests a Flush has in flight.
	DefaultFlushConcurrency = 8
	// DefaultFlushTimeout bounds the flush WithOutput runs after a handler.
	DefaultFlushTimeout = 30 * time.Second
)

// OutputOptions tune an Output. The nil value means: 8 requests in flight
// per Flush, 30s for the flush after a handler, and flush errors that
// cannot become a response logged with the log package.
type OutputOptions struct {
	// MaxConcurrency bounds the requests one Flush has in flight. Zero
	// means DefaultFlushConcurrency; 1 sends items one at a time, in the
	// order they were added. Negative is an error.
	MaxConcurrency int
	// FlushTimeout bounds the flush WithOutput runs after the handler
	// returns. That flush is not cancelled when the HTTP client goes away,
	// as the Functions host still sends a function's outputs then. Zero
	// means DefaultFlushTimeout; negative is an error.
	FlushTimeout time.Duration
	// AtMostOnce makes a Collector send each message with
	// SendMessageOptions.AtMostOnce: no retry once a request for it may
	// have reached the service in full, so no message is applied twice,
	// and one that may have been applied is reported with
	// DeliveryError.MaybeApplied. False means the Sender's retries as
	// they are (the Client's may apply a message twice; see RetryOptions).
	AtMostOnce bool
	// OnError receives a flush error WithOutput cannot report in the
	// response because the handler already wrote one. Nil means a line
	// through the log package that gives the request's route pattern
	// (http.Request.Pattern, not its path), how many items failed, and for
	// each its index and status and error code (or "transport error",
	// "timed out", "canceled"), but no user id, group name, connection id
	// or URL: those can be personal data, and logs are kept and shared.
	// Set OnError to see the whole error (DeliveryErrors lists the items).
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
	sendOpts    *SendMessageOptions // nil, or AtMostOnce
}

// NewOutput returns an Output that sends to hub through s (a *Client, a
// fake from signalrtest, or your own Sender). opts may be nil. The hub name
// must match ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$; the error wraps
// ErrInvalidHubName. A negative MaxConcurrency or FlushTimeout is an error
// wrapping ErrInvalidArgument.
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
	if opts.MaxConcurrency < 0 {
		return nil, outErrorf(ErrInvalidArgument, "OutputOptions.MaxConcurrency is %d; use a positive number, or zero for %d", opts.MaxConcurrency, DefaultFlushConcurrency)
	}
	if opts.FlushTimeout < 0 {
		return nil, outErrorf(ErrInvalidArgument, "OutputOptions.FlushTimeout is %v; use a positive duration, or zero for %v", opts.FlushTimeout, DefaultFlushTimeout)
	}
	o := &Output{sender: s, hub: hub, concurrency: opts.MaxConcurrency, timeout: opts.FlushTimeout, onError: opts.OnError}
	if o.concurrency <= 0 {
		o.concurrency = DefaultFlushConcurrency
	}
	if o.timeout <= 0 {
		o.timeout = DefaultFlushTimeout
	}
	if o.onError == nil {
		o.onError = logFlushFailure
	}
	if opts.AtMostOnce {
		o.sendOpts = &SendMessageOptions{AtMostOnce: true}
	}
	return o, nil
}

// Bind expands %NAME% app setting references in the binding's hub name,
// checks it and returns an Output that sends through opts.Client, or, when
// that is nil, through a new Client for the binding's connection string
// (see BindOptions; that Client has a connection pool of its own, so share
// one Client among bindings of the same connection string). To send
// through another Sender, such as a fake in tests, use NewOutput. opts and
// outOpts may be nil. Errors wrap ErrInvalidBinding, ErrMissingSetting,
// ErrInvalidConnectionString or ErrInvalidHubName.
func (b OutputBinding) Bind(opts *BindOptions, outOpts *OutputOptions) (*Output, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
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
	client := opts.Client
	if client == nil {
		if err := refuseEndpointsSection(opts); err != nil {
			return nil, err
		}
		cs, err := resolveConnectionString(b.ConnectionStringSetting, opts)
		if err != nil {
			return nil, err
		}
		if client, err = opts.newClient(cs); err != nil {
			return nil, err
		}
	}
	return NewOutput(client, hub, outOpts)
}

// Hub returns the hub the Output sends to.
func (o *Output) Hub() string { return o.hub }

// NewCollector returns an empty Collector for one request or job.
func (o *Output) NewCollector() *Collector {
	return &Collector{out: o}
}
