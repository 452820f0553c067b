package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultAttemptTimeout is the per-attempt limit when
// ClientOptions.AttemptTimeout is zero. With the Client's own transport it
// bounds each phase of an attempt (connecting, TLS, waiting for the response
// headers, reading the body) separately; with ClientOptions.HTTPClient it
// bounds the whole attempt. Writing the request body is bounded only by the
// caller's context.
const DefaultAttemptTimeout = 30 * time.Second

// ClientOptions tune a Client. The nil value means: the 2022-06-01 API, the
// Client's own connection pool, the default RetryOptions and a 30s limit
// per attempt.
type ClientOptions struct {
	// HTTPClient sends the requests. Nil means a client with its own
	// http.Transport, tuned to keep up to 64 idle connections to the
	// service open for reuse. Its Timeout, if any, applies per attempt on
	// top of AttemptTimeout.
	HTTPClient *http.Client
	// APIVersion selects the REST routes; "" means APIVersion20220601.
	APIVersion APIVersion
	// Retry tunes retries of transient failures; see RetryOptions.
	Retry RetryOptions
	// AttemptTimeout bounds each attempt, so a hung connection is retried
	// rather than waited on. With the Client's own transport it bounds
	// connecting, the TLS handshake, the wait for the response headers and
	// the reading of the response body, each separately (net/http's
	// Transport timeouts, which cost nothing per request); with HTTPClient
	// it bounds the whole attempt through the request's context. Zero means
	// DefaultAttemptTimeout; a negative value means no limit beyond the
	// caller's context.
	AttemptTimeout time.Duration
	// UserAgent is sent as the User-Agent header; "" means
	// "funcsignalr-go".
	UserAgent string
}

