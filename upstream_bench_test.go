package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/stretchr/testify/require"
)

// benchUpstream returns an Upstream with a "broadcast" handler that decodes
// its two arguments and returns one, the signed JSON invocation request for
// it, and its body.
func benchUpstream(b *testing.B) (*signalr.Upstream, *http.Request, []byte) {
	up := newUpstream(b)
	err := up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "broadcast", ParameterNames: []string{"text", "n"}},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			var text string
			var n int
			if err := inv.DecodeArguments(&text, &n); err != nil {
				return nil, err
			}
			return n, nil
		})
	require.NoError(b, err)
	r := signalrtest.UpstreamRequests{ConnectionID: "IuNnVj3N7qRmQxEaOyNL3wAl4YXrEX1", UserID: "ada", Query: "?hub=chat"}.Invoke("3", "broadcast", "hello, everyone", 42)
	body, err := io.ReadAll(r.Body)
	require.NoError(b, err)
	return up, r, body
}

// bareDecode is the baseline: a net/http handler that only reads and
// decodes the same body into the same kinds of values.
func bareDecode(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Type         int               `json:"type"`
		InvocationID string            `json:"invocationId"`
		Target       string            `json:"target"`
		Arguments    []json.RawMessage `json:"arguments"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || json.Unmarshal(body, &m) != nil || len(m.Arguments) != 2 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var text string
	var n int
	if json.Unmarshal(m.Arguments[0], &text) != nil || json.Unmarshal(m.Arguments[1], &n) != nil {
		w.WriteHeader(http.StatusBadRequest)
	}
}

// serveBody serves r with body on h, reusing r.
func serveBody(b *testing.B, h http.Handler, r *http.Request, body *bytes.Reader, raw []byte) {
	body.Reset(raw)
	r.Body = io.NopCloser(body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.False(b, rec.Code != http.StatusOK, "status %d: %s", rec.Code, rec.Body)
}

// BenchmarkUpstreamDispatch times one JSON invocation through Upstream:
// signature check, decode, handler, framed Completion.
func BenchmarkUpstreamDispatch(b *testing.B) {
	up, r, raw := benchUpstream(b)
	body := bytes.NewReader(raw)
	b.ReportAllocs()
	for b.Loop() {
		serveBody(b, up, r, body, raw)
	}
}

// BenchmarkUpstreamBareDecode is the baseline alone.
func BenchmarkUpstreamBareDecode(b *testing.B) {
	_, r, raw := benchUpstream(b)
	body := bytes.NewReader(raw)
	h := http.HandlerFunc(bareDecode)
	b.ReportAllocs()
	for b.Loop() {
		serveBody(b, h, r, body, raw)
	}
}

// BenchmarkUpstreamRatio interleaves rounds of the bare decoding handler
// and of Upstream inside one benchmark, so both see the same machine load,
// and reports Upstream's time as a multiple of the bare one ("x-bare"): the
// median of the per-round ratios, which a burst of load on the shared
// machine moves less than the ratio of the totals ("x-bare-total").
func BenchmarkUpstreamRatio(b *testing.B) {
	up, r, raw := benchUpstream(b)
	body := bytes.NewReader(raw)
	bare := http.HandlerFunc(bareDecode)
	const round = 50
	var bareTime, oursTime time.Duration
	var ratios []float64
	n := 0
	for b.Loop() {
		start := time.Now()
		for range round {
			serveBody(b, bare, r, body, raw)
		}
		mid := time.Now()
		for range round {
			serveBody(b, up, r, body, raw)
		}
		end := time.Now()
		bareTime += mid.Sub(start)
		oursTime += end.Sub(mid)
		ratios = append(ratios, float64(end.Sub(mid))/float64(mid.Sub(start)))
		n += round
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "x-bare")
	b.ReportMetric(float64(oursTime)/float64(bareTime), "x-bare-total")
	b.ReportMetric(float64(oursTime.Nanoseconds())/float64(n), "ours-ns/op")
	b.ReportMetric(float64(bareTime.Nanoseconds())/float64(n), "bare-ns/op")
}
