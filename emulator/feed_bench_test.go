package emulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/benchhub"
)

// BenchmarkFeedCost measures what the traffic feed costs fan-out. One
// emulator broadcasts to FANOUT_CLIENTS (1,000) WebSocket readers (a
// separate process); each round sends five batches of FANOUT_MESSAGES
// (300) REST broadcasts, one per mode, in an order shuffled afresh each
// round (seeded: FANOUT_SEED, 1), so that no mode always follows the same
// other one:
//
//   - no hooks: the baseline, the feed's REST hook and the per-connection
//     byte and frame counters switched off (an unexported test hook,
//     SetUninstrumented), as if the feed had never been built;
//   - none: the emulator as shipped with nobody on the feed (the hooks'
//     atomic loads and the counters' atomic adds);
//   - viewer: one dashboard viewer, the Server-Sent Events stream of
//     /_emulator/api/events, read and parsed line by line;
//   - subscriber: a Go subscriber (Emulator.Events) encoding every event
//     as JSON, which is what the traffic record does;
//   - no hooks again: the baseline a second time, so that its ratio to
//     the first (an A/A ratio) shows how finely this machine resolves a
//     difference.
//
// Each batch is timed on the wall clock (deliveries/s) and in this
// process's CPU (the emulator, the senders and the viewer; the readers are
// another process), and the ratios of one round's batches to its no-hooks
// batch are summarised (median and range) over FANOUT_ROUNDS (11) rounds:
// batches a second apart see the same machine load, where whole runs a
// minute apart do not.
//
//	go test -run '^$' -bench 'FeedCost$' -benchtime 1x ./emulator
func BenchmarkFeedCost(b *testing.B) {
	clients := envInt("FANOUT_CLIENTS", 1000)
	batch := int64(envInt("FANOUT_MESSAGES", 300))
	rounds := envInt("FANOUT_ROUNDS", 11)
	bin := benchReader(b)
	const window = 256

	srv := emulator.NewServer(&emulator.Options{AccessKey: testKey, WriteTimeout: fanoutWriteTimeout, ClientTimeout: time.Hour})
	defer srv.Close()
	token := mint(b, testKey, clientURL(srv, "bench"), nil)
	sendURL := srv.URL + "/api/hubs/bench/:send"
	send, closeIdle := restSender(sendURL, "Bearer "+mint(b, testKey, sendURL, jwt.MapClaims{"exp": time.Now().Add(24 * time.Hour).Unix()}), func(int64) string { return benchBody })
	defer closeIdle()
	rd, err := benchhub.StartReaders(bin, benchhub.ReaderOptions{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/?hub=bench", Headers: []string{"Authorization: Bearer " + token},
		Handshake: true, Clients: clients,
	}, 2*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	eventually(b, "every reader is connected", func() bool { return len(srv.Emulator.Snapshot("bench").Connections) == clients })

	var sent int64 // broadcasts sent so far, over every batch
	runBatch := func() (wall, cpu time.Duration) {
		from, to := sent, sent+batch
		sent = to
		startCPU, start := selfCPU(), time.Now()
		var next atomic.Int64
		next.Store(from)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < to; i = next.Add(1) - 1 {
					for rd.Least() < i-window {
						if rd.Ended() > 0 {
							errs <- fmt.Errorf("%d clients were dropped", rd.Ended())
							return
						}
						time.Sleep(100 * time.Microsecond)
					}
					if err := send(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		if err := rd.WaitLeast(to, 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		return time.Since(start), selfCPU() - startCPU
	}
	// watch starts mode's listener and returns its stop, which reports the
	// events it saw.
	watch := func(mode string) (stop func() int64) {
		ctx, cancel := context.WithCancel(context.Background())
		var seen atomic.Int64
		var done sync.WaitGroup
		switch mode {
		case "viewer":
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/_emulator/api/events?hub=bench", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			lines := bufio.NewScanner(resp.Body)
			if !lines.Scan() { // ": connected": subscribed
				b.Fatal("the event stream did not start")
			}
			done.Add(1)
			go func() {
				defer done.Done()
				defer resp.Body.Close()
				for lines.Scan() {
					if strings.HasPrefix(lines.Text(), "data: ") {
						seen.Add(1)
					}
				}
			}()
		case "subscriber":
			feed := srv.Emulator.Events(ctx, nil)
			done.Add(1)
			go func() {
				defer done.Done()
				enc := json.NewEncoder(io.Discard)
				for ev := range feed {
					_ = enc.Encode(ev)
					seen.Add(1)
				}
			}()
		}
		return func() int64 {
			// Every event of the batch reached the listener before it
			// stops: the REST events are published before the 202.
			if mode == "viewer" || mode == "subscriber" {
				eventually(b, mode+" saw the batch", func() bool { return seen.Load() >= batch })
			}
			cancel()
			done.Wait()
			return seen.Load()
		}
	}

	runBatch() // warm-up
	b.ResetTimer()
	const base = "no hooks"
	modes := []string{base, "none", "viewer", "subscriber", "no hooks again"}
	ratio := map[string][]float64{}
	cpuRatio := map[string][]float64{}
	var viewerOverNone []float64  // viewer throughput ÷ none throughput
	var cpuPerBroadcast []float64 // µs of CPU per broadcast, no hooks
	shuffle := rand.New(rand.NewPCG(uint64(envInt("FANOUT_SEED", 1)), 0))
	benchLog("clients %d, %d broadcasts per batch, %d rounds; load average %s", clients, batch, rounds, loadAverage())
	for r := 0; r < rounds; r++ {
		wall, cpu := map[string]time.Duration{}, map[string]time.Duration{}
		order := slices.Clone(modes)
		shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, mode := range order {
			srv.Emulator.SetUninstrumented(strings.HasPrefix(mode, base))
			stop := watch(mode)
			wall[mode], cpu[mode] = runBatch()
			if n := stop(); (mode == "viewer" || mode == "subscriber") && n < batch {
				b.Fatalf("%s saw %d events of %d", mode, n, batch)
			}
		}
		srv.Emulator.SetUninstrumented(false)
		cpuPerBroadcast = append(cpuPerBroadcast, float64(cpu[base].Microseconds())/float64(batch))
		viewerOverNone = append(viewerOverNone, float64(wall["none"])/float64(wall["viewer"]))
		line := fmt.Sprintf("%2d (%s):", r+1, strings.Join(order, ", "))
		for _, mode := range modes[1:] {
			w := float64(wall[base]) / float64(wall[mode]) // throughput ratio
			c := float64(cpu[mode]) / float64(cpu[base])   // CPU ratio
			ratio[mode] = append(ratio[mode], w)
			cpuRatio[mode] = append(cpuRatio[mode], c)
			line += fmt.Sprintf(" | %s: throughput %.3f, CPU %.3f", mode, w, c)
		}
		benchLog("%s (÷ no hooks; no hooks: %.0f deliveries/s)", line, float64(batch*int64(clients))/wall[base].Seconds())
	}
	b.StopTimer()
	for _, mode := range modes[1:] {
		benchLog("%s ÷ no hooks: throughput %v [%s]", mode, benchhub.Summarize(ratio[mode]), benchhub.List(ratio[mode]))
		benchLog("%s ÷ no hooks: CPU %v [%s]", mode, benchhub.Summarize(cpuRatio[mode]), benchhub.List(cpuRatio[mode]))
	}
	benchLog("viewer ÷ none: throughput %v [%s]", benchhub.Summarize(viewerOverNone), benchhub.List(viewerOverNone))
	benchLog("CPU per broadcast to %d clients, no hooks: %v µs [%s]", clients, benchhub.Summarize(cpuPerBroadcast), benchhub.List(cpuPerBroadcast))
	benchLog("load average after: %s", loadAverage())
	b.ReportMetric(benchhub.Summarize(ratio["none"]).Median, "x-none")
	b.ReportMetric(benchhub.Summarize(ratio["viewer"]).Median, "x-viewer")
	b.ReportMetric(benchhub.Summarize(ratio["no hooks again"]).Median, "x-aa")
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFeedCostPerSend measures the feed's own CPU per REST send: the
// same broadcast (to a hub with no clients, so that nothing else varies)
// served in-process through Emulator.ServeHTTP, FEED_CALLS (3,000) at a
// time, with nobody on the feed and with one SSE viewer reading the stream
// over a real socket, in alternating batches over FANOUT_ROUNDS (15)
// rounds. The difference of CPU per send (this process: the handler, the
// event's redaction, the stream's JSON and write, the viewer's parsing) is
// what a viewer adds to each broadcast; BenchmarkFeedCost's CPU per
// broadcast at 1,000 clients is what it is compared with.
//
//	go test -run '^$' -bench 'FeedCostPerSend' -benchtime 1x ./emulator
func BenchmarkFeedCostPerSend(b *testing.B) {
	calls := envInt("FEED_CALLS", 3000)
	rounds := envInt("FANOUT_ROUNDS", 15)
	srv := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer srv.Close()
	sendURL := srv.URL + "/api/hubs/bench/:send"
	auth := "Bearer " + mint(b, testKey, sendURL, jwt.MapClaims{"exp": time.Now().Add(24 * time.Hour).Unix()})
	serve := func() time.Duration {
		start := selfCPU()
		for range calls {
			req := httptest.NewRequest(http.MethodPost, sendURL, strings.NewReader(benchBody))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			srv.Emulator.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				b.Fatalf("send = %d: %s", w.Code, w.Body)
			}
		}
		return selfCPU() - start
	}
	withViewer := func() time.Duration {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/_emulator/api/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		lines.Scan() // ": connected"
		var seen atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for lines.Scan() {
				if strings.HasPrefix(lines.Text(), "data: ") {
					seen.Add(1)
				}
			}
		}()
		start := selfCPU()
		serve()
		eventually(b, "the viewer read every event", func() bool { return seen.Load() >= int64(calls) })
		took := selfCPU() - start
		cancel()
		<-done
		return took
	}
	serve() // warm-up
	b.ResetTimer()
	var none, viewer, extra, share []float64
	for r := 0; r < rounds; r++ {
		var n, v time.Duration
		if r%2 == 0 {
			n, v = serve(), withViewer()
		} else {
			v, n = withViewer(), serve()
		}
		none = append(none, float64(n.Nanoseconds())/float64(calls))
		viewer = append(viewer, float64(v.Nanoseconds())/float64(calls))
		extra = append(extra, viewer[r]-none[r])
		share = append(share, viewer[r]/none[r])
		benchLog("%2d: CPU per send, no viewer %.0f ns, one viewer %.0f ns: the feed adds %.0f ns", r+1, none[r], viewer[r], extra[r])
	}
	b.StopTimer()
	benchLog("no viewer: %v ns; one viewer: %v ns; added by the viewer: %v ns [%s]; viewer ÷ none %v",
		benchhub.Summarize(none), benchhub.Summarize(viewer), benchhub.Summarize(extra), benchhub.List(extra), benchhub.Summarize(share))
	b.ReportMetric(benchhub.Summarize(extra).Median, "ns-feed/send")
}
