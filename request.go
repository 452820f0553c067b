package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
	"github.com/funcsignalr/signalr/internal/textutil"
)

// do runs op with retries and returns the final status: 2xx, or 404 when
// the 404 is expected (see restapi.Route.NotFound). Any other outcome is an
// error, wrapping ErrMaybeApplied when an attempt may have been applied.
func (c *Client) do(ctx context.Context, op restapi.Op, a *routeArgs, body []byte) (int, error) {
	return c.call(ctx, op, a, body, callOpts{})
}

// doWith is do; with atMostOnce, it does not retry after an attempt that
// may have been applied.
func (c *Client) doWith(ctx context.Context, op restapi.Op, a *routeArgs, body []byte, atMostOnce bool) (int, error) {
	return c.call(ctx, op, a, body, callOpts{atMostOnce: atMostOnce})
}

// callOpts tune call: out receives a successful response's body (when not
// nil), timeout bounds each attempt instead of the Client's attempt
// timeout (when not zero), and atMostOnce stops retries after an attempt
// that may have been applied.
type callOpts struct {
	out        *[]byte
	timeout    time.Duration
	atMostOnce bool
	// endpoints, when not nil, are the endpoints an item goes to (its
	// "endpoints" property) instead of the Router's choice.
	endpoints []EndpointInfo
}

// call is do with options.
func (c *Client) call(ctx context.Context, op restapi.Op, a *routeArgs, body []byte, o callOpts) (int, error) {
	if c == nil || c.cs == nil || c.hc == nil {
		return 0, errNoClient
	}
	if c.multi != nil {
		if err := validateHub(a.hub); err != nil && op != restapi.Health {
			return 0, err
		}
		return c.multi.call(ctx, op, a, body, o, o.endpoints)
	}
	if o.endpoints != nil {
		if err := c.checkOnlyEndpoint(o.endpoints); err != nil {
			return 0, err
		}
	}
	if c.persist != nil {
		// The one place an operation picks the service connections.
		if status, err, handled := c.persist.do(ctx, op, a, body, o); handled {
			return status, err
		}
	}
	re, err := c.routeFor(op, a)
	if err != nil {
		return 0, err
	}
	return c.send(ctx, &restapi.Routes[op], re.aud, re.rawURL, body, o, re)
}

// routeFor returns the route of op with a: from the route cache when it
// was built before, else built (the hub validated, see buildRoute) and,
// unless it has a query besides the API version, cached.
func (c *Client) routeFor(op restapi.Op, a *routeArgs) (*routeEntry, error) {
	key, cacheable := routeKeyOf(op, a)
	if cacheable {
		c.routesMu.RLock()
		re, ok := c.routes[key]
		c.routesMu.RUnlock()
		if ok {
			return re, nil
		}
	}
	spec := &restapi.Routes[op]
	if spec.Uses("hub") {
		if err := validateHub(a.hub); err != nil {
			return nil, err
		}
	}
	aud, rawURL, ok := buildRoute(c.base, c.version, spec, a)
	if !ok {
		if spec.Since != "" {
			return nil, outErrorf(ErrUnsupportedOperation, "%s needs REST API %s or later and REST API v1 has no equivalent; use APIVersion20220601 or later", spec.Name, spec.Since)
		}
		return nil, outErrorf(ErrUnsupportedOperation, "%s has no route in REST API %s; use APIVersion20220601", spec.Name, c.version)
	}
	re := &routeEntry{aud: aud, rawURL: rawURL}
	if cacheable {
		c.routesMu.Lock()
		if c.routes == nil || len(c.routes) >= routeCacheSize {
			// Bounded: start again from this one route.
			c.routes = make(map[routeKey]*routeEntry)
		}
		c.routes[key] = re
		c.routesMu.Unlock()
	}
	return re, nil
}

// routeKey identifies a request URL that depends on nothing but the
// operation, the hub and its ids (no query besides the API version).
type routeKey struct {
	op                     restapi.Op
	hub, user, group, conn string
}

