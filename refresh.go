package signalr

import (
	"context"
	"sync"
	"time"
)

// renewing holds one value that must be fetched and renewed from time to
// time: the Microsoft Entra token REST calls carry, or the key client
// tokens are signed with. It follows azcore's bearer-token policy:
//
//   - while the value is fresh, everybody uses it;
//   - once it is due for renewal but still usable, the first caller to
//     notice renews it in its own goroutine while every other caller goes on
//     using the current value, so concurrent calls never wait;
//   - when there is no usable value, one caller fetches and the others wait
//     for that fetch, each bounded by its own context.
//
// After a failed fetch no new attempt starts before retryAfter has passed;
// a fetch that failed because the caller's own context ended does not count
// as a failure.
type renewing[T any] struct {
	now   func() time.Time
	fetch func(ctx context.Context) (v T, renewAt, expiresAt time.Time, err error)
	// retryAfter is the pause after a failed fetch while a usable value
	// remains (keepBackoff), and after one while none does (emptyBackoff).
	keepBackoff, emptyBackoff time.Duration
	// unusable builds the error for a caller that finds no usable value
	// inside the back-off after a failure.
	unusable func(st renewState) error

	mu     sync.Mutex
	st     renewState
	val    T
	flight chan struct{} // closed when the running fetch ends; nil if none
}

// renewState is what a renewing value knows about its fetches, for errors.
type renewState struct {
	have        bool
	renewAt     time.Time // fetch a new value from then on
	expiresAt   time.Time // the value is unusable from then on
	lastSuccess time.Time
	lastFailure time.Time
	lastErr     error
	retryAt     time.Time // no attempt before then, after a failure
}

// get returns a usable value, fetching or renewing it as described on
// renewing.
func (r *renewing[T]) get(ctx context.Context) (T, error) {
	for {
		r.mu.Lock()
		now := r.now()
		if r.st.have && now.Before(r.st.expiresAt) {
			v := r.val
			due := !now.Before(r.st.renewAt) && r.flight == nil && !now.Before(r.st.retryAt)
			if due {
				r.flight = make(chan struct{})
			}
			r.mu.Unlock()
			if due {
				if nv, err := r.run(ctx); err == nil {
					return nv, nil
				}
				// A failed renewal is recorded; the value is still usable.
			}
			return v, nil
		}
		if ch := r.flight; ch != nil {
			r.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				var zero T
				return zero, context.Cause(ctx)
			}
		}
		if r.st.lastErr != nil && now.Before(r.st.retryAt) {
			st := r.st
			r.mu.Unlock()
			var zero T
			return zero, r.unusable(st)
		}
		r.flight = make(chan struct{})
		r.mu.Unlock()
		// The caller that fetches uses what it got, even a value that is
		// already past its renewal time.
		return r.run(ctx)
	}
}

// run performs one fetch (r.flight is set by the caller) and records its
// outcome.
func (r *renewing[T]) run(ctx context.Context) (T, error) {
	v, renewAt, expiresAt, err := r.fetch(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.flight)
	r.flight = nil
	now := r.now()
	switch {
	case err == nil:
		r.val = v
		r.st.have, r.st.renewAt, r.st.expiresAt = true, renewAt, expiresAt
		r.st.lastSuccess, r.st.lastErr, r.st.retryAt = now, nil, time.Time{}
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about the service.
	default:
		r.st.lastFailure, r.st.lastErr = now, err
		if r.st.have && now.Before(r.st.expiresAt) {
			r.st.retryAt = now.Add(r.keepBackoff)
		} else {
			r.st.retryAt = now.Add(r.emptyBackoff)
		}
	}
	return v, err
}
