package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/internal/benchhub"
)

// The output benchmarks compare the Collector (AddMessage × chunk, then
// Flush, through a *Client) with a bare net/http loop posting the same JSON
// bodies to the same loopback no-op server in the same run. Both sides use
// benchConcurrency requests in flight and a Transport keeping that many
// idle connections. Messages go to 1024 distinct users round-robin, so the
// Collector's per-user ordering still allows full concurrency. The bare loop
// sends the same requests byte for byte in what matters (method, URL, body,
// Content-Type, User-Agent, an Authorization header with a token minted in
// advance for each URL) but does no other work: bodies are encoded and
// tokens minted before the clock starts. The Collector validates, encodes,
// orders, builds URLs and looks up or mints tokens while it runs; that is
// the overhead being measured. Both sides send through http.Client.Do on
// an http.Transport configured as the Client's own (newTransport), and
// every request of both is bounded by the same per-attempt timeout: the
// Client's AttemptTimeout (a context deadline per attempt) on one side,
// http.Client.Timeout (which net/http turns into a context deadline per
// request) on the other.
//
//	go test -run '^$' -bench 'Output' -benchmem -count 3 .
const (
	benchConcurrency = signalr.DefaultFlushConcurrency
	benchChunk       = 512
	benchUsers       = 1024
)

// benchAttemptTimeout bounds each request on both sides: the Client's
// AttemptTimeout and the bare loop's http.Client Timeout, so both take the
// same bounded http.Client path.
const benchAttemptTimeout = signalr.DefaultAttemptTimeout

const benchAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

var benchConns atomic.Int64

type benchEnv struct {
	srv     *httptest.Server
	client  *signalr.Client
	out     *signalr.Output
	bare    *http.Client
	msgs    []signalr.Message
	bodies  [][]byte
	urls    []string
	auths   []string
	cleanup func()
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			benchConns.Add(1)
		}
	}
	srv.Start()
	cs, err := signalr.ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + benchAccessKey + ";Version=1.0;")
	require.NoError(b, err)
	client, err := signalr.NewClient(cs, &signalr.ClientOptions{AttemptTimeout: benchAttemptTimeout})
	require.NoError(b, err)
	out, err := signalr.NewOutput(client, "chat", &signalr.OutputOptions{MaxConcurrency: benchConcurrency})
	require.NoError(b, err)
	// The same transport settings as the Client's own (proxy from the
	// environment, dialer, idle pool): the same http.Client path.
	tr := signalr.NewTransportForBench()
	e := &benchEnv{srv: srv, client: client, out: out, bare: &http.Client{Transport: tr, Timeout: benchAttemptTimeout}}
	for i := range benchUsers {
		m := signalr.Message{Target: "newMessage", UserID: fmt.Sprintf("user%d", i), Arguments: []any{"hello from the benchmark", i}}
		body, err := json.Marshal(struct {
			Target    string `json:"target"`
			Arguments []any  `json:"arguments"`
		}{m.Target, m.Arguments})
		require.NoError(b, err)
		e.msgs = append(e.msgs, m)
		e.bodies = append(e.bodies, body)
		aud := srv.URL + "/api/hubs/chat/users/" + m.UserID + "/:send"
		e.urls = append(e.urls, aud+"?api-version=2022-06-01")
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "aud": aud,
		}).SignedString([]byte(benchAccessKey))
		require.NoError(b, err)
		e.auths = append(e.auths, "Bearer "+tok)
	}
	e.cleanup = func() {
		client.CloseIdleConnections()
		tr.CloseIdleConnections()
		srv.Close()
	}
	return e
}

// collector sends messages [from, from+n) through a Collector.
func (e *benchEnv) collector(b *testing.B, from, n int) {
	c := e.out.NewCollector()
	for i := from; i < from+n; i++ {
		require.NoError(b, c.AddMessage(e.msgs[i%benchUsers]))
	}
	require.NoError(b, c.Flush(context.Background()))
}

// inParallel runs do(i) for i in [from, from+n) on benchConcurrency
// goroutines, each taking the next index, and fails b on the first error.
func inParallel(b *testing.B, from, n int, do func(i int) error) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var failed atomic.Value
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= from+n {
					return
				}
				if err := do(i); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		require.NoError(b, err)
	}
}

// bareLoop posts the same bodies with benchConcurrency goroutines.
func (e *benchEnv) bareLoop(b *testing.B, from, n int) {
	inParallel(b, from, n, func(i int) error {
		k := i % benchUsers
		req, err := http.NewRequest(http.MethodPost, e.urls[k], bytes.NewReader(e.bodies[k]))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Authorization", e.auths[k])
		req.Header.Set("User-Agent", "funcsignalr-go")
		resp, err := e.bare.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})
}

// BenchmarkOutputCollector is messages through the Collector alone.
func BenchmarkOutputCollector(b *testing.B) { benchOneSide(b, (*benchEnv).collector) }

// BenchmarkOutputBareLoop is the same bodies through bare net/http.
func BenchmarkOutputBareLoop(b *testing.B) { benchOneSide(b, (*benchEnv).bareLoop) }

// benchOneSide sends b.N messages through send, chunk by chunk, and reports
// msgs/s and the connections opened.
func benchOneSide(b *testing.B, send func(e *benchEnv, b *testing.B, from, n int)) {
	e := newBenchEnv(b)
	defer e.cleanup()
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchChunk {
		send(e, b, done, min(benchChunk, b.N-done))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(benchConns.Swap(0)), "conns")
}

