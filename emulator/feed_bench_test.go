package emulator_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/benchhub"
)

// BenchmarkFeedCost measures what the traffic feed costs fan-out: the
// emulator broadcasting to FANOUT_CLIENTS (1,000) readers with nobody on
// the feed, with one dashboard viewer (the Server-Sent Events stream of
// /_emulator/api/events, read and parsed line by line), and with a Go
// subscriber plus the record writing JSON Lines, in alternating rounds
// (same-run ratios).
//
//	go test -run '^$' -bench 'FeedCost' -benchtime 1x ./emulator
func BenchmarkFeedCost(b *testing.B) {
	clients := envInt("FANOUT_CLIENTS", 1000)
	messages := int64(envInt("FANOUT_MESSAGES", 200))
	rounds := envInt("FANOUT_ROUNDS", 4)
	bin := benchReader(b)
	const window = 256

	run := func(mode string) (rate float64, events int64) {
		var record io.Writer
		var recorded countingWriter
		if mode == "record" {
			record = &recorded
		}
		srv := emulator.NewServer(&emulator.Options{AccessKey: testKey, WriteTimeout: fanoutWriteTimeout, ClientTimeout: time.Hour, Record: record})
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var seen atomic.Int64
		var viewers sync.WaitGroup
		switch mode {
		case "viewer":
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/_emulator/api/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			viewers.Add(1)
			go func() {
				defer viewers.Done()
				defer resp.Body.Close()
				lines := bufio.NewScanner(resp.Body)
				for lines.Scan() {
					if strings.HasPrefix(lines.Text(), "data: ") {
						seen.Add(1)
					}
				}
			}()
		case "record":
			feed := srv.Emulator.Events(ctx, nil)
			viewers.Add(1)
			go func() {
				defer viewers.Done()
				for range feed {
					seen.Add(1)
				}
			}()
		}
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
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < messages; i = next.Add(1) - 1 {
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
		if err := rd.WaitLeast(messages, 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		rate = float64(messages*int64(clients)) / time.Since(start).Seconds()
		cancel()
		return rate, seen.Load()
	}

	run("none") // warm-up
	b.ResetTimer()
	var viewerRatio, recordRatio []float64
	benchLog("clients %d, %d broadcasts per round; load average %s", clients, messages, loadAverage())
	for r := 0; r < rounds; r++ {
		order := []string{"none", "viewer", "record"}
		if r%2 == 1 {
			order = []string{"record", "viewer", "none"}
		}
		rates, events := map[string]float64{}, map[string]int64{}
		for _, mode := range order {
			rates[mode], events[mode] = run(mode)
		}
		viewerRatio = append(viewerRatio, rates["viewer"]/rates["none"])
		recordRatio = append(recordRatio, rates["record"]/rates["none"])
		benchLog("%d: deliveries/s none %.0f, one SSE viewer %.0f (%d events), Go subscriber+record %.0f (%d events) | viewer÷none %.3f record÷none %.3f",
			r+1, rates["none"], rates["viewer"], events["viewer"], rates["record"], events["record"], rates["viewer"]/rates["none"], rates["record"]/rates["none"])
	}
	b.StopTimer()
	benchLog("one viewer ÷ no viewer: %v [%s]", benchhub.Summarize(viewerRatio), benchhub.List(viewerRatio))
	benchLog("subscriber + record ÷ no viewer: %v [%s]", benchhub.Summarize(recordRatio), benchhub.List(recordRatio))
	b.ReportMetric(benchhub.Summarize(viewerRatio).Median, "x-viewer")
}

// countingWriter counts what the record writes.
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }
