package signalr_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
)

// benchHub is the typed form of benchUpstream's handler.
type benchHub struct{}

func (benchHub) Broadcast(_ context.Context, text string, n int) (int, error) { return n, nil }

// benchHubUpstream returns an Upstream serving benchHub as hub "chat".
func benchHubUpstream(b *testing.B) *signalr.Upstream {
	h, err := signalr.NewHub(benchHub{}, &signalr.HubOptions{Name: "chat"})
	if err != nil {
		b.Fatal(err)
	}
	up := newUpstream(b)
	if err := up.HandleHub(h); err != nil {
		b.Fatal(err)
	}
	return up
}

// BenchmarkHubMethod times one JSON invocation of a typed hub method.
func BenchmarkHubMethod(b *testing.B) {
	_, r, raw := benchUpstream(b)
	up := benchHubUpstream(b)
	body := bytes.NewReader(raw)
	b.ReportAllocs()
	for b.Loop() {
		serveBody(b, up, r, body, raw)
	}
}

// BenchmarkHubVsHandleFunc interleaves rounds of the same invocation served
// by a HandleFunc handler that calls DecodeArguments (the baseline) and by
// the typed hub method, in alternating order, and reports the hub's throughput as a multiple of
// the baseline's ("x-handlefunc", the median of the per-round ratios; above
// 1 is faster), with the ratio of the totals too.
func BenchmarkHubVsHandleFunc(b *testing.B) {
	baseUp, r, raw := benchUpstream(b)
	var base, hub http.Handler = baseUp, benchHubUpstream(b)
	body := bytes.NewReader(raw)
	const round = 50
	var baseTime, hubTime time.Duration
	var ratios []float64
	n := 0
	for b.Loop() {
		// Alternate which runs first, so that neither always gets the
		// warmer caches or the quieter moment.
		first, second := base, hub
		if len(ratios)%2 == 1 {
			first, second = hub, base
		}
		start := time.Now()
		for range round {
			serveBody(b, first, r, body, raw)
		}
		mid := time.Now()
		for range round {
			serveBody(b, second, r, body, raw)
		}
		end := time.Now()
		baseRound, hubRound := mid.Sub(start), end.Sub(mid)
		if len(ratios)%2 == 1 {
			baseRound, hubRound = hubRound, baseRound
		}
		baseTime += baseRound
		hubTime += hubRound
		ratios = append(ratios, float64(baseRound)/float64(hubRound))
		n += round
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "x-handlefunc")
	b.ReportMetric(float64(baseTime)/float64(hubTime), "x-handlefunc-total")
	b.ReportMetric(float64(hubTime.Nanoseconds())/float64(n), "hub-ns/op")
	b.ReportMetric(float64(baseTime.Nanoseconds())/float64(n), "handlefunc-ns/op")
}

// The hub answers the same Completion as the HandleFunc handler.
func TestHubBenchAnswersLikeHandleFunc(t *testing.T) {
	h, err := signalr.NewHub(benchHub{}, &signalr.HubOptions{Name: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	if err := up.HandleHub(h); err != nil {
		t.Fatal(err)
	}
	r := signalrtest.UpstreamRequests{}.Invoke("3", "broadcast", "hello, everyone", 42)
	rec := serve(up, r)
	got, _ := io.ReadAll(rec.Body)
	if want := "{\"type\":3,\"invocationId\":\"3\",\"result\":42}\x1e"; string(got) != want || rec.Code != http.StatusOK {
		t.Fatalf("got %d %q, want %q", rec.Code, got, want)
	}
}
