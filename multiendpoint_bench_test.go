package signalr_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/internal/benchhub"
	"github.com/funcsignalr/signalr/signalrtest"
)

// multiBenchRound is the broadcasts per side and round.
const multiBenchRound = 200

// BenchmarkMultiEndpointBroadcast compares a broadcast through one Client
// over N endpoints with the same broadcast sent by N single-endpoint
// Clients in parallel (the goroutines a user would write), against N
// in-process emulators, in the same run: rounds of multiBenchRound
// broadcasts per side, alternating which side goes first. It reports the
// median per-round ratio single ÷ multi time ("x-parallel", above 1 means
// the multi-endpoint Client is faster), its range and the round count.
//
//	go test -run '^$' -bench 'MultiEndpointBroadcast' -benchtime 8000x .
func BenchmarkMultiEndpointBroadcast(b *testing.B) {
	for _, n := range []int{2, 3} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			servers, css := signalrtest.NewEmulators(b, n, nil)
			_ = servers
			var eps []signalr.Endpoint
			singles := make([]*signalr.Client, n)
			for i, raw := range css {
				cs, err := signalr.ParseConnectionString(raw)
				if err != nil {
					b.Fatal(err)
				}
				eps = append(eps, signalr.Endpoint{Name: fmt.Sprint("e", i), ConnectionString: cs})
				if singles[i], err = signalr.NewClient(cs, nil); err != nil {
					b.Fatal(err)
				}
				defer singles[i].CloseIdleConnections()
			}
			multi, err := signalr.NewMultiEndpointClient(eps, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer multi.Close()
			ctx := context.Background()
			m := signalr.Message{Target: "t", Arguments: []any{"hello"}}
			viaMulti := func(k int) {
				for j := 0; j < k; j++ {
					if err := multi.SendMessage(ctx, "chat", m, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			viaSingles := func(k int) {
				for j := 0; j < k; j++ {
					var wg sync.WaitGroup
					errs := make([]error, n)
					for i, c := range singles {
						wg.Add(1)
						go func() {
							defer wg.Done()
							errs[i] = c.SendMessage(ctx, "chat", m, nil)
						}()
					}
					wg.Wait()
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			viaMulti(50) // warm the connection pools and token caches
			viaSingles(50)
			var ratios []float64
			var multiTotal, singleTotal time.Duration
			b.ResetTimer()
			for done, round := 0, 0; done < b.N; done, round = done+multiBenchRound, round+1 {
				k := min(multiBenchRound, b.N-done)
				timeIt := func(f func(int)) time.Duration {
					start := time.Now()
					f(k)
					return time.Since(start)
				}
				var md, sd time.Duration
				if round%2 == 0 {
					md, sd = timeIt(viaMulti), timeIt(viaSingles)
				} else {
					sd, md = timeIt(viaSingles), timeIt(viaMulti)
				}
				multiTotal, singleTotal = multiTotal+md, singleTotal+sd
				if k == multiBenchRound {
					ratios = append(ratios, sd.Seconds()/md.Seconds())
				}
			}
			sum := benchhub.Summarize(ratios)
			b.ReportMetric(float64(b.N)/multiTotal.Seconds(), "multi-broadcasts/s")
			b.ReportMetric(float64(b.N)/singleTotal.Seconds(), "parallel-broadcasts/s")
			b.ReportMetric(sum.Median, "x-parallel")
			b.ReportMetric(sum.Min, "x-parallel-min")
			b.ReportMetric(sum.Max, "x-parallel-max")
			b.ReportMetric(float64(sum.N), "rounds")
		})
	}
}
