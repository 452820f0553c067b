package emulator

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// ErrInvalidOptions is wrapped by the error New returns for bad Options;
// the message names the field and how to fix it.
var ErrInvalidOptions = errors.New("emulator: invalid options")

// maxPollTimeout is the request timeout of the official clients: a poll
// held longer than this is cut by the client before it returns.
const maxPollTimeout = 100 * time.Second

// DefaultAccessKey is the access key of Microsoft's Azure SignalR emulator.
// Using it by default means existing local.settings.json files that point at
// that emulator work unchanged against this one.
const DefaultAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// Options configures an Emulator. A nil *Options, and every zero field,
// means the documented default.
type Options struct {
	// AccessKey signs and checks every client and REST token (HS256 over the
	// key's UTF-8 bytes). Default: DefaultAccessKey.
	AccessKey string

	// KeepAliveInterval is how long a connection may go without the emulator
	// sending anything before it sends a Ping. Default: 15s, as ASP.NET Core
	// SignalR and the official client expect.
	KeepAliveInterval time.Duration

	// ClientTimeout closes a connection from which nothing (not even a Ping)
	// arrived for this long, and a Long Polling connection that has had no
	// poll waiting for this long (its client stopped polling). Default: 30s.
	ClientTimeout time.Duration

	// PollTimeout is how long a Long Polling poll waits for a message
	// before it returns empty and the client polls again. It must stay
	// under the clients' 100s request timeout. Default: 90s, as ASP.NET
	// Core.
	PollTimeout time.Duration

	// HandshakeTimeout closes a WebSocket whose hub protocol handshake did not
	// arrive in time. Default: 15s.
	HandshakeTimeout time.Duration

	// NegotiateTimeout is how long a connection token from negotiate stays
	// valid for opening the WebSocket. Default: 1m.
	NegotiateTimeout time.Duration

	// SendQueueSize is the number of messages waiting for one connection:
	// those sent to it alone and the broadcasts it has not been handed yet.
	// A connection whose queue is full when a message arrives is closed with
	// WebSocket status 1008 (policy violation) instead of slowing down
	// everybody else. Default: 1024.
	SendQueueSize int

	// SendQueueBytes bounds the bytes of the messages queued for one
	// connection, as SendQueueSize bounds their number: a client that stops
	// reading costs the emulator at most this much memory before it is
	// closed with status 1008. Values below MaxMessageSize are raised so
	// that the largest message fits. With stateful reconnect, the bytes
	// written and not yet acknowledged count too. Default: 8 MiB.
	SendQueueBytes int64

	// WriteTimeout bounds each write to a client. A client that stops
	// reading while a write to it is under way is closed when the write
	// has not finished in this time; the transport is cut, since a
	// half-written frame cannot be completed. Default: 10s.
	WriteTimeout time.Duration

	// CloseTimeout bounds the goodbye to a client: writing its Close
	// message, and waiting for it to answer the transport's close, each
	// get this long, and during Shutdown a write already under way gets
	// as long to finish. Default: 2s.
	CloseTimeout time.Duration

	// InvokeTimeout is how long a REST :invoke waits for the client's
	// Completion before answering 504 Error.Invocation.Timeout. Default:
	// 60s.
	InvokeTimeout time.Duration

	// MaxMessageSize limits a message read from a client, and a REST request
	// body. Default: 1 MiB (the service's documented body limit).
	MaxMessageSize int64

	// Upstream lists where client events go in serverless mode, in order;
	// the first template whose patterns match an event wins. The emulator
	// then POSTs connected (after the handshake), disconnected (after the
	// close) and each client Invocation (messages/<target>) with the
	// X-ASRS-* headers and the signature, and relays the upstream's answer
	// to a blocking invocation as its Completion. Stream invocations,
	// client stream items and cancellations are not forwarded, as in Azure
	// SignalR Service; a stream invocation gets an error Completion.
	// Default: none, and client invocations get an error Completion
	// saying no upstream is configured.
	Upstream []UpstreamTemplate

	// UpstreamTimeout bounds each upstream call, response body included;
	// a blocking invocation whose call times out gets an error Completion.
	// Default: 30s.
	UpstreamTimeout time.Duration

	// Identity turns on identity mode: the REST API also accepts
	// Microsoft Entra-style tokens from a local test issuer, and only
	// those callers get the client-token signing key; see
	// IdentityOptions. The AccessKey keeps working beside it. Default:
	// nil, no identity mode.
	Identity *IdentityOptions

	// StatefulReconnectWindow is how long a WebSocket connection that
	// negotiated stateful reconnect (the client's withStatefulReconnect())
	// is kept after its socket drops, waiting for the client to reopen it
	// with the same connection token; see statefulreconnect.go. Default:
	// 15s, ASP.NET Core's DisconnectTimeout.
	StatefulReconnectWindow time.Duration

	// StatefulReconnectBufferSize bounds, in bytes, what a stateful
	// reconnect connection has sent and the client has not acknowledged
	// yet: past it, the emulator writes nothing more to the client until
	// an Ack brings it back under (what waits meanwhile stays queued,
	// within SendQueueSize and SendQueueBytes, which the unacknowledged
	// bytes count toward). Default: 100,000, as ASP.NET Core's
	// StatefulReconnectBufferSize.
	StatefulReconnectBufferSize int64

	// DisableStatefulReconnect makes negotiate never grant stateful
	// reconnect, as Microsoft's emulator: clients then get the classic
	// disconnect. Default: false, granted to every client that asks.
	DisableStatefulReconnect bool

	// RemoteControl opens the dashboard (GET /) and the control API
	// (/_emulator/api/...) to clients that are not on loopback; those must
	// then present a bearer token signed with the access key whose aud is
	// the emulator's base URL followed by /_emulator. Default: false, and
	// only loopback clients are served.
	RemoteControl bool

	// Record, when set, receives every event of the traffic feed as JSON
	// Lines (one Event per line, secrets redacted) until Shutdown, which
	// flushes it. Writes happen on a goroutine of their own: a slow Record
	// never holds up traffic; events it could not keep up with are
	// reported by a line of kind "dropped". Default: nil, no record.
	Record io.Writer

	// FaultSeed seeds the random source that decides which calls a Fault
	// with a Fraction strikes, so that a run can be repeated. Default: 0
	// (itself a fixed seed).
	FaultSeed uint64

	// Logger receives one line per connect, disconnect and REST call.
	// Default: nil, meaning nothing is logged. Access keys and tokens are
	// never logged.
	Logger *slog.Logger
}

