package signalr

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hijackReset closes the connection without an answer, as a reset would.
func hijackReset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST instead of FIN
	}
	_ = conn.Close()
}

func TestClientRetries(t *testing.T) {
	t.Parallel()
	type step func(w http.ResponseWriter)
	status := func(code int, hdr ...string) step {
		return func(w http.ResponseWriter) {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(code)
		}
	}
	reset := step(hijackReset)
	ok := status(http.StatusAccepted)
	tests := []struct {
		name      string
		steps     []step
		call      func(c *Client) error
		wantCalls int
		wantErr   int // status of the final ResponseError; 0 means success, -1 a transport error
	}{
		{"429 with Retry-After then delivered", []step{status(429, "Retry-After", "0"), ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil)
			}, 2, 0},
		{"503 twice then delivered", []step{status(503), status(503), ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil, UserID: "u"}, nil)
			}, 3, 0},
		{"502, 504, 408 then delivered", []step{status(502), status(504), status(408), ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil, GroupName: "g"}, nil)
			}, 4, 0},
		{"connection reset then delivered", []step{reset, ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil, ConnectionID: "c"}, nil)
			}, 2, 0},
		{"503 until retries run out", []step{status(503), status(503), status(503), status(503), ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil)
			}, 4, 503},
		{"resets until retries run out", []step{reset, reset, reset, reset, ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil)
			}, 4, -1},
		{"send is not retried on 500", []step{status(500), ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil)
			}, 1, 500},
		{"group op is retried on 500", []step{status(500), status(200)},
			func(c *Client) error {
				return c.ApplyGroupAction(context.Background(), "chat", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g"}, nil)
			}, 2, 0},
		{"close is retried on 500", []step{status(500), status(204)},
			func(c *Client) error { return c.CloseAllConnections(context.Background(), "chat", nil) }, 2, 0},
		{"400 is not retried", []step{status(400), ok},
			func(c *Client) error {
				return c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil)
			}, 1, 400},
		{"401 is not retried", []step{status(401), ok},
			func(c *Client) error {
				return c.ApplyGroupAction(context.Background(), "chat", GroupAction{Action: GroupActionRemoveAll, UserID: "u"}, nil)
			}, 1, 401},
		{"health is not retried", []step{status(503), ok},
			func(c *Client) error {
				healthy, err := c.Healthy(context.Background(), nil)
				if err == nil && healthy {
					return errors.New("healthy on 503")
				}
				return err
			}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
				tt.steps[min(n, len(tt.steps)-1)](w)
			})
			c := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry()})
			defer c.CloseIdleConnections()
			err := tt.call(c)
			assert.Len(t, rr.requests(), tt.wantCalls)
			switch tt.wantErr {
			case 0:
				assert.NoError(t, err)
			case -1:
				require.Error(t, err)
				var re *ResponseError
				assert.False(t, errors.As(err, &re))
				assert.Contains(t, err.Error(), "after 4 attempts")
			default:
				var re *ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.wantErr, re.StatusCode)
				if tt.wantCalls > 1 {
					assert.Contains(t, err.Error(), "after 4 attempts")
				}
			}
			for _, s := range rr.requests() {
				assert.NoError(t, s.TokenErr, "every attempt carries a valid token")
			}
		})
	}
}

func TestClientRetryAttemptTimeout(t *testing.T) {
	t.Parallel()
	t.Run("own transport", func(t *testing.T) { testAttemptTimeout(t, nil) })
	t.Run("HTTPClient", func(t *testing.T) {
		hc := &http.Client{Transport: &http.Transport{}}
		defer hc.CloseIdleConnections()
		testAttemptTimeout(t, hc)
	})
}

func testAttemptTimeout(t *testing.T, hc *http.Client) {
	release := make(chan struct{})
	defer close(release)
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		if n == 0 {
			select { // hang until the client gives up on the attempt
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	c := mustClient(t, rr.cs, &ClientOptions{HTTPClient: hc, Retry: fastRetry(), AttemptTimeout: 50 * time.Millisecond})
	defer c.CloseIdleConnections()
	require.NoError(t, c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: []any{1}}, nil))
	reqs := rr.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Body, reqs[1].Body, "the retry resends the same body")
}

// cancelAfterResponse cancels a context once a response has come back,
// so the cancellation lands deterministically in the wait before a retry.
type cancelAfterResponse struct {
	cancel context.CancelFunc
}

func (c cancelAfterResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	c.cancel()
	return resp, err
}

func TestClientRetryHonoursContext(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ctx, cancel := context.WithCancel(context.Background())
	hc := &http.Client{Transport: cancelAfterResponse{cancel}}
	defer hc.CloseIdleConnections()
	c := mustClient(t, rr.cs, &ClientOptions{HTTPClient: hc, Retry: RetryOptions{MaxRetries: 5, MaxDelay: time.Hour}})
	err := c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil}, nil)
	require.ErrorIs(t, err, context.Canceled)
	var re *ResponseError
	require.ErrorAs(t, err, &re, "the last attempt's error is kept")
	assert.Equal(t, 503, re.StatusCode)
	assert.Equal(t, int32(1), calls.Load())
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func TestRetryOptions(t *testing.T) {
	t.Parallel()
	o := RetryOptions{}.withDefaults()
	assert.Equal(t, RetryOptions{MaxRetries: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}, o)
	assert.Equal(t, 0, RetryOptions{MaxRetries: -1}.withDefaults().MaxRetries)

	o = RetryOptions{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for n, max := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			d := o.backoff(n)
			assert.GreaterOrEqual(t, d, max/2, "retry %d", n)
			assert.LessOrEqual(t, d, max, "retry %d", n)
		}
	}

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.Equal(t, 7*time.Second, parseRetryAfter("7", now))
	assert.Equal(t, 30*time.Second, parseRetryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("-3", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("", now))
}

func TestClientRetryWaits(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		switch n {
		case 0:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		case 1:
			w.Header().Set("Retry-After", date)
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	c := mustClient(t, rr.cs, &ClientOptions{Retry: RetryOptions{BaseDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Second}})
	defer c.CloseIdleConnections()
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	require.NoError(t, c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil))
	require.Len(t, waits, 3)
	assert.Equal(t, 2*time.Second, waits[0], "Retry-After in seconds replaces the backoff")
	assert.Equal(t, 10*time.Second, waits[1], "an HTTP-date Retry-After an hour away is capped at MaxDelay")
	assert.GreaterOrEqual(t, waits[2], 200*time.Millisecond, "third retry: 400ms with equal jitter, so 200ms to 400ms")
	assert.LessOrEqual(t, waits[2], 400*time.Millisecond)
	assert.Len(t, rr.requests(), 4)
}

func TestClientBodyStallIsBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		if n == 0 {
			// Headers, then a body that never comes.
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusServiceUnavailable)
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	c := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry(), AttemptTimeout: 50 * time.Millisecond})
	defer c.CloseIdleConnections()
	require.NoError(t, c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil))
	assert.Len(t, rr.requests(), 2)
}
