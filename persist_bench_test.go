package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
)

// BenchmarkPersistentVsREST compares, on one emulator in the same run,
// sends through TransportPersistent and through REST: 64 concurrent
// senders, one message per call, to the one connection of a JSON client
// that stamps each arrival. Rounds alternate (REST, persistent, …); it
// reports the medians of sends/s, p50 and p99 send-to-receive latency, the
// process CPU per send (app and emulator share the process), and the
// persistent/REST ratios.
func BenchmarkPersistentVsREST(b *testing.B) {
	const senders, perRound, rounds = 64, 4000, 5
	emu := signalrtest.NewEmulator(b, nil)
	rest, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), nil)
	require.NoError(b, err)
	defer rest.Close()
	pers, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), &signalr.ClientOptions{Transport: signalr.TransportPersistent})
	require.NoError(b, err)
	defer pers.Close()
	info, err := rest.ConnectionInfo(context.Background(), "bench", &signalr.ClientTokenOptions{UserID: "u"})
	require.NoError(b, err)

	var mu sync.Mutex
	arrived := map[int]time.Time{}
	got := make(chan struct{}, senders*perRound)
	_, _, r := connect(b, info)
	// connect's receiver turns messages into strings on a channel: read
	// them here and stamp arrivals.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case m := <-r.messages:
				now := time.Now()
				var n int
				_, s, _ := bytes.Cut([]byte(m), []byte(":"))
				_ = json.Unmarshal(s, &n)
				mu.Lock()
				arrived[n] = now
				mu.Unlock()
				got <- struct{}{}
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)

	var seq atomic.Int64
	round := func(c *signalr.Client) (perSec, p50, p99, cpuPerSend float64) {
		sent := make([]time.Time, 0, perRound)
		var sentMu sync.Mutex
		ids := make([]int, 0, perRound)
		before := cpuTime()
		start := time.Now()
		var wg sync.WaitGroup
		var next atomic.Int64
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= perRound {
					n := int(seq.Add(1))
					at := time.Now()
					if err := c.SendMessage(context.Background(), "bench", signalr.Message{Target: "m", Arguments: []any{n}, UserID: "u"}, nil); err != nil {
						b.Error(err)
						return
					}
					sentMu.Lock()
					sent, ids = append(sent, at), append(ids, n)
					sentMu.Unlock()
				}
			}()
		}
		wg.Wait()
		for i := 0; i < perRound; i++ {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				b.Fatal("messages missing")
			}
		}
		elapsed := time.Since(start)
		cpu := cpuTime() - before
		lat := make([]float64, len(ids))
		mu.Lock()
		for i, n := range ids {
			lat[i] = float64(arrived[n].Sub(sent[i]).Microseconds())
			delete(arrived, n)
		}
		mu.Unlock()
		sort.Float64s(lat)
		return perRound / elapsed.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100], float64(cpu.Microseconds()) / perRound
	}
	round(rest) // warm up both
	round(pers)
	b.ResetTimer()
	var rr, pr [4][]float64
	for i := 0; i < rounds; i++ {
		for j, v := range func() []float64 { a, b2, c2, d := round(rest); return []float64{a, b2, c2, d} }() {
			rr[j] = append(rr[j], v)
		}
		for j, v := range func() []float64 { a, b2, c2, d := round(pers); return []float64{a, b2, c2, d} }() {
			pr[j] = append(pr[j], v)
		}
	}
	names := []string{"sends/s", "p50-µs", "p99-µs", "cpu-µs/send"}
	for j, name := range names {
		b.ReportMetric(median(rr[j]), "rest-"+name)
		b.ReportMetric(median(pr[j]), "persistent-"+name)
		b.Logf("%s: REST median %.0f range %s; persistent median %.0f range %s", name, median(rr[j]), span(rr[j]), median(pr[j]), span(pr[j]))
	}
	b.ReportMetric(median(pr[0])/median(rr[0]), "throughput-ratio")
	b.ReportMetric(median(pr[1])/median(rr[1]), "p50-ratio")
	b.ReportMetric(median(pr[2])/median(rr[2]), "p99-ratio")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func span(v []float64) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return strconv.FormatFloat(s[0], 'f', 0, 64) + "–" + strconv.FormatFloat(s[len(s)-1], 'f', 0, 64)
}
