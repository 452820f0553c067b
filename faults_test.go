package signalr

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var faultItems = flag.Int("fault-items", 500, "items TestFaultInjectionAccountsForEveryItem sends per mode")

// Issue 9, item 16: a failure says whether the request may have been
// applied, and AtMostOnce stops retrying once it may have been.
func TestMaybeAppliedAndAtMostOnce(t *testing.T) {
	t.Parallel()
	type step func(w http.ResponseWriter, r *http.Request)
	status := func(code int) step {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
	}
	resetAfterRead := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hijackReset(w)
	}
	stall := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}
	tests := []struct {
		name       string
		steps      []step
		atMostOnce bool
		wantCalls  int
		wantErr    bool
		wantMaybe  bool
	}{
		{"503 then 429: not applied", []step{status(503), status(429), status(503), status(503)}, false, 4, true, false},
		{"400: not applied", []step{status(400)}, false, 1, true, false},
		{"500 to a send: may have been applied, not retried", []step{status(500), status(202)}, false, 1, true, true},
		{"reset after the body was read, retried, then 503s", []step{resetAfterRead, status(503)}, false, 4, true, true},
		{"reset after read then delivered", []step{resetAfterRead, status(202)}, false, 2, false, false},
		{"stall then 502s", []step{stall, status(502)}, false, 4, true, true},
		{"at most once: reset after read is not retried", []step{resetAfterRead, status(202)}, true, 1, true, true},
		{"at most once: stall is not retried", []step{stall, status(202)}, true, 1, true, true},
		{"at most once: 502 is not retried", []step{status(502), status(202)}, true, 1, true, true},
		{"at most once: 429, 503, 408 are retried", []step{status(429), status(503), status(408), status(202)}, true, 4, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
				tt.steps[min(n, len(tt.steps)-1)](w, r)
			})
			// the recorder read the body already; the steps see an empty one.
			// Only a stall may run into the attempt timeout: the cases
			// without one wait a minute per attempt, and those with one a
			// second, far more than a busy machine takes to answer.
			attemptTimeout := time.Minute
			if strings.Contains(tt.name, "stall") {
				attemptTimeout = time.Second
			}
			c := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry(), AttemptTimeout: attemptTimeout})
			defer c.CloseIdleConnections()
			out, err := NewOutput(c, "chat", &OutputOptions{AtMostOnce: tt.atMostOnce})
			require.NoError(t, err)
			col := out.NewCollector()
			require.NoError(t, col.AddMessage(Message{Target: "t", UserID: "u"}))
			err = col.Flush(context.Background())
			assert.Len(t, rr.requests(), tt.wantCalls)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			des := DeliveryErrors(err)
			require.Len(t, des, 1)
			assert.Equal(t, tt.wantMaybe, des[0].MaybeApplied)
			assert.Equal(t, tt.wantMaybe, errors.Is(err, ErrMaybeApplied))
			if tt.wantMaybe {
				assert.Contains(t, err.Error(), "may have been applied")
			} else {
				assert.Contains(t, err.Error(), "not delivered")
			}
		})
	}

	// Dialing nobody: nothing was sent, so nothing may have been applied.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := mustClient(t, mustParse(t, "Endpoint="+url+";AccessKey="+testAccessKey), &ClientOptions{Retry: fastRetry()})
	err := c.SendMessage(context.Background(), "chat", Message{Target: "t"}, &SendMessageOptions{AtMostOnce: true})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrMaybeApplied)
	assert.Contains(t, err.Error(), "after 4 attempts", "a refused connection is retried even at most once")
}

// faultService is a REST service that injects faults: each attempt of each
// item gets a fault picked from a hash of the item and the attempt number,
// and the service records every item it applied and how often.
type faultService struct {
	mu       sync.Mutex
	attempts map[string]int
	applied  map[string]int
	faults   map[string]int
	release  chan struct{} // ends the stalls that no client hang-up ends
}

var faultKinds = []struct {
	name   string
	weight int
}{
	{"ok", 50}, {"429", 6}, {"503", 6}, {"408", 4}, {"400", 2},
	{"502 before applying", 3}, {"502 after applying", 3}, {"500 after applying", 3}, {"500 before applying", 2},
	{"reset before reading", 6}, {"reset after applying", 7}, {"stall before reading", 4}, {"stall after applying", 6},
}

func (s *faultService) pick(item string, attempt int) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", item, attempt)
	total := 0
	for _, k := range faultKinds {
		total += k.weight
	}
	n := int(h.Sum32() % uint32(total))
	for _, k := range faultKinds {
		if n < k.weight {
			return k.name
		}
		n -= k.weight
	}
	panic("unreachable")
}