// recordFramingBytes is more than the bytes an Invocation record adds to
// the target and arguments of a REST send body.
const recordFramingBytes = 64

// options is Options with every default applied.
type options struct {
	accessKey         string
	keepAliveInterval time.Duration
	clientTimeout     time.Duration
	pollTimeout       time.Duration
	handshakeTimeout  time.Duration
	negotiateTimeout  time.Duration
	sendQueueSize     int
	sendQueueBytes    int64
	writeTimeout      time.Duration
	closeTimeout      time.Duration
	invokeTimeout     time.Duration
	maxMessageSize    int64
	logger            *slog.Logger
	upstream          []UpstreamTemplate
	upstreamTimeout   time.Duration
	identity          *IdentityOptions

	statefulReconnect       bool
	statefulReconnectWindow time.Duration
	statefulReconnectBuffer int64

	remoteControl bool
	record        io.Writer
	faultSeed     uint64
}

// String prints the options with the access key hidden, so logging them is
// safe.
func (o Options) String() string {
	key := "default"
	if o.AccessKey != "" {
		key = "***"
	}
	return fmt.Sprintf("emulator.Options{AccessKey: %s, KeepAliveInterval: %v, ClientTimeout: %v, PollTimeout: %v, HandshakeTimeout: %v, NegotiateTimeout: %v, SendQueueSize: %d, SendQueueBytes: %d, WriteTimeout: %v, CloseTimeout: %v, InvokeTimeout: %v, MaxMessageSize: %d, Upstream: %d template(s), UpstreamTimeout: %v, Identity: %t, StatefulReconnectWindow: %v, StatefulReconnectBufferSize: %d, DisableStatefulReconnect: %t}",
		key, o.KeepAliveInterval, o.ClientTimeout, o.PollTimeout, o.HandshakeTimeout, o.NegotiateTimeout, o.SendQueueSize, o.SendQueueBytes, o.WriteTimeout, o.CloseTimeout, o.InvokeTimeout, o.MaxMessageSize, len(o.Upstream), o.UpstreamTimeout, o.Identity != nil, o.StatefulReconnectWindow, o.StatefulReconnectBufferSize, o.DisableStatefulReconnect)
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// validate reports the first bad field of o, if any. Zero means the
// default everywhere, so only values no default can mend are errors.
func (o *Options) validate() error {
	if o == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"KeepAliveInterval", o.KeepAliveInterval},
		{"ClientTimeout", o.ClientTimeout},
		{"PollTimeout", o.PollTimeout},
		{"HandshakeTimeout", o.HandshakeTimeout},
		{"NegotiateTimeout", o.NegotiateTimeout},
		{"WriteTimeout", o.WriteTimeout},
		{"InvokeTimeout", o.InvokeTimeout},
		{"UpstreamTimeout", o.UpstreamTimeout},
		{"CloseTimeout", o.CloseTimeout},
	} {
		if d.value < 0 {
			return bad("Options.%s is %v; use a positive duration, or 0 for the default", d.name, d.value)
		}
	}
	if o.PollTimeout >= maxPollTimeout {
		return bad("Options.PollTimeout is %v, but the clients give up on a poll after 100s; use less, or 0 for the default (90s)", o.PollTimeout)
	}
	for _, n := range []struct {
		name  string
		value int64
	}{
		{"SendQueueSize", int64(o.SendQueueSize)},
		{"SendQueueBytes", o.SendQueueBytes},
		{"MaxMessageSize", o.MaxMessageSize},
	} {
		if n.value < 0 {
			return bad("Options.%s is %d; use a positive number, or 0 for the default", n.name, n.value)
		}
	}
	for i, t := range o.Upstream {
		if err := t.Validate(); err != nil {
			return bad("Options.Upstream[%d]: %v", i, err)
		}
	}
	if id := o.Identity; id != nil && id.IssuerKey != nil && id.IssuerKey.Curve != elliptic.P256() {
		return bad("Options.Identity.IssuerKey is not a P-256 key, which ES256 tokens need; generate one with ecdsa.GenerateKey(elliptic.P256(), rand.Reader), or leave it nil for a new one")
	}
	return nil
}