// perRequest sends messages [from, from+n) the way concurrent handlers
// do: benchConcurrency goroutines, each making a Collector per message,
// adding it and flushing.
func (e *benchEnv) perRequest(b *testing.B, from, n int) {
	inParallel(b, from, n, func(i int) error {
		c := e.out.NewCollector()
		if err := c.AddMessage(e.msgs[i%benchUsers]); err != nil {
			return err
		}
		return c.Flush(context.Background())
	})
}

// BenchmarkOutputVsBareLoop runs the bare loop and the Collector in the
// same run, in rounds of outputRound messages each, chunk by chunk (512
// messages), alternating which side goes first from one round to the next,
// so both see the same machine load. It reports the median of the
// per-round ratios collector/bare ("x-bare") with the lowest and highest
// ("x-bare-min", "x-bare-max"), the ratio of the totals, each side's
// throughput and each side's allocations per message (client and loopback
// server together, as they share the process). Its ns/op covers both
// sides and means nothing on its own.
//
//	go test -run '^$' -bench 'OutputVsBareLoop' -benchtime 40960x .
//
// Two ways of using the Collector:
//
//   - batch: one Collector, AddMessage × 512, then Flush (8 in flight);
//   - per-request: 8 goroutines, each a handler sending one message per
//     invocation (NewCollector, AddMessage, Flush).
func BenchmarkOutputVsBareLoop(b *testing.B) {
	for _, mode := range []struct {
		name string
		run  func(e *benchEnv, b *testing.B, from, n int)
	}{
		{"batch", (*benchEnv).collector},
		{"per-request", (*benchEnv).perRequest},
	} {
		b.Run(mode.name, func(b *testing.B) {
			e := newBenchEnv(b)
			defer e.cleanup()
			var bareTime, colTime time.Duration
			var bareAllocs, colAllocs uint64
			var ms runtime.MemStats
			var bareCPU, colCPU time.Duration
			measure := func(from, n int, f func(e *benchEnv, b *testing.B, from, n int)) (time.Duration, uint64) {
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				cpu0 := processCPU()
				start := time.Now()
				for done := 0; done < n; done += benchChunk {
					f(e, b, from+done, min(benchChunk, n-done))
				}
				d := time.Since(start)
				cpu := processCPU() - cpu0
				if isBare := fmt.Sprintf("%p", f) == fmt.Sprintf("%p", (*benchEnv).bareLoop); isBare {
					bareCPU += cpu
				} else {
					colCPU += cpu
				}
				runtime.ReadMemStats(&ms)
				return d, ms.Mallocs - before
			}
			// Untimed: the bare loop's tokens are minted before it starts,
			// so the Client's token cache is filled first too.
			mode.run(e, b, 0, benchUsers)
			e.bareLoop(b, 0, benchUsers)
			var ratios []float64
			b.ResetTimer()
			for done, round := 0, 0; done < b.N; done, round = done+outputRound, round+1 {
				n := min(outputRound, b.N-done)
				var bd, cd time.Duration
				var ba, ca uint64
				if round%2 == 0 {
					bd, ba = measure(done, n, (*benchEnv).bareLoop)
					cd, ca = measure(done, n, mode.run)
				} else {
					cd, ca = measure(done, n, mode.run)
					bd, ba = measure(done, n, (*benchEnv).bareLoop)
				}
				bareTime, bareAllocs = bareTime+bd, bareAllocs+ba
				colTime, colAllocs = colTime+cd, colAllocs+ca
				if n == outputRound {
					ratios = append(ratios, bd.Seconds()/cd.Seconds())
				}
			}
			bareRate := float64(b.N) / bareTime.Seconds()
			colRate := float64(b.N) / colTime.Seconds()
			sum := benchhub.Summarize(ratios)
			b.ReportMetric(bareRate, "bare-msgs/s")
			b.ReportMetric(colRate, "collector-msgs/s")
			b.ReportMetric(sum.Median, "x-bare")
			b.ReportMetric(sum.Min, "x-bare-min")
			b.ReportMetric(sum.Max, "x-bare-max")
			b.ReportMetric(float64(sum.N), "rounds")
			b.ReportMetric(colRate/bareRate, "x-bare-total")
			// CPU time (client and loopback server, this process) is
			// less disturbed by other work on the machine than wall time.
			b.ReportMetric(bareCPU.Seconds()/colCPU.Seconds(), "cpu-x-bare")
			b.ReportMetric(float64(bareAllocs)/float64(b.N), "bare-allocs/msg")
			b.ReportMetric(float64(colAllocs)/float64(b.N), "collector-allocs/msg")
			if sum.N > 0 {
				fmt.Printf("%s: per-round collector ÷ bare %v [%s]; CPU per message bare ÷ collector %.3f\n",
					b.Name(), sum, benchhub.List(ratios), bareCPU.Seconds()/colCPU.Seconds())
			}
			benchConns.Store(0)
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// outputRound is how many messages each side sends per round of
// BenchmarkOutputVsBareLoop: two chunks, a tenth of a second or so, so
// the two sides of a round see the same load from the rest of a shared
// machine (rounds of 4096 let a burst of other work fall on one side:
// per-round ratios then spread from 0.3 to 2.3).
const outputRound = 1024
