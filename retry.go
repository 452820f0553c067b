package signalr

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// Retry defaults, used where RetryOptions leaves a field zero.
const (
	// DefaultMaxRetries is how many times a failed request is retried.
	DefaultMaxRetries = 3
	// DefaultRetryBaseDelay is the wait before the first retry; it doubles
	// for each further retry.
	DefaultRetryBaseDelay = 200 * time.Millisecond
	// DefaultRetryMaxDelay caps the wait between two attempts, including a
	// wait the service asks for with Retry-After.
	DefaultRetryMaxDelay = 10 * time.Second
)

// RetryOptions tune how a Client retries transient failures. The zero value
// means the defaults: 3 retries, 200ms doubling to at most 10s, with jitter.
//
// A request is retried after a transport error (connection refused or reset,
// per-attempt timeout), or a 408, 429, 502, 503 or 504 response. A plain 500
// is retried only for group, close and existence operations: the service
// also answers 500 when it timed out, so a message it answered 500 to may
// have been delivered, and resending it could deliver it twice. (A message
// whose attempt timed out on our side is retried, and has the same risk.)
// Waits honour Retry-After (seconds or an HTTP date) and end early when the
// caller's context is done.
//
// What a failure means for delivery: an attempt that failed before the
// request was written in full (no connection, a write error), or that the
// service answered 408, 429, 503 or another 4xx, was not applied, and
// retrying it cannot apply anything twice. Once a request has been written
// in full, a failure without an answer (a reset, a timeout while waiting)
// or an answer of 500, 502 or 504 leaves the outcome unknown: the service
// may have applied it. By default such attempts are retried (a send
// answered 500 excepted), so a message the retries get through is applied
// at least once and possibly twice. With SendMessageOptions.AtMostOnce
// (OutputOptions.AtMostOnce for a Collector) a send is not retried once it
// may have been applied, so it is applied at most once. Either way, an
// error after an attempt that may have been applied wraps ErrMaybeApplied
// and a Collector reports it with DeliveryError.MaybeApplied, so a caller
// can tell "not applied: safe to resend" from "may have been applied:
// resending may duplicate". Group actions and closes are idempotent and
// always retried.
type RetryOptions struct {
	// MaxRetries is the number of retries after the first attempt. Zero
	// means DefaultMaxRetries; a negative value disables retries.
	MaxRetries int
	// BaseDelay is the wait before the first retry; the n-th retry waits
	// BaseDelay·2^(n-1), at most MaxDelay, with "equal jitter" (a random
	// point in the upper half of that wait). Zero means
	// DefaultRetryBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps every wait, including one asked for by Retry-After.
	// Zero means DefaultRetryMaxDelay.
	MaxDelay time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultRetryBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultRetryMaxDelay
	}
	if o.BaseDelay > o.MaxDelay {
		o.BaseDelay = o.MaxDelay
	}
	return o
}

// backoff returns the wait before retry number n (1-based).
func (o RetryOptions) backoff(n int) time.Duration {
	d := o.BaseDelay
	for i := 1; i < n && d < o.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, o.MaxDelay)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryable reports whether an attempt that ended with status (0 for a
// transport error) may be retried for an operation of kind.
func retryable(kind restapi.Kind, status int) bool {
	switch status {
	case 0, http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusInternalServerError:
		return kind != restapi.KindSend
	}
	return false
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. It returns 0 when the header is absent, malformed or in the past.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// sleepCtx waits for d or until ctx is done, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isContextError reports whether err is the caller's cancellation.
func isContextError(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err()))
}