func (o *Options) withDefaults() options {
	var in Options
	if o != nil {
		in = *o
	}
	out := options{
		accessKey:         in.AccessKey,
		keepAliveInterval: in.KeepAliveInterval,
		clientTimeout:     in.ClientTimeout,
		pollTimeout:       in.PollTimeout,
		handshakeTimeout:  in.HandshakeTimeout,
		negotiateTimeout:  in.NegotiateTimeout,
		sendQueueSize:     in.SendQueueSize,
		sendQueueBytes:    in.SendQueueBytes,
		writeTimeout:      in.WriteTimeout,
		closeTimeout:      in.CloseTimeout,
		invokeTimeout:     in.InvokeTimeout,
		maxMessageSize:    in.MaxMessageSize,
		logger:            in.Logger,
		upstream:          append([]UpstreamTemplate(nil), in.Upstream...),
		upstreamTimeout:   in.UpstreamTimeout,
		remoteControl:     in.RemoteControl,
		record:            in.Record,
		faultSeed:         in.FaultSeed,
	}
	out.statefulReconnect = !in.DisableStatefulReconnect
	out.statefulReconnectWindow = in.StatefulReconnectWindow
	if out.statefulReconnectWindow <= 0 {
		out.statefulReconnectWindow = DefaultStatefulReconnectWindow
	}
	out.statefulReconnectBuffer = in.StatefulReconnectBufferSize
	if out.statefulReconnectBuffer <= 0 {
		out.statefulReconnectBuffer = DefaultStatefulReconnectBufferSize
	}
	if in.Identity != nil {
		id := *in.Identity
		out.identity = &id
	}
	if out.upstreamTimeout <= 0 {
		out.upstreamTimeout = 30 * time.Second
	}
	if out.accessKey == "" {
		out.accessKey = DefaultAccessKey
	}
	if out.keepAliveInterval <= 0 {
		out.keepAliveInterval = 15 * time.Second
	}
	if out.clientTimeout <= 0 {
		out.clientTimeout = 30 * time.Second
	}
	if out.pollTimeout <= 0 {
		out.pollTimeout = 90 * time.Second
	}
	if out.handshakeTimeout <= 0 {
		out.handshakeTimeout = 15 * time.Second
	}
	if out.negotiateTimeout <= 0 {
		out.negotiateTimeout = time.Minute
	}
	if out.sendQueueSize <= 0 {
		out.sendQueueSize = 1024
	}
	if out.maxMessageSize <= 0 {
		out.maxMessageSize = 1 << 20
	}
	if out.sendQueueBytes <= 0 {
		out.sendQueueBytes = 8 << 20
	}
	// A REST send becomes one record: the body's target and arguments with
	// a few bytes of framing around them.
	out.sendQueueBytes = max(out.sendQueueBytes, out.maxMessageSize+recordFramingBytes)
	if out.invokeTimeout <= 0 {
		out.invokeTimeout = DefaultInvokeTimeout
	}
	if out.closeTimeout <= 0 {
		out.closeTimeout = 2 * time.Second
	}
	if out.writeTimeout <= 0 {
		out.writeTimeout = 10 * time.Second
	}
	if out.logger == nil {
		out.logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// DefaultInvokeTimeout is how long a REST :invoke waits for the client's
// answer when Options.InvokeTimeout is zero.
const DefaultInvokeTimeout = 60 * time.Second