// routeEntry is a built route (see buildRoute) and the last token sent to
// it, so that a send to a user, group or connection seen before neither
// builds its URL nor looks up its token by the whole URL again.
type routeEntry struct {
	aud, rawURL string
	token       atomic.Pointer[cachedToken] // nil until the first attempt
}

// routeCacheSize bounds the route cache as tokenCacheSize does the tokens.
const routeCacheSize = 4096

// routeKeyOf returns the cache key of the request op with a, and whether
// it can be cached: not when it has a query (excluded ids, a reason, a
// TTL) or a stream.
func routeKeyOf(op restapi.Op, a *routeArgs) (routeKey, bool) {
	if len(a.excluded) != 0 || a.reason != "" || a.hasTTL || len(a.query) != 0 || a.stream != "" {
		return routeKey{}, false
	}
	return routeKey{op: op, hub: a.hub, user: a.user, group: a.group, conn: a.connection}, true
}

// send runs one request with retries; see call.
func (c *Client) send(ctx context.Context, spec *restapi.Route, aud, rawURL string, body []byte, o callOpts, re *routeEntry) (int, error) {
	maxRetries := c.retry.MaxRetries
	if spec.Kind == restapi.KindHealth || spec.Kind == restapi.KindInvoke {
		maxRetries = 0
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = c.timeout
	}
	maybeApplied := false
	for attempt := 1; ; attempt++ {
		status, retryAfter, sent, err := c.attempt(ctx, spec, rawURL, aud, body, o.out, timeout, re)
		if err == nil {
			return status, nil
		}
		maybeApplied = maybeApplied || sent
		if maybeApplied {
			err = maybeAppliedError{err}
		}
		retry := retryable(spec.Kind, status) && attempt <= maxRetries && !(o.atMostOnce && sent)
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
			return 0, fmt.Errorf("signalr: %s: %w after %d attempt(s); last attempt: %w", spec.Name, ctx.Err(), attempt, err)
		}
		if attempt > 1 {
			return 0, fmt.Errorf("signalr: %s failed after %d attempts: %w", spec.Name, attempt, err)
		}
		return 0, err
	}
}

// maybeAppliedError marks an error as one after which the request may have
// been applied. Its text is the error's: DeliveryError and the Client's
// messages say it in words where it matters.
type maybeAppliedError struct{ err error }

func (e maybeAppliedError) Error() string   { return e.err.Error() }
func (e maybeAppliedError) Unwrap() []error { return []error{e.err, ErrMaybeApplied} }

// Progress of writing one request, as httptrace reports it.
const (
	wroteNothing int32 = iota
	wroteHeaders
	wroteAll
	writeFailed
)

// writeTrace follows, through httptrace, how far the transport got in
// writing one attempt's request. They are pooled: a fresh one costs a
// ClientTrace and two closures per request.
type writeTrace struct {
	progress atomic.Int32
	trace    httptrace.ClientTrace
	pooled   bool // taken from writeTraces, untouched by other traces
}

var writeTraces = sync.Pool{New: func() any { return newWriteTrace() }}

func newWriteTrace() *writeTrace {
	wt := &writeTrace{}
	// The callbacks run on the transport's writer goroutine.
	wt.trace.WroteHeaders = func() { wt.progress.Store(wroteHeaders) }
	wt.trace.WroteRequest = func(info httptrace.WroteRequestInfo) {
		if info.Err != nil {
			wt.progress.Store(writeFailed)
		} else {
			wt.progress.Store(wroteAll)
		}
	}
	return wt
}

// getWriteTrace returns a writeTrace for a request with ctx. When ctx
// already carries a ClientTrace, httptrace chains it into ours, so that
// one is made fresh and never pooled.
func getWriteTrace(ctx context.Context) *writeTrace {
	if httptrace.ContextClientTrace(ctx) != nil {
		return newWriteTrace()
	}
	wt := writeTraces.Get().(*writeTrace)
	wt.progress.Store(wroteNothing)
	wt.pooled = true
	return wt
}

