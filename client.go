package signalr

import (
	"context"

	"errors"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// DefaultAttemptTimeout is the per-attempt limit when
// ClientOptions.AttemptTimeout is zero. It bounds a whole attempt:
// connecting, sending the request, waiting for the response and reading its
// body.
const DefaultAttemptTimeout = 30 * time.Second

// ClientOptions tune a Client. The nil value means: the 2022-06-01 API, the
// Client's own connection pool, the default RetryOptions and a 30s limit
// per attempt.
type ClientOptions struct {
	// HTTPClient sends the requests. Nil means an http.Client with its own
	// http.Transport, tuned to keep up to 64 idle connections to the
	// service open for reuse. Its Timeout, if any, applies per attempt on
	// top of AttemptTimeout.
	HTTPClient *http.Client
	// APIVersion selects the REST routes; "" means APIVersion20220601.
	APIVersion APIVersion
	// Retry tunes retries of transient failures; the zero value means the
	// defaults (see RetryOptions).
	Retry RetryOptions
	// AttemptTimeout bounds each attempt, so a hung connection is retried
	// rather than waited on: the attempt's context ends after it. Zero
	// means DefaultAttemptTimeout. A negative value is an error: every
	// attempt has a bound (the Client's own transport also limits
	// connecting to 30s and the TLS handshake to 10s within it), so give a
	// long one if you need one.
	AttemptTimeout time.Duration
	// UserAgent is sent as the User-Agent header; "" means
	// "funcsignalr-go".
	UserAgent string
	// Credential, when set, authenticates with Microsoft Entra ID instead
	// of the access key: REST calls carry its token for EntraScope (kept
	// until five minutes before it expires, then renewed by one caller
	// while the others go on using it), and client tokens are signed with
	// a key fetched from the service (see Client.ConnectionInfo), fetched
	// again when it is 55 minutes old, 5 minutes after a failed fetch, and
	// used for at most 120 minutes after the last success (then minting
	// fails with ErrNoAccessKey), as in the Azure SignalR SDKs. It is
	// required for an identity-based connection string (AuthType=azure,
	// azure.msi, azure.app, aad); package
	// github.com/funcsignalr/signalr/azidentity makes one from the
	// connection string's keys. The identity needs the "SignalR App
	// Server" role on the resource. Nil means the access key.
	Credential azcore.TokenCredential
	// ClientTokensFromService makes ConnectionInfo ask the service to mint
	// each client token (POST :generateToken, REST API 2023-07-01 or
	// later) instead of minting it locally, so the app never holds a
	// signing key; it costs a REST call per negotiate. False means tokens
	// are minted locally.
	ClientTokensFromService bool
	// Now returns the current time for the renewal of the Microsoft
	// Entra token and of the key (see Credential); nil
	// means time.Now. Tests set it to step through the renewal timings
	// without waiting. Tokens sent to the service keep the wall clock,
	// which the service checks them by (ClientTokenOptions.Now sets a
	// client token's).
	Now func() time.Time
	// Transport selects REST (TransportREST, "" means it) or persistent
	// service connections (TransportPersistent) for sends, group actions,
	// closes, existence checks and Invoke; other operations always use
	// REST. Call Client.Close when done with a persistent Client.
	Transport Transport
	// Persistent tunes TransportPersistent; nil means the defaults.
	Persistent *PersistentOptions
}

// Client calls the SignalR Service data-plane REST API for one connection
// string. Make one per connection string and share it (bindings take it
// through BindOptions.Client): it is safe for concurrent use and reuses
// connections, tokens and keys. Every request carries a bearer token: with
// an access key, an HS256 token (aud = request URL without query, five
// minutes' lifetime) minted for its URL and reused for that URL for up to a
// minute; with ClientOptions.Credential, the Microsoft Entra token.
//
// Every operation is Op(ctx, hub, required ids…, *OpOptions) where nil
// options mean the defaults. Hub names are validated and lower-cased, and
// every id is escaped as one path segment, so any string reaches exactly its
// own route.
type Client struct {
	cs        *ConnectionString
	base      string // scheme://host
	scheme    string
	host      string
	hc        *http.Client
	version   APIVersion
	retry     RetryOptions
	timeout   time.Duration
	userAgent string
	// traced is true when the transport reports through httptrace whether
	// a request was written in full (net/http's own transport does).
	traced bool

	// tokens maps an audience to its *cachedToken; reads take no lock.
	// tokenCount counts the entries stored since it was last emptied.
	tokens     sync.Map
	tokenCount atomic.Int32
	// routes holds the built routes (see routeFor). A map under a
	// read-write lock: there is a lookup per request, and with this key
	// one took 78 ns against a sync.Map's 180 ns (parallel, 2 cores).
	routesMu sync.RWMutex
	routes   map[routeKey]*routeEntry

	// id is the Microsoft Entra state; nil with an access key.
	id            *identity
	serviceTokens bool
	now           func() time.Time

	// persist is the service connection pool of TransportPersistent
	// (persist.go); nil for REST.
	persist *persistent

	// sleep waits between attempts; tests replace it to observe waits.
	sleep func(ctx context.Context, d time.Duration) error

	// multi, when set, makes this a Client over several endpoints
	// (NewMultiEndpointClient): call and ConnectionInfo go through it.
	multi *multi
}

// NewClient returns a Client for cs, which must come from
// ParseConnectionString. opts may be nil. It fails, wrapping
// ErrInvalidConnectionString or ErrInvalidArgument, when cs is nil or empty
// or an option is unusable, and with ErrMissingCredential for an
// identity-based cs without ClientOptions.Credential.
func NewClient(cs *ConnectionString, opts *ClientOptions) (*Client, error) {
	if err := cs.usable(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &ClientOptions{}
	}
	c := &Client{
		cs:        cs,
		base:      cs.serverEndpoint,
		scheme:    cs.serverEndpoint[:strings.Index(cs.serverEndpoint, "://")],
		host:      cs.serverEndpoint[strings.Index(cs.serverEndpoint, "://")+3:],
		version:   opts.APIVersion,
		timeout:   opts.AttemptTimeout,
		userAgent: opts.UserAgent,
		hc:        opts.HTTPClient,
		traced:    opts.HTTPClient == nil || isHTTPTransport(opts.HTTPClient.Transport),
		sleep:     sleepCtx,
		now:       opts.Now,

		serviceTokens: opts.ClientTokensFromService,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if opts.Credential != nil {
		c.id = c.newIdentity(opts.Credential)
	} else if cs.authType != "" {
		return nil, fmt.Errorf("%w: the connection string has AuthType=%s but ClientOptions.Credential is nil; pass a credential (azidentity.NewCredential in github.com/funcsignalr/signalr/azidentity makes one from the connection string)", ErrMissingCredential, cs.authType)
	}
	switch c.version {
	case "":
		c.version = APIVersion20220601
	case APIVersion20220601, APIVersion20230701, APIVersion20241201, APIVersionV1:
	default:
		return nil, outErrorf(ErrInvalidArgument, "ClientOptions.APIVersion %q is unknown; use APIVersion20220601, APIVersion20230701, APIVersion20241201 or APIVersionV1", string(c.version))
	}
	if opts.AttemptTimeout < 0 {
		return nil, outErrorf(ErrInvalidArgument, "ClientOptions.AttemptTimeout is %v; use a positive limit, or zero for %v", opts.AttemptTimeout, DefaultAttemptTimeout)
	}
	if opts.Retry.BaseDelay < 0 || opts.Retry.MaxDelay < 0 {
		return nil, outErrorf(ErrInvalidArgument, "ClientOptions.Retry delays must not be negative; use zero for the defaults")
	}
	c.retry = opts.Retry.withDefaults()
	if c.timeout == 0 {
		c.timeout = DefaultAttemptTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "funcsignalr-go"
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: newTransport()}
	}
	switch opts.Transport {
	case "", TransportREST:
	case TransportPersistent:
		p, err := newPersistent(c, opts.Persistent)
		if err != nil {
			return nil, err
		}
		c.persist = p
	default:
		return nil, outErrorf(ErrInvalidArgument, "ClientOptions.Transport %q is unknown; use TransportREST or TransportPersistent", string(opts.Transport))
	}
	return c, nil
}

// NewClientFromConnectionString parses s (see ParseConnectionString) and
// returns a Client for it. opts may be nil.
func NewClientFromConnectionString(s string, opts *ClientOptions) (*Client, error) {
	cs, err := ParseConnectionString(s)
	if err != nil {
		return nil, err
	}
	return NewClient(cs, opts)
}

// newTransport returns the Client's own transport: http.DefaultTransport's
// settings with more idle connections kept per host.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: DefaultAttemptTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// CloseIdleConnections closes the idle connections of the Client's
// http.Client. The Client stays usable.
func (c *Client) CloseIdleConnections() {
	if c != nil && c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

// String describes the Client without secrets: its endpoint, API version
// and how it authenticates. The access key, fetched keys and cached tokens
// never appear in fmt output.
func (c *Client) String() string {
	if c != nil && c.multi != nil {
		return c.multi.String(c.version)
	}
	auth := "access key"
	if c.id != nil {
		auth = "microsoft entra id"
	}
	return "signalr.Client{endpoint: " + c.base + ", api: " + string(c.version) + ", auth: " + auth + "}"
}

// GoString is String, so that %#v hides the secrets too.
func (c *Client) GoString() string { return c.String() }

// SendMessageOptions tune SendMessage. Nil means the defaults.
type SendMessageOptions struct {
	// AtMostOnce stops the retries once an attempt may have reached the
	// service in full (sent and then not answered, or answered 500, 502
	// or 504), so the message is never applied twice; attempts that
	// certainly did not reach it (no connection, 408, 429, 503) are still
	// retried. The error then wraps ErrMaybeApplied. False means the
	// default retries, which may apply a message twice (see RetryOptions).
	AtMostOnce bool
}

// SendMessage sends m to its audience: ConnectionID, UserID, GroupName or,
// when none is set, every connection of hub (minus m.Excluded). The message
// is validated first; see Message.Validate. Its arguments are encoded when
// SendMessage is called. An error after an attempt that may have been
// applied wraps ErrMaybeApplied.
func (c *Client) SendMessage(ctx context.Context, hub string, m Message, opts *SendMessageOptions) error {
	if err := m.Validate(); err != nil {
		return err
	}
	body, err := encodeSendBody(m.Target, m.Arguments)
	if err != nil {
		return err
	}
	return c.sendEncoded(ctx, hub, &m, body, opts)
}

// sendEncoded is SendMessage for m, validated, with body its REST send
// body (encodeSendBody's).
func (c *Client) sendEncoded(ctx context.Context, hub string, m *Message, body []byte, opts *SendMessageOptions) error {
	a := routeArgs{hub: hub, excluded: m.Excluded}
	op := restapi.Broadcast
	switch {
	case m.ConnectionID != "":
		op, a.connection = restapi.SendToConnection, m.ConnectionID
	case m.UserID != "":
		op, a.user = restapi.SendToUser, m.UserID
	case m.GroupName != "":
		op, a.group = restapi.SendToGroup, m.GroupName
	}
	_, err := c.call(ctx, op, &a, body, callOpts{atMostOnce: opts != nil && opts.AtMostOnce, endpoints: m.Endpoints})
	return err
}

// ApplyGroupActionOptions tune ApplyGroupAction. There are none yet; nil is
// the value to pass.
type ApplyGroupActionOptions struct{}

// ApplyGroupAction applies a: add, remove or removeAll for a user or a
// connection. It is validated first; see GroupAction.Validate. removeAll
// with a ConnectionID removes that connection from all groups. Adding or
// removing a connection that no longer exists (404
// Error.Connection.NotExisted) is not an error, as in the service SDK.
func (c *Client) ApplyGroupAction(ctx context.Context, hub string, a GroupAction, _ *ApplyGroupActionOptions) error {
	if err := a.Validate(); err != nil {
		return err
	}
	action, _ := ParseGroupActionType(string(a.Action))
	args := routeArgs{hub: hub, user: a.UserID, connection: a.ConnectionID, group: a.GroupName}
	var op restapi.Op
	switch {
	case action == GroupActionAdd && a.UserID != "":
		op = restapi.AddUserToGroup
		if a.TTL > 0 {
			args.hasTTL, args.ttl = true, wholeSeconds(a.TTL)
		}
	case action == GroupActionAdd:
		op = restapi.AddConnectionToGroup
	case action == GroupActionRemove && a.UserID != "":
		op = restapi.RemoveUserFromGroup
	case action == GroupActionRemove:
		op = restapi.RemoveConnectionFromGroup
	case a.UserID != "":
		op = restapi.RemoveUserFromAllGroups
	default:
		op = restapi.RemoveConnectionFromAllGroups
	}
	_, err := c.call(ctx, op, &args, nil, callOpts{endpoints: a.Endpoints})
	return err
}

// BulkCloseOptions tune CloseAllConnections, CloseGroupConnections and
// CloseUserConnections, which close many connections at once. Nil means:
// close them all, with no reason. (CloseConnection, for one connection,
// takes CloseConnectionOptions.)
type BulkCloseOptions struct {
	// Excluded lists connection ids to leave open.
	Excluded []string
	// Reason is passed to the clients being closed.
	Reason string
}

// CloseConnectionOptions tune CloseConnection. Nil means no reason.
type CloseConnectionOptions struct {
	// Reason is passed to the client being closed.
	Reason string
}

// CloseAllConnections closes every connection of hub.
func (c *Client) CloseAllConnections(ctx context.Context, hub string, opts *BulkCloseOptions) error {
	return c.closeOp(ctx, restapi.CloseAll, routeArgs{hub: hub}, opts)
}

// CloseGroupConnections closes every connection in group.
func (c *Client) CloseGroupConnections(ctx context.Context, hub, group string, opts *BulkCloseOptions) error {
	return c.closeOp(ctx, restapi.CloseGroup, routeArgs{hub: hub, group: group}, opts)
}

// CloseUserConnections closes every connection of user.
func (c *Client) CloseUserConnections(ctx context.Context, hub, user string, opts *BulkCloseOptions) error {
	return c.closeOp(ctx, restapi.CloseUser, routeArgs{hub: hub, user: user}, opts)
}

// CloseConnection closes one connection. A connection that no longer
// exists (404 Warning.Connection.NotExisted) is not an error.
func (c *Client) CloseConnection(ctx context.Context, hub, connectionID string, opts *CloseConnectionOptions) error {
	var o BulkCloseOptions
	if opts != nil {
		o.Reason = opts.Reason
	}
	return c.closeOp(ctx, restapi.CloseConnection, routeArgs{hub: hub, connection: connectionID}, &o)
}

func (c *Client) closeOp(ctx context.Context, op restapi.Op, a routeArgs, opts *BulkCloseOptions) error {
	if opts != nil {
		a.excluded, a.reason = opts.Excluded, opts.Reason
	}
	if err := checkArgs(&a, op); err != nil {
		return err
	}
	_, err := c.do(ctx, op, &a, nil)
	return err
}

// ExistsOptions tune the existence checks. There are none yet; nil is the
// value to pass.
type ExistsOptions struct{}

// ConnectionExists reports whether the connection is connected to hub.
func (c *Client) ConnectionExists(ctx context.Context, hub, connectionID string, _ *ExistsOptions) (bool, error) {
	return c.exists(ctx, restapi.ConnectionExists, routeArgs{hub: hub, connection: connectionID})
}

// GroupExists reports whether group has at least one connection.
func (c *Client) GroupExists(ctx context.Context, hub, group string, _ *ExistsOptions) (bool, error) {
	return c.exists(ctx, restapi.GroupExists, routeArgs{hub: hub, group: group})
}

// UserExists reports whether user has at least one connection.
func (c *Client) UserExists(ctx context.Context, hub, user string, _ *ExistsOptions) (bool, error) {
	return c.exists(ctx, restapi.UserExists, routeArgs{hub: hub, user: user})
}

// UserInGroup reports whether user is in group.
func (c *Client) UserInGroup(ctx context.Context, hub, group, user string, _ *ExistsOptions) (bool, error) {
	return c.exists(ctx, restapi.UserInGroup, routeArgs{hub: hub, group: group, user: user})
}

// exists maps 200 to true and a 404 with the operation's not-existed code
// to false; a 404 with another code (say, from a wrong endpoint) is an
// error.
func (c *Client) exists(ctx context.Context, op restapi.Op, a routeArgs) (bool, error) {
	if err := checkArgs(&a, op); err != nil {
		return false, err
	}
	status, err := c.do(ctx, op, &a, nil)
	if err != nil {
		return false, err
	}
	return status != http.StatusNotFound, nil
}

// HealthOptions tune Healthy. There are none yet; nil is the value to pass.
type HealthOptions struct{}

// Healthy reports whether the service is healthy: true for a 2xx answer,
// false for 5xx. Any other answer, or a transport error, is an error. The
// probe is not retried.
func (c *Client) Healthy(ctx context.Context, _ *HealthOptions) (bool, error) {
	_, err := c.do(ctx, restapi.Health, &routeArgs{}, nil)
	if err == nil {
		return true, nil
	}
	var re *ResponseError
	if errors.As(err, &re) && re.StatusCode >= 500 {
		return false, nil
	}
	return false, err
}

// checkArgs validates the ids and lists op uses; do validates the hub, for
// every operation.
func checkArgs(a *routeArgs, op restapi.Op) error {
	spec := &restapi.Routes[op]
	if spec.Uses("group") {
		if err := validateGroup(a.group); err != nil {
			return err
		}
	}
	if spec.Uses("user") {
		if err := checkID("user id", a.user); err != nil {
			return err
		}
	}
	if spec.Uses("connection") {
		if err := checkID("connection id", a.connection); err != nil {
			return err
		}
	}
	for i, id := range a.excluded {
		if id == "" {
			return outErrorf(ErrInvalidArgument, "excluded[%d] is empty; list only connection ids", i)
		}
		if err := checkText(fmt.Sprintf("excluded[%d]", i), id); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
	}
	return nil
}

func checkID(what, id string) error {
	if id == "" {
		return outErrorf(ErrInvalidArgument, "%s is empty", what)
	}
	if err := checkText(what, id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return nil
}

// errNoClient is returned by the methods of a zero Client.
var errNoClient = fmt.Errorf("%w: the Client is empty; make it with NewClient", ErrInvalidConnectionString)