func (s *faultService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /api/hubs/chat/users/<item>/:send
	parts := strings.Split(r.URL.Path, "/")
	item := parts[len(parts)-2]
	s.mu.Lock()
	s.attempts[item]++
	fault := s.pick(item, s.attempts[item])
	s.faults[fault]++
	s.mu.Unlock()
	apply := func() {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.applied[item]++
		s.mu.Unlock()
	}
	stall := func() {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	}
	switch fault {
	case "ok":
		apply()
		w.WriteHeader(http.StatusAccepted)
	case "429", "503", "408", "400":
		code, _ := strconv.Atoi(fault)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(code)
	case "502 before applying":
		w.WriteHeader(http.StatusBadGateway)
	case "502 after applying":
		apply()
		w.WriteHeader(http.StatusBadGateway)
	case "500 after applying":
		apply()
		w.WriteHeader(http.StatusInternalServerError)
	case "500 before applying":
		w.WriteHeader(http.StatusInternalServerError)
	case "reset before reading":
		hijackReset(w)
	case "reset after applying":
		apply()
		hijackReset(w)
	case "stall before reading":
		stall()
	case "stall after applying":
		apply()
		stall()
	}
}

// Issue 9, item 16: under injected faults (429, 503, 502, 408, 500, 400, resets
// before and after the body was read, stalls before and after), every item
// is accounted for: delivered (and then applied), reported as not applied
// (and then really not applied), or reported as maybe applied. None is
// lost, and with AtMostOnce none is applied twice. -fault-items sets the
// number of items per mode (500 by default, which injects every kind of
// fault, as the test checks; -short uses at most that many).
func TestFaultInjectionAccountsForEveryItem(t *testing.T) {
	t.Parallel()
	n := *faultItems
	if testing.Short() {
		n = min(n, 500)
	}
	for _, atMostOnce := range []bool{false, true} {
		t.Run(fmt.Sprintf("AtMostOnce=%v", atMostOnce), func(t *testing.T) {
			s := &faultService{attempts: map[string]int{}, applied: map[string]int{}, faults: map[string]int{}, release: make(chan struct{})}
			srv := httptest.NewServer(s)
			defer srv.Close()
			// A handler stalled before reading the body does not see the
			// client hang up; Close waits for it.
			defer close(s.release)
			c := mustClient(t, mustParse(t, "Endpoint="+srv.URL+";AccessKey="+testAccessKey),
				&ClientOptions{Retry: RetryOptions{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}, AttemptTimeout: 100 * time.Millisecond})
			defer c.CloseIdleConnections()
			out, err := NewOutput(c, "chat", &OutputOptions{MaxConcurrency: 32, AtMostOnce: atMostOnce})
			require.NoError(t, err)
			col := out.NewCollector()
			for i := range n {
				require.NoError(t, col.AddMessage(Message{Target: "t", UserID: fmt.Sprintf("item%d", i), Arguments: []any{i}}))
			}
			flushErr := col.Flush(context.Background())

			reported := map[int]*DeliveryError{}
			for _, de := range DeliveryErrors(flushErr) {
				require.NotContains(t, reported, de.Index, "item %d reported twice", de.Index)
				require.True(t, de.Index >= 0 && de.Index < n)
				reported[de.Index] = de
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			var delivered, notApplied, maybe, maybeAndApplied, twice int
			for i := range n {
				applied := s.applied[fmt.Sprintf("item%d", i)]
				if applied > 1 {
					twice++
				}
				if atMostOnce {
					require.LessOrEqual(t, applied, 1, "item %d applied %d times at most once", i, applied)
				}
				de, failed := reported[i]
				switch {
				case !failed:
					delivered++
					require.GreaterOrEqual(t, applied, 1, "item %d reported delivered but never applied: lost", i)
				case !de.MaybeApplied:
					notApplied++
					require.Equal(t, 0, applied, "item %d reported not applied, but the service applied it: %v", i, de)
				default:
					maybe++
					if applied > 0 {
						maybeAndApplied++
					}
				}
			}
			require.Equal(t, n, delivered+notApplied+maybe)
			var attempts int
			for _, a := range s.attempts {
				attempts += a
			}
			t.Logf("%d items, %d attempts; delivered %d, reported not applied %d, reported maybe applied %d (of which the service had applied %d); applied twice or more: %d",
				n, attempts, delivered, notApplied, maybe, maybeAndApplied, twice)
			t.Logf("faults injected: %v", s.faults)
			for _, k := range faultKinds {
				assert.Positive(t, s.faults[k.name], "no %q fault was injected: more items are needed to test it", k.name)
			}
		})
	}
}