// load returns the progress (wroteNothing for nil).
func (wt *writeTrace) load() int32 {
	if wt == nil {
		return wroteNothing
	}
	return wt.progress.Load()
}

// release returns wt to the pool once the transport is done with it: after
// the response and WroteRequest both came, no callback of this request can
// follow. Otherwise (the transport may still be writing) it is left to the
// garbage collector.
func (wt *writeTrace) release() {
	if wt == nil {
		return
	}
	if p := wt.load(); wt.pooled && (p == wroteAll || p == writeFailed) {
		wt.pooled = false
		writeTraces.Put(wt)
	}
}

// maxResponseBody bounds a response body the Client reads (an Invoke
// result, a page of group members, a token).
const maxResponseBody = 16 << 20

// attempt sends one request through the http.Client, bounded as a whole
// by timeout (none when negative). It returns the status (0 after a transport
// error), the Retry-After wait the service asked for, whether the request
// may have been applied although it failed (it was sent in full and not
// answered, or answered 500, 502 or 504; when the transport cannot tell
// how far it got, any transport error counts), and an error unless the
// status is accepted. A successful response's body goes to out when out is
// not nil.
func (c *Client) attempt(ctx context.Context, spec *restapi.Route, rawURL, aud string, body []byte, out *[]byte, timeout time.Duration, route *routeEntry) (int, time.Duration, bool, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var wt *writeTrace
	if c.traced {
		wt = getWriteTrace(ctx)
		ctx = httptrace.WithClientTrace(ctx, &wt.trace)
	}
	req, err := c.newRequest(ctx, spec.Method, rawURL, len(aud), body)
	if err != nil {
		return 0, 0, false, fmt.Errorf("signalr: %s: %w", spec.Name, err)
	}
	bearer, err := c.bearerFor(ctx, aud, route)
	if err != nil {
		// No request went out; a credential that failed is not retried
		// here (status -1 is not retryable): it has its own retries.
		return -1, 0, false, err
	}
	// One backing array for the three header values.
	hv := [3]string{bearer, c.userAgent, "application/json; charset=utf-8"}
	req.Header["Authorization"] = hv[0:1:1]
	req.Header["User-Agent"] = hv[1:2:2]
	if body != nil {
		req.Header["Content-Type"] = hv[2:3:3]
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// Headers written but no word on the body yet counts as sent: the
		// transport may finish writing it after Do has returned.
		p := wt.load()
		return 0, 0, !c.traced || p == wroteHeaders || p == wroteAll, err
	}
	defer func() {
		resp.Body.Close()
		wt.release()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
			if err != nil {
				return 0, 0, false, fmt.Errorf("signalr: %s: reading the response: %w", spec.Name, err)
			}
			if len(data) > maxResponseBody {
				return resp.StatusCode, 0, false, fmt.Errorf("signalr: %s: the response body is larger than %d bytes", spec.Name, maxResponseBody)
			}
			*out = data
		} else if resp.ContentLength != 0 {
			// Drain a little so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		}
		return resp.StatusCode, 0, false, nil
	}
	re := readResponseError(resp, spec.Method, aud, bearer[len("Bearer "):])
	if resp.StatusCode == http.StatusNotFound && spec.NotFound != "" && re.ErrorCode == spec.NotFound {
		return http.StatusNotFound, 0, false, nil
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), outcomeUnknown(resp.StatusCode), re
}