// Client calls the SignalR Service data-plane REST API for one connection
// string. Make one per connection string and share it: it is safe for
// concurrent use and reuses connections. Every request carries a bearer
// token (HS256 with the access key, aud = request URL without query, five
// minutes' lifetime), minted for its URL and reused for that URL for up to
// a minute.
//
// Methods take the hub first, then the ids the route needs; hub names are
// validated and lower-cased, and every id is escaped as one path segment,
// so any string reaches exactly its own route.
type Client struct {
	cs        *ConnectionString
	scheme    string
	host      string
	base      string // scheme://host
	hc        *http.Client
	own       *http.Transport
	version   APIVersion
	retry     RetryOptions
	timeout   time.Duration
	userAgent string

	tokenMu sync.Mutex
	tokens  map[string]cachedToken

	// sleep waits between attempts; tests replace it to observe waits.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewClient returns a Client for cs, which must come from
// ParseConnectionString (or a binding). opts may be nil.
func NewClient(cs *ConnectionString, opts *ClientOptions) *Client {
	if opts == nil {
		opts = &ClientOptions{}
	}
	c := &Client{
		cs:        cs,
		version:   opts.APIVersion,
		retry:     opts.Retry.withDefaults(),
		timeout:   opts.AttemptTimeout,
		userAgent: opts.UserAgent,
		hc:        opts.HTTPClient,
		tokens:    make(map[string]cachedToken),
		sleep:     sleepCtx,
	}
	if cs != nil && cs.ServerEndpoint != nil {
		c.scheme, c.host = cs.ServerEndpoint.Scheme, cs.ServerEndpoint.Host
		c.base = c.scheme + "://" + c.host
	}
	if c.version == "" {
		c.version = APIVersion20220601
	}
	if c.timeout == 0 {
		c.timeout = DefaultAttemptTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "funcsignalr-go"
	}
	if c.hc == nil {
		c.own = newTransport(c.timeout)
		c.hc = &http.Client{Transport: c.own}
	}
	return c
}

// newTransport returns the Client's own transport. attemptTimeout (when
// positive) bounds connecting, the TLS handshake and the wait for response
// headers, each on its own: net/http's own timeouts do the job of a
// per-request context timer without its cost on every request.
func newTransport(attemptTimeout time.Duration) *http.Transport {
	phase := attemptTimeout
	if phase <= 0 {
		phase = DefaultAttemptTimeout
	}
	d := &net.Dialer{Timeout: phase, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   phase,
		ExpectContinueTimeout: time.Second,
	}
	if attemptTimeout > 0 {
		t.ResponseHeaderTimeout = attemptTimeout
	}
	return t
}

// CloseIdleConnections closes the idle connections of the Client's own
// transport (or calls CloseIdleConnections on ClientOptions.HTTPClient).
// The Client stays usable.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// String describes the Client without secrets: its endpoint and API
// version. The access key and cached tokens never appear in fmt output.
func (c *Client) String() string {
	return "signalr.Client{endpoint: " + c.base + ", api: " + string(c.version) + "}"
}

// GoString is String, so that %#v hides the secrets too.
func (c *Client) GoString() string { return c.String() }

// APIVersion returns the REST API version the Client calls.
func (c *Client) APIVersion() APIVersion { return c.version }

// SendMessage sends m to its audience: ConnectionID, UserID, GroupName or,
// when none is set, every connection of hub (minus m.Excluded). The message
// is validated first; see Message.Validate.
func (c *Client) SendMessage(ctx context.Context, hub string, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	body, err := encodeSendBody(m.Target, m.Arguments)
	if err != nil {
		return err
	}
	return c.sendEncoded(ctx, hub, &m, body)
}

// sendEncoded sends a validated message whose body is already encoded.
func (c *Client) sendEncoded(ctx context.Context, hub string, m *Message, body []byte) error {
	a := routeArgs{hub: hub, excluded: m.Excluded}
	op := opBroadcast
	switch {
	case m.ConnectionID != "":
		op, a.connection = opSendToConnection, m.ConnectionID
	case m.UserID != "":
		op, a.user = opSendToUser, m.UserID
	case m.GroupName != "":
		op, a.group = opSendToGroup, m.GroupName
	}
	_, err := c.do(ctx, op, &a, body)
	return err
}

// SendToAll invokes target with args on every connection of hub except the
// excluded connection ids.
func (c *Client) SendToAll(ctx context.Context, hub, target string, args []any, excluded ...string) error {
	return c.SendMessage(ctx, hub, Message{Target: target, Arguments: args, Excluded: excluded})
}

// SendToUser invokes target with args on every connection of user.
func (c *Client) SendToUser(ctx context.Context, hub, user, target string, args []any) error {
	if err := checkID("user id", user); err != nil {
		return err
	}
	return c.SendMessage(ctx, hub, Message{Target: target, Arguments: args, UserID: user})
}

// SendToGroup invokes target with args on every connection in group except
// the excluded connection ids.
func (c *Client) SendToGroup(ctx context.Context, hub, group, target string, args []any, excluded ...string) error {
	if err := validateGroup(group); err != nil {
		return err
	}
	return c.SendMessage(ctx, hub, Message{Target: target, Arguments: args, GroupName: group, Excluded: excluded})
}

// SendToConnection invokes target with args on one connection.
func (c *Client) SendToConnection(ctx context.Context, hub, connectionID, target string, args []any) error {
	if err := checkID("connection id", connectionID); err != nil {
		return err
	}
	return c.SendMessage(ctx, hub, Message{Target: target, Arguments: args, ConnectionID: connectionID})
}

// ApplyGroupAction applies a: add, remove or removeAll for a user or a
// connection. It is validated first; see GroupAction.Validate. removeAll
// with a ConnectionID removes that connection from all groups.
func (c *Client) ApplyGroupAction(ctx context.Context, hub string, a GroupAction) error {
	if err := a.Validate(); err != nil {
		return err
	}
	action, _ := ParseGroupActionType(string(a.Action))
	args := routeArgs{hub: hub, user: a.UserID, connection: a.ConnectionID, group: a.GroupName}
	var op opID
	switch {
	case action == GroupActionAdd && a.UserID != "":
		op = opAddUserToGroup
		if a.TTL > 0 {
			args.hasTTL, args.ttl = true, int64(a.TTL/time.Second)
		}
	case action == GroupActionAdd:
		op = opAddConnectionToGroup
	case action == GroupActionRemove && a.UserID != "":
		op = opRemoveUserFromGroup
	case action == GroupActionRemove:
		op = opRemoveConnectionFromGroup
	case a.UserID != "":
		op = opRemoveUserFromAllGroups
	default:
		op = opRemoveConnectionFromAllGroups
	}
	_, err := c.do(ctx, op, &args, nil)
	return err
}

// AddConnectionToGroup adds a connection to group. A connection that no
// longer exists (404 Error.Connection.NotExisted) is not an error, as in the
// service SDK.
func (c *Client) AddConnectionToGroup(ctx context.Context, hub, group, connectionID string) error {
	return c.groupOp(ctx, opAddConnectionToGroup, routeArgs{hub: hub, group: group, connection: connectionID})
}

// RemoveConnectionFromGroup removes a connection from group.
func (c *Client) RemoveConnectionFromGroup(ctx context.Context, hub, group, connectionID string) error {
	return c.groupOp(ctx, opRemoveConnectionFromGroup, routeArgs{hub: hub, group: group, connection: connectionID})
}

// RemoveConnectionFromAllGroups removes a connection from every group.
func (c *Client) RemoveConnectionFromAllGroups(ctx context.Context, hub, connectionID string) error {
	return c.groupOp(ctx, opRemoveConnectionFromAllGroups, routeArgs{hub: hub, connection: connectionID})
}

// AddUserToGroupOptions tune AddUserToGroup. Nil means no TTL.
type AddUserToGroupOptions struct {
	// TTL, when non-nil, is how long the membership lasts, in whole
	// seconds (the REST ttl query). A TTL of zero adds only the user's
	// current connections, as the service defines it. Nil means no limit
	// beyond the service's own (up to a year).
	TTL *time.Duration
}

// AddUserToGroup adds user (all of its connections, present and future) to
// group.
func (c *Client) AddUserToGroup(ctx context.Context, hub, group, user string, opts *AddUserToGroupOptions) error {
	a := routeArgs{hub: hub, group: group, user: user}
	if opts != nil && opts.TTL != nil {
		if *opts.TTL < 0 {
			return outErrorf(ErrInvalidArgument, "ttl %v is negative; use zero or more", *opts.TTL)
		}
		if *opts.TTL > 0 && *opts.TTL < time.Second {
			// Truncated to 0 it would mean "current connections only".
			return outErrorf(ErrInvalidArgument, "ttl %v is under a second; the service counts whole seconds, so use 1s or more (or 0 for current connections only)", *opts.TTL)
		}
		a.hasTTL, a.ttl = true, int64(*opts.TTL/time.Second)
	}
	return c.groupOp(ctx, opAddUserToGroup, a)
}

// RemoveUserFromGroup removes user from group.
func (c *Client) RemoveUserFromGroup(ctx context.Context, hub, group, user string) error {
	return c.groupOp(ctx, opRemoveUserFromGroup, routeArgs{hub: hub, group: group, user: user})
}

// RemoveUserFromAllGroups removes user from every group.
func (c *Client) RemoveUserFromAllGroups(ctx context.Context, hub, user string) error {
	return c.groupOp(ctx, opRemoveUserFromAllGroups, routeArgs{hub: hub, user: user})
}

func (c *Client) groupOp(ctx context.Context, op opID, a routeArgs) error {
	if err := checkArgs(&a, op); err != nil {
		return err
	}
	_, err := c.do(ctx, op, &a, nil)
	return err
}

// CloseOptions tune the close operations. Nil means: close them all, with
// no reason.
type CloseOptions struct {
	// Excluded lists connection ids to leave open.
	Excluded []string
	// Reason is passed to the clients being closed.
	Reason string
}

// CloseAllConnections closes every connection of hub.
func (c *Client) CloseAllConnections(ctx context.Context, hub string, opts *CloseOptions) error {
	return c.closeOp(ctx, opCloseAll, routeArgs{hub: hub}, opts)
}

// CloseGroupConnections closes every connection in group.
func (c *Client) CloseGroupConnections(ctx context.Context, hub, group string, opts *CloseOptions) error {
	return c.closeOp(ctx, opCloseGroup, routeArgs{hub: hub, group: group}, opts)
}

// CloseUserConnections closes every connection of user.
func (c *Client) CloseUserConnections(ctx context.Context, hub, user string, opts *CloseOptions) error {
	return c.closeOp(ctx, opCloseUser, routeArgs{hub: hub, user: user}, opts)
}

// CloseConnection closes one connection, telling the client reason (which
// may be empty). A connection that no longer exists (404
// Warning.Connection.NotExisted) is not an error.
func (c *Client) CloseConnection(ctx context.Context, hub, connectionID, reason string) error {
	return c.closeOp(ctx, opCloseConnection, routeArgs{hub: hub, connection: connectionID}, &CloseOptions{Reason: reason})
}

func (c *Client) closeOp(ctx context.Context, op opID, a routeArgs, opts *CloseOptions) error {
	if opts != nil {
		a.excluded, a.reason = opts.Excluded, opts.Reason
	}
	if err := checkArgs(&a, op); err != nil {
		return err
	}
	_, err := c.do(ctx, op, &a, nil)
	return err
}

// ConnectionExists reports whether the connection is connected to hub.
func (c *Client) ConnectionExists(ctx context.Context, hub, connectionID string) (bool, error) {
	return c.exists(ctx, opConnectionExists, routeArgs{hub: hub, connection: connectionID})
}

// GroupExists reports whether group has at least one connection.
func (c *Client) GroupExists(ctx context.Context, hub, group string) (bool, error) {
	return c.exists(ctx, opGroupExists, routeArgs{hub: hub, group: group})
}

// UserExists reports whether user has at least one connection.
func (c *Client) UserExists(ctx context.Context, hub, user string) (bool, error) {
	return c.exists(ctx, opUserExists, routeArgs{hub: hub, user: user})
}

// UserInGroup reports whether user is in group.
func (c *Client) UserInGroup(ctx context.Context, hub, group, user string) (bool, error) {
	return c.exists(ctx, opUserInGroup, routeArgs{hub: hub, group: group, user: user})
}

// exists maps 200 to true and a 404 with the operation's not-existed code
// to false; a 404 with another code (say, from a wrong endpoint) is an
// error.
func (c *Client) exists(ctx context.Context, op opID, a routeArgs) (bool, error) {
	if err := checkArgs(&a, op); err != nil {
		return false, err
	}
	status, err := c.do(ctx, op, &a, nil)
	if err != nil {
		return false, err
	}
	return status != http.StatusNotFound, nil
}

// Healthy reports whether the service is healthy: true for a 2xx answer,
// false for 5xx. Any other answer, or a transport error, is an error. The
// probe is not retried.
func (c *Client) Healthy(ctx context.Context) (bool, error) {
	_, err := c.do(ctx, opHealth, &routeArgs{}, nil)
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
func checkArgs(a *routeArgs, op opID) error {
	spec := &ops[op]
	if strings.Contains(spec.v2022, "{group}") {
		if err := validateGroup(a.group); err != nil {
			return err
		}
	}
	if strings.Contains(spec.v2022, "{user}") {
		if err := checkID("user id", a.user); err != nil {
			return err
		}
	}
	if strings.Contains(spec.v2022, "{connection}") {
		if err := checkID("connection id", a.connection); err != nil {
			return err
		}
	}
	for i, id := range a.excluded {
		if id == "" {
			return outErrorf(ErrInvalidArgument, "excluded[%d] is empty; list only connection ids", i)
		}
	}
	return nil
}

func checkID(what, id string) error {
	if id == "" {
		return outErrorf(ErrInvalidArgument, "%s is empty", what)
	}
	return nil
}

// do runs op with retries and returns the final status: 2xx, or 404 when
// the 404 is expected (see opSpec.notFound). Any other outcome is an error.
func (c *Client) do(ctx context.Context, op opID, a *routeArgs, body []byte) (int, error) {
	spec := &ops[op]
	if op != opHealth {
		if err := validateHub(a.hub); err != nil {
			return 0, err
		}
	}
	if c.cs == nil || c.cs.signer == nil || c.base == "" {
		return 0, outErrorf(ErrInvalidConnectionString, "the Client has no usable connection string; make it with ParseConnectionString")
	}
	aud, rawURL, ok := buildRoute(c.base, c.version, spec, a)
	if !ok {
		return 0, outErrorf(ErrUnsupportedOperation, "%s has no route in REST API %s; use APIVersion20220601", spec.name, c.version)
	}
	maxRetries := c.retry.MaxRetries
	if spec.kind == kindHealth {
		maxRetries = 0
	}
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := c.attempt(ctx, spec, rawURL, aud, body)
		if err == nil {
			return status, nil
		}
		retry := retryable(spec.kind, status) && attempt <= maxRetries
		if retry && ctx.Err() == nil {
			wait := c.retry.backoff(attempt)
			if retryAfter > 0 {
				wait = min(retryAfter, c.retry.MaxDelay)
			}
			if serr := c.sleep(ctx, wait); serr == nil {
				continue
			}
		}
		if retry && !isContextError(ctx, err) {
			// The caller's context ended while a retry was due: report
			// both, so errors.Is finds the cancellation and errors.As the
			// last response.
			return 0, fmt.Errorf("signalr: %s: %w after %d attempt(s); last attempt: %w", spec.name, ctx.Err(), attempt, err)
		}
		if attempt > 1 {
			return 0, fmt.Errorf("signalr: %s failed after %d attempts: %w", spec.name, attempt, err)
		}
		return 0, err
	}
}

// attempt sends one request. It returns the status (0 after a transport
// error), the Retry-After wait the service asked for, and an error unless the
// status is accepted.
func (c *Client) attempt(ctx context.Context, spec *opSpec, rawURL, aud string, body []byte) (int, time.Duration, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 && c.own == nil {
		actx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()
	req, err := c.newRequest(actx, spec.method, rawURL, len(aud), body)
	if err != nil {
		return 0, 0, fmt.Errorf("signalr: %s: %w", spec.name, err)
	}
	bearer := c.bearer(aud)
	hv := [3]string{bearer, c.userAgent, "application/json; charset=utf-8"}
	req.Header["Authorization"] = hv[0:1:1]
	req.Header["User-Agent"] = hv[1:2:2]
	if body != nil {
		req.Header["Content-Type"] = hv[2:3:3]
	}
	token := bearer[len("Bearer "):]
	var resp *http.Response
	if c.own != nil {
		// Our own transport: skip http.Client's redirect and cookie
		// machinery (the REST API does not redirect) and its per-request
		// header copy.
		resp, err = c.own.RoundTrip(req)
		if err != nil {
			err = &url.Error{Op: urlErrorOp(spec.method), URL: rawURL, Err: err}
		}
	} else {
		resp, err = c.hc.Do(req)
	}
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if c.own != nil && c.timeout > 0 && resp.ContentLength != 0 {
		// Our transport's timeouts end at the headers; bound the body.
		stop := time.AfterFunc(c.timeout, func() { resp.Body.Close() })
		defer stop.Stop()
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if resp.ContentLength != 0 {
			// Drain a little so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		}
		return resp.StatusCode, 0, nil
	}
	re := readResponseError(resp, spec.method, aud, token)
	if resp.StatusCode == http.StatusNotFound && spec.notFound != "" && re.ErrorCode == spec.notFound {
		return http.StatusNotFound, 0, nil
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), re
}

// newRequest makes the request for rawURL, whose first audLen bytes are
// c.base and the escaped path. The URL is assembled from parts we built
// rather than parsed again: the path goes on the wire exactly as escaped.
func (c *Client) newRequest(ctx context.Context, method, rawURL string, audLen int, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return nil, err
	}
	path := rawURL[len(c.base):audLen]
	u := &url.URL{Scheme: c.scheme, Host: c.host, Path: path}
	if audLen < len(rawURL) {
		u.RawQuery = rawURL[audLen+1:]
	}
	if strings.IndexByte(path, '%') >= 0 {
		if u.Path, err = url.PathUnescape(path); err != nil {
			return nil, err
		}
		u.RawPath = path
	}
	req.URL, req.Host = u, c.host
	if body != nil {
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req, nil
}

// urlErrorOp is what http.Client puts in url.Error.Op: "Post", "Get", ...
func urlErrorOp(method string) string {
	return method[:1] + strings.ToLower(method[1:])
}

// Tokens are cached per audience for tokenReuse: a REST token lives five
// minutes, so a reused one has at least four left, and signing one per
// request costs more than the rest of the client's work. The cache is
// emptied when it reaches tokenCacheSize entries.
const (
	tokenReuse     = time.Minute
	tokenCacheSize = 4096
)

type cachedToken struct {
	bearer string // "Bearer " + token
	minted time.Time
}

// bearer returns the Authorization header value for aud.
func (c *Client) bearer(aud string) string {
	now := time.Now()
	c.tokenMu.Lock()
	t, ok := c.tokens[aud]
	c.tokenMu.Unlock()
	if ok && now.Sub(t.minted) < tokenReuse && !now.Before(t.minted) {
		return t.bearer
	}
	bearer := "Bearer " + c.cs.serverToken(aud, now)
	c.tokenMu.Lock()
	if len(c.tokens) >= tokenCacheSize {
		clear(c.tokens)
	}
	c.tokens[aud] = cachedToken{bearer, now}
	c.tokenMu.Unlock()
	return bearer
}

// readResponseError builds the ResponseError for resp, reading at most a
// few KiB of its body. A server that echoes the request's token back does
// not get it into the error: it is replaced by "[token]".
func readResponseError(resp *http.Response, method, url, token string) *ResponseError {
	re := &ResponseError{Method: method, URL: url, StatusCode: resp.StatusCode, ErrorCode: resp.Header.Get("x-ms-error-code")}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &body) == nil {
		if re.ErrorCode == "" {
			re.ErrorCode = body.Code
		}
		if body.Message != "" {
			msg = body.Message
		}
	}
	msg = strings.ReplaceAll(msg, token, "[token]")
	if len(msg) > maxErrorMessageLength {
		msg = strings.ToValidUTF8(msg[:maxErrorMessageLength], "") + "…"
	}
	re.ErrorCode = truncateForError(strings.ReplaceAll(re.ErrorCode, token, "[token]"))
	re.Message = msg
	return re
}
