package signalr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
)

// WithOutput returns a handler that runs h with a fresh Collector for o in
// its request's context (get it with CollectorFromContext) and flushes the
// Collector after h returns, as the Functions host sends a function's
// outputs when it completes. If the flush fails and h has not written a
// response, the response is 502 Bad Gateway with a JSON body naming each
// undelivered item and the service's reason (and "maybeApplied": true for
// one that may have been applied all the same; "endpoints": the names of
// the endpoints that failed, with a Client over several); if h has written, or the
// client has gone away, or h hijacked the connection (through
// http.Hijacker or http.ResponseController), the error goes to
// OutputOptions.OnError and nothing is written. If h panics, nothing is
// flushed.
func WithOutput(o *Output, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		col := o.NewCollector()
		tw := &trackingWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r.WithContext(context.WithValue(r.Context(), collectorKey{}, col)))
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), o.timeout)
		defer cancel()
		err := col.Flush(ctx)
		if err == nil {
			return
		}
		if tw.wrote || tw.hijacked || r.Context().Err() != nil {
			// Nobody will read a 502 now: the handler answered already,
			// took the connection over, or the client is gone. The hook is
			// the only place left.
			o.onError(r, err)
			return
		}
		writeOutputError(w, err)
	})
}

// WithOutputFunc is WithOutput for a handler that takes the Collector as
// a third argument, like a function with an output binding.
func WithOutputFunc(o *Output, h func(w http.ResponseWriter, r *http.Request, out *Collector)) http.Handler {
	return WithOutput(o, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, CollectorFromContext(r.Context()))
	}))
}

type collectorKey struct{}

// CollectorFromContext returns the Collector WithOutput put in a request's
// context, or nil when there is none.
func CollectorFromContext(ctx context.Context) *Collector {
	c, _ := ctx.Value(collectorKey{}).(*Collector)
	return c
}

// outputFailure is one entry of the 502 body WithOutput writes.
type outputFailure struct {
	Index      int    `json:"index"`
	Item       string `json:"item"`
	StatusCode int    `json:"statusCode,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"`
	Reason     string `json:"reason"`
	// MaybeApplied is DeliveryError.MaybeApplied.
	MaybeApplied bool `json:"maybeApplied,omitempty"`
	// Endpoints names the endpoints that failed, for a Client over
	// several (NewMultiEndpointClient); empty for a single one.
	Endpoints []string `json:"endpoints,omitempty"`
}

func writeOutputError(w http.ResponseWriter, err error) {
	des := DeliveryErrors(err)
	failures := make([]outputFailure, 0, len(des))
	for _, de := range des {
		f := outputFailure{Index: de.Index, Item: describeItem(de.Item), Reason: de.Err.Error(), MaybeApplied: de.MaybeApplied, Endpoints: failedEndpoints(de.Err)}
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

// failedEndpoints names the endpoints of every *EndpointError in err's
// tree, in the order errors.As would find them.
func failedEndpoints(err error) []string {
	var names []string
	for _, ee := range collectErrors[*EndpointError](err) {
		names = append(names, ee.Endpoint)
	}
	return names
}

// maxLoggedFailures bounds the items logFlushFailure lists.
const maxLoggedFailures = 10

// logFlushFailure is the default OnError: counts and codes, no ids.
func logFlushFailure(r *http.Request, err error) {
	route := "a " + r.Method + " request"
	if r.Pattern != "" {
		route = r.Pattern
	}
	des := DeliveryErrors(err)
	var b strings.Builder
	fmt.Fprintf(&b, "signalr: %d output item(s) of %s not delivered after the response was written", len(des), route)
	for i, de := range des {
		if i == maxLoggedFailures {
			fmt.Fprintf(&b, "; and %d more", len(des)-i)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%sitem %d: %s", sep, de.Index, failureCode(de.Err))
		if de.MaybeApplied {
			b.WriteString(" (may have been applied)")
		}
	}
	if len(des) == 0 {
		fmt.Fprintf(&b, ": %s", failureCode(err))
	}
	b.WriteString(" (set OutputOptions.OnError for details)")
	log.Print(b.String())
}

// failureCode names why a delivery failed without quoting the error, whose
// text can hold ids and URLs.
func failureCode(err error) string {
	var re *ResponseError
	switch {
	case errors.As(err, &re):
		if re.ErrorCode != "" {
			return fmt.Sprintf("%d %s", re.StatusCode, re.ErrorCode)
		}
		return fmt.Sprintf("%d %s", re.StatusCode, http.StatusText(re.StatusCode))
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "transport error"
}

// trackingWriter records whether the handler has started a response or
// taken the connection over.
type trackingWriter struct {
	http.ResponseWriter
	wrote    bool
	hijacked bool
}

// Hijack implements http.Hijacker for the writer underneath (found the way
// http.ResponseController finds it), and records that the connection is
// no longer the response's: nothing may be written onto it afterwards.
// ResponseController calls it too, since it looks here before unwrapping.
func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(t.ResponseWriter).Hijack()
	if err == nil {
		t.hijacked = true
	}
	return conn, rw, err
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