// outcomeUnknown reports whether an answer with status leaves open whether
// the service applied the request: a 500 (the service also answers it when
// it timed out), or a gateway's 502 or 504 (the request may have been
// passed on). Other 4xx and 5xx answers, 408, 429 and 503 among them, say
// the request was not acted on.
func outcomeUnknown(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// isHTTPTransport reports whether rt is net/http's transport, which reports
// through httptrace how far it got in writing a request.
func isHTTPTransport(rt http.RoundTripper) bool {
	if rt == nil {
		return true
	}
	_, ok := rt.(*http.Transport)
	return ok
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
	// The empty URL the request was made with is reused.
	u := req.URL
	*u = url.URL{Scheme: c.scheme, Host: c.host, Path: path}
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
		// A NopCloser around a *bytes.Reader is what net/http knows to be
		// in memory: it writes the headers and the body in one write.
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req, nil
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

// bearer returns the Authorization header value for aud: the Microsoft
// Entra token in identity mode, else a token signed with the access key.
func (c *Client) bearer(ctx context.Context, aud string) (string, error) {
	if c.id != nil {
		return c.entraBearer(ctx)
	}
	t, err := c.accessToken(aud, time.Now())
	if err != nil {
		return "", err
	}
	return t.bearer, nil
}

// bearerFor is bearer for a request to the cached route re (nil for
// none): with the access key, the route's last token while it may be
// reused.
func (c *Client) bearerFor(ctx context.Context, aud string, re *routeEntry) (string, error) {
	if re == nil || c.id != nil {
		return c.bearer(ctx, aud)
	}
	now := time.Now()
	if t := re.token.Load(); t != nil && t.reusable(now) {
		return t.bearer, nil
	}
	t, err := c.accessToken(aud, now)
	if err != nil {
		return "", err
	}
	re.token.Store(t)
	return t.bearer, nil
}

// reusable reports whether t may still be sent at now.
func (t *cachedToken) reusable(now time.Time) bool {
	return now.Sub(t.minted) < tokenReuse && !now.Before(t.minted)
}

// accessToken returns a token for aud signed with the access key: the
// cached one while it may be reused, else a new one, cached.
func (c *Client) accessToken(aud string, now time.Time) (*cachedToken, error) {
	// The service checks these with its own clock: ClientOptions.Now does
	// not apply.
	if v, ok := c.tokens.Load(aud); ok {
		if t := v.(*cachedToken); t.reusable(now) {
			return t, nil
		}
	}
	tok, err := c.cs.serverToken(aud, now)
	if err != nil {
		return nil, err
	}
	t := &cachedToken{bearer: "Bearer " + tok, minted: now}
	if _, loaded := c.tokens.Swap(aud, t); !loaded && c.tokenCount.Add(1) > tokenCacheSize {
		// Bounded: start again from this one token.
		c.tokens.Clear()
		c.tokens.Store(aud, t)
		c.tokenCount.Store(1)
	}
	return t, nil
}

// readResponseError builds the ResponseError for resp, reading at most a
// few KiB of its body. Of a JSON body it keeps only what the REST API's
// ErrorDetail defines for people, code and message; of any other body, its
// text; of a 401 without either, WWW-Authenticate's error_description. Whatever it keeps goes through redactSecrets before it is cut to
// length, so that a server echoing the request's token (or anything shaped
// like a key or a JWT), in whatever encoding or shortened, does not get it
// into the error.
func readResponseError(resp *http.Response, method, url, token string) *ResponseError {
	re := &ResponseError{Method: method, URL: url, StatusCode: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	code, msg := resp.Header.Get("x-ms-error-code"), strings.TrimSpace(string(data))
	if json.Unmarshal(data, &body) == nil {
		if code == "" {
			code = body.Code
		}
		msg = body.Message
	}
	if msg == "" && resp.StatusCode == http.StatusUnauthorized {
		// A 401 without a body may say why in WWW-Authenticate, as the
		// emulator does on the access key route.
		msg = authErrorDescription(resp.Header.Get("WWW-Authenticate"))
	}
	msg = redactSecrets(msg, token)
	if len(msg) > maxErrorMessageLength {
		msg = strings.ToValidUTF8(msg[:maxErrorMessageLength], "") + "…"
	}
	re.ErrorCode = textutil.Truncate(redactSecrets(code, token), maxEchoedChars)
	re.Message = msg
	return re
}
