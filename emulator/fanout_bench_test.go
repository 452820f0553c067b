package emulator_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/benchhub"
)

// The fan-out benchmarks compare, round after round in alternating order,
// three servers delivering the same broadcast records to the same number of
// WebSocket clients over loopback:
//
//   - emulator: POST /api/hubs/bench/:send through the REST API (token
//     checked, body parsed, record encoded and appended to the hub's
//     broadcast log, every connection told; each connection's writer
//     sends what is there without waiting);
//   - hub: benchhub.Hub, the careful hand-written hub (POST /broadcast,
//     body parsed, record encoded, per-connection queues drained into
//     frames of at most 16 KiB without waiting);
//   - bare: benchhub.Bare, a coder/websocket goroutine per connection
//     writing the same records in a loop, k records per frame, where k is
//     the median records per frame the emulator sent in its runs so far
//     (rounded so that both send as many frames of the round's records).
//
// The clients live in another process (internal/cmd/benchreader), one per
// server, started for each side of each round: its connect time and the
// process's RSS growth while it connects are measured too. Its CPU time is
// reported, since it shares the machine's cores. Settings come from the
// environment, so that `make bench` can choose them:
//
//	FANOUT_CLIENTS (1000), FANOUT_MESSAGES per round (200), FANOUT_ROUNDS (5)
//
//	go test -run '^$' -bench 'Fanout$' -benchtime 1x ./emulator
//	FANOUT_CLIENTS=10000 go test -run '^$' -bench 'Fanout$' -benchtime 1x -timeout 30m ./emulator

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var (
	readerOnce sync.Once
	readerBin  string
	readerErr  error
)

func benchReader(b *testing.B) string {
	readerOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "signalr-benchreader")
		if readerErr = os.MkdirAll(dir, 0o755); readerErr != nil {
			return
		}
		readerBin, readerErr = benchhub.BuildReader(dir)
	})
	require.NoError(b, readerErr)
	return readerBin
}

// fanoutSide is one server under comparison.
type fanoutSide struct {
	name string
	// start starts the server and returns the readers' options, a sender
	// that delivers message i (nil for the bare loop), and a stop.
	start func(b *testing.B) (opts benchhub.ReaderOptions, send func(i int64) error, stop func())
}

// fanoutRun is what one side measured in one round.
type fanoutRun struct {
	rate       float64 // deliveries/s
	perFrame   float64 // records per frame the clients received
	connect    time.Duration
	rssPerConn float64 // bytes of RSS growth per connection while connecting
	goPerConn  float64 // bytes of Go heap+stacks growth per connection
	readerCPU  time.Duration
	serverCPU  time.Duration // this process's CPU while the side ran (server and REST senders)
}

// goMemory is the Go runtime's heap objects plus goroutine stacks, in bytes.
func goMemory() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64() + s[1].Value.Uint64())
}

func listen(b *testing.B, h http.Handler) (url string, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }
}

// restSender posts broadcasts to url from one of 64 keep-alive
// connections: the REST path a user's app takes.
func restSender(url, auth string, body func(i int64) string) (func(i int64) error, func()) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	send := func(i int64) error {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body(i)))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Drained, so that the connection is reused: the emulator's 202
		// has a body ("{}"), the hub's none, and a body closed unread
		// costs a new TCP connection per request, which made the
		// emulator's latency look twice the hub's.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST %s = %d", url, resp.StatusCode)
		}
		return nil
	}
	return send, client.CloseIdleConnections
}

func emulatorSide(b *testing.B, body func(i int64) string) (benchhub.ReaderOptions, func(int64) error, func()) {
	srv := emulator.NewServer(&emulator.Options{
		AccessKey:    testKey,
		WriteTimeout: fanoutWriteTimeout,
		// The readers send no pings (the hub needs none): without
		// this, connections that wait long for the others would be
		// dropped for silence.
		ClientTimeout: time.Hour,
		Logger:        benchLogger(),
	})
	token := mint(b, testKey, clientURL(srv, "bench"), nil)
	sendURL := srv.URL + "/api/hubs/bench/:send"
	send, closeIdle := restSender(sendURL, "Bearer "+mint(b, testKey, sendURL, jwt.MapClaims{"exp": time.Now().Add(24 * time.Hour).Unix()}), body)
	opts := benchhub.ReaderOptions{
		URL:       "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/?hub=bench",
		Headers:   []string{"Authorization: Bearer " + token},
		Handshake: true,
	}
	return opts, send, func() { closeIdle(); srv.Close() }
}

// hubSide is the careful hub checking tokens as the emulator does: a JWT
// on every POST and on every WebSocket (benchhub.Hub.Key).
func hubSide(b *testing.B, body func(i int64) string) (benchhub.ReaderOptions, func(int64) error, func()) {
	h := &benchhub.Hub{WriteTimeout: fanoutWriteTimeout, Key: []byte(testKey)}
	url, stop := listen(b, h)
	exp := jwt.MapClaims{"exp": time.Now().Add(24 * time.Hour).Unix()}
	send, closeIdle := restSender(url+"/broadcast", "Bearer "+mint(b, testKey, url+"/broadcast", exp), body)
	return benchhub.ReaderOptions{URL: "ws" + strings.TrimPrefix(url, "http") + "/", Handshake: true,
			Headers: []string{"Authorization: Bearer " + mint(b, testKey, url+"/", exp)}},
		send, func() { closeIdle(); h.Close(); stop() }
}

// fanoutWriteTimeout is both servers' write deadline: with 10,000 busy
// goroutines on 2 loaded cores, a writer can wait longer than the default
// 10 s for its turn, and a dropped client ends the benchmark.
const fanoutWriteTimeout = time.Minute

func BenchmarkFanout(b *testing.B) {
	clients := envInt("FANOUT_CLIENTS", 1000)
	messages := int64(envInt("FANOUT_MESSAGES", 200))
	rounds := envInt("FANOUT_ROUNDS", 5)
	bin := benchReader(b)
	body := func(int64) string { return benchBody }
	const window = 256 // broadcasts ahead of the slowest client, well inside both queues

	// k is the records per frame the bare loop writes: the emulator's
	// latest figure, rounded.
	k := 1
	var bare, lockstep *benchhub.Bare
	// FANOUT_LOCKSTEP=1 adds a diagnostic side: the bare loop with every
	// connection's frames in lockstep (benchhub.Bare.RunInLockstep).
	withLockstep := os.Getenv("FANOUT_LOCKSTEP") == "1"
	sides := map[string]fanoutSide{
		"emulator": {"emulator", func(b *testing.B) (benchhub.ReaderOptions, func(int64) error, func()) {
			return emulatorSide(b, body)
		}},
		"hub": {"hub", func(b *testing.B) (benchhub.ReaderOptions, func(int64) error, func()) { return hubSide(b, body) }},
		"bare": {"bare", func(b *testing.B) (benchhub.ReaderOptions, func(int64) error, func()) {
			bare = &benchhub.Bare{}
			url, stop := listen(b, bare)
			return benchhub.ReaderOptions{URL: "ws" + strings.TrimPrefix(url, "http") + "/", Handshake: true},
				nil, func() { bare.Close(); stop() }
		}},
		"lockstep": {"lockstep", func(b *testing.B) (benchhub.ReaderOptions, func(int64) error, func()) {
			lockstep = &benchhub.Bare{}
			url, stop := listen(b, lockstep)
			return benchhub.ReaderOptions{URL: "ws" + strings.TrimPrefix(url, "http") + "/", Handshake: true},
				nil, func() { lockstep.Close(); stop() }
		}},
	}

	run := func(side fanoutSide, n int64) fanoutRun {
		runtime.GC()
		debug.FreeOSMemory()
		rss0, go0 := benchhub.RSS(), goMemory()
		opts, send, stop := side.start(b)
		defer stop()
		opts.Clients = clients
		rd, err := benchhub.StartReaders(bin, opts, 2*time.Minute)
		require.NoError(b, err, "%s: %v", side.name, err)
		defer rd.Close()
		// Every connection is registered once the reader has its
		// handshake answer; give the server's goroutines a moment to park.
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		out := fanoutRun{
			connect:    rd.ConnectTime,
			rssPerConn: float64(benchhub.RSS()-rss0) / float64(clients),
			goPerConn:  (goMemory() - go0) / float64(clients),
		}
		cpu0 := rd.CPU()
		self0 := benchhub.ProcessCPU(os.Getpid())
		start := time.Now()
		if send == nil && side.name == "lockstep" {
			go lockstep.RunInLockstep(benchRecord, int(n), k)
		} else if send == nil {
			go bare.Run(benchRecord, int(n), k)
		} else {
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
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
				require.FailNow(b, fmt.Sprintf("%s: %v", side.name, err))
			}
		}
		if err := rd.WaitLeast(n, 2*time.Minute); err != nil {
			require.FailNow(b, fmt.Sprintf("%s: %v", side.name, err))
		}
		out.rate = float64(n*int64(clients)) / time.Since(start).Seconds()
		out.readerCPU = rd.CPU() - cpu0
		out.serverCPU = benchhub.ProcessCPU(os.Getpid()) - self0
		frames, records, err := rd.Stats()
		require.NoError(b, err)
		out.perFrame = float64(records) / float64(frames)
		return out
	}

	// k follows the median of the emulator's records per frame so far,
	// starting with a warm-up run, so that the bare loop writes as many
	// records per frame as the emulator does, whichever runs first.
	var seenRPF []float64
	setK := func(rpf float64) {
		seenRPF = append(seenRPF, rpf)
		// As many frames as the emulator's median, each as full.
		frames := max(1, int(float64(messages)/benchhub.Summarize(seenRPF).Median+0.5))
		k = int((messages + int64(frames) - 1) / int64(frames))
	}
	setK(run(sides["emulator"], messages).perFrame) // a whole round: its records per frame are a round's
	b.ResetTimer()
	var vsBare, vsHub, connVsHub, rssVsHub, vsLockstep, lockstepVsBare, cpuVsBare, cpuVsHub []float64
	var emuRPF, bareRPF, hubRPF, emuRSS, hubRSS, bareRSS, emuGo, hubGo []float64
	benchLog("clients %d, %d broadcasts per round; load average %s", clients, messages, loadAverage())
	benchLog("round order: emulator/s bare/s (k) hub/s | emu÷bare emu÷hub | rec/frame emu bare hub | connect emu hub | RSS/conn KiB emu hub bare | reader CPU emu bare hub")
	for r := 0; r < rounds; r++ {
		order := []string{"emulator", "bare", "hub"}
		if withLockstep {
			order = []string{"emulator", "bare", "lockstep", "hub"}
		}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		res := map[string]fanoutRun{}
		usedK := 0
		for _, name := range order {
			if name == "bare" || name == "lockstep" {
				usedK = k
			}
			res[name] = run(sides[name], messages)
			if name == "emulator" {
				setK(res[name].perFrame)
			}
		}
		e, h, bb := res["emulator"], res["hub"], res["bare"]
		vsBare = append(vsBare, e.rate/bb.rate)
		vsHub = append(vsHub, e.rate/h.rate)
		connVsHub = append(connVsHub, e.connect.Seconds()/h.connect.Seconds())
		rssVsHub = append(rssVsHub, e.rssPerConn/h.rssPerConn)
		emuRPF, bareRPF, hubRPF = append(emuRPF, e.perFrame), append(bareRPF, bb.perFrame), append(hubRPF, h.perFrame)
		emuRSS, hubRSS, bareRSS = append(emuRSS, e.rssPerConn/1024), append(hubRSS, h.rssPerConn/1024), append(bareRSS, bb.rssPerConn/1024)
		emuGo, hubGo = append(emuGo, e.goPerConn/1024), append(hubGo, h.goPerConn/1024)
		benchLog("%d %s: %.0f %.0f (k=%d) %.0f | %.2f %.2f | %.1f %.1f %.1f | %v %v | %.1f %.1f %.1f | %v %v %v",
			r+1, order[0], e.rate, bb.rate, usedK, h.rate, e.rate/bb.rate, e.rate/h.rate,
			e.perFrame, bb.perFrame, h.perFrame, e.connect, h.connect,
			e.rssPerConn/1024, h.rssPerConn/1024, bb.rssPerConn/1024, e.readerCPU, bb.readerCPU, h.readerCPU)
		// CPU per delivery in this process, which the readers' share of
		// the cores does not blur: bare's ÷ the emulator's.
		perDelivery := func(f fanoutRun) float64 { return f.serverCPU.Seconds() / float64(messages*int64(clients)) }
		cpuVsBare = append(cpuVsBare, perDelivery(bb)/perDelivery(e))
		cpuVsHub = append(cpuVsHub, perDelivery(h)/perDelivery(e))
		benchLog("  CPU per delivery in this process: emulator %.2f µs, bare %.2f µs, hub %.2f µs; bare ÷ emulator %.2f, hub ÷ emulator %.2f",
			perDelivery(e)*1e6, perDelivery(bb)*1e6, perDelivery(h)*1e6, perDelivery(bb)/perDelivery(e), perDelivery(h)/perDelivery(e))
		if ls, ok := res["lockstep"]; ok {
			vsLockstep = append(vsLockstep, e.rate/ls.rate)
			lockstepVsBare = append(lockstepVsBare, ls.rate/bb.rate)
			benchLog("  lockstep: %.0f/s, %.1f records per frame, %.2f µs CPU per delivery; emulator ÷ lockstep %.2f, lockstep ÷ bare %.2f",
				ls.rate, ls.perFrame, perDelivery(ls)*1e6, e.rate/ls.rate, ls.rate/bb.rate)
		}
	}
	b.StopTimer()
	benchLog("emulator ÷ bare (same records per frame): %v [%s]", benchhub.Summarize(vsBare), benchhub.List(vsBare))
	benchLog("emulator ÷ hub: %v [%s]", benchhub.Summarize(vsHub), benchhub.List(vsHub))
	benchLog("CPU per delivery in this process, bare ÷ emulator: %v; hub ÷ emulator: %v", benchhub.Summarize(cpuVsBare), benchhub.Summarize(cpuVsHub))
	if withLockstep {
		benchLog("emulator ÷ lockstep bare: %v [%s]", benchhub.Summarize(vsLockstep), benchhub.List(vsLockstep))
		benchLog("lockstep bare ÷ bare: %v [%s]", benchhub.Summarize(lockstepVsBare), benchhub.List(lockstepVsBare))
	}
	benchLog("records per frame: emulator %v, bare %v, hub %v", benchhub.Summarize(emuRPF), benchhub.Summarize(bareRPF), benchhub.Summarize(hubRPF))
	benchLog("connect time emulator ÷ hub: %v", benchhub.Summarize(connVsHub))
	benchLog("idle RSS per connection KiB: emulator %v, hub %v, bare %v; emulator ÷ hub %v", benchhub.Summarize(emuRSS), benchhub.Summarize(hubRSS), benchhub.Summarize(bareRSS), benchhub.Summarize(rssVsHub))
	benchLog("Go heap+stacks per connection KiB: emulator %v, hub %v", benchhub.Summarize(emuGo), benchhub.Summarize(hubGo))
	b.ReportMetric(benchhub.Summarize(vsBare).Median, "x-bare")
	b.ReportMetric(benchhub.Summarize(vsHub).Median, "x-hub")
	b.ReportMetric(benchhub.Summarize(emuRSS).Median, "emu-KiB/conn")
}

// BenchmarkFanoutLatency measures REST POST → client receive latency at a
// steady rate, emulator against the careful hub, in alternating rounds.
// Each broadcast carries the Unix time in nanoseconds taken just before its
// POST; the reader process subtracts it from its clock on receipt.
//
//	LATENCY_CLIENTS (100), LATENCY_RATE msg/s (1000), LATENCY_SECONDS per round (2), LATENCY_ROUNDS (5)
//
//	go test -run '^$' -bench 'FanoutLatency' -benchtime 1x ./emulator
func BenchmarkFanoutLatency(b *testing.B) {
	clients := envInt("LATENCY_CLIENTS", 100)
	rate := envInt("LATENCY_RATE", 1000)
	seconds := envInt("LATENCY_SECONDS", 2)
	rounds := envInt("LATENCY_ROUNDS", 5)
	bin := benchReader(b)
	body := func(int64) string {
		return `{"target":"newMessage","arguments":["` + strings.Repeat("x", 100) + `",` + strconv.FormatInt(time.Now().UnixNano(), 10) + `]}`
	}
	type side struct {
		name   string
		rd     *benchhub.Readers
		send   func(int64) error
		target int64
	}
	sides := map[string]*side{}
	for _, name := range []string{"emulator", "hub"} {
		var opts benchhub.ReaderOptions
		var send func(int64) error
		var stop func()
		if name == "emulator" {
			opts, send, stop = emulatorSide(b, body)
		} else {
			opts, send, stop = hubSide(b, body)
		}
		defer stop()
		opts.Clients = clients
		rd, err := benchhub.StartReaders(bin, opts, time.Minute)
		require.NoError(b, err)
		defer rd.Close()
		sides[name] = &side{name: name, rd: rd, send: send}
	}
	// steady sends n messages at rate from 16 workers, each message at its
	// scheduled time, and waits until every client has them.
	steady := func(s *side, n int64) {
		interval := time.Second / time.Duration(rate)
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Value
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
					if err := s.send(i); err != nil {
						failed.CompareAndSwap(nil, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			require.NoError(b, err)
		}
		s.target += n
		require.NoError(b, s.rd.WaitLeast(s.target, time.Minute), s.name)
	}
	n := int64(rate * seconds)
	for _, s := range sides { // warm-up, not counted
		steady(s, n/4)
		if _, _, _, err := s.rd.Latency(); err != nil {
			require.NoError(b, err)
		}
	}
	b.ResetTimer()
	benchLog("%d clients, %d msg/s, %d s per round; load average %s", clients, rate, seconds, loadAverage())
	benchLog("round first: emulator p50 p99 | hub p50 p99 | ratio p50 p99")
	var r50, r99, e50s, e99s, h50s, h99s []float64
	for r := 0; r < rounds; r++ {
		order := []string{"emulator", "hub"}
		if r%2 == 1 {
			order = []string{"hub", "emulator"}
		}
		lat := map[string][2]time.Duration{}
		for _, name := range order {
			s := sides[name]
			steady(s, n)
			count, p50, p99, err := s.rd.Latency()
			require.NoError(b, err)
			require.False(b, count != n*int64(clients), "%s: %d latencies, want %d", name, count, n*int64(clients))
			lat[name] = [2]time.Duration{p50, p99}
		}
		e, h := lat["emulator"], lat["hub"]
		r50 = append(r50, e[0].Seconds()/h[0].Seconds())
		r99 = append(r99, e[1].Seconds()/h[1].Seconds())
		e50s, e99s = append(e50s, float64(e[0].Microseconds())), append(e99s, float64(e[1].Microseconds()))
		h50s, h99s = append(h50s, float64(h[0].Microseconds())), append(h99s, float64(h[1].Microseconds()))
		benchLog("%d %s: %v %v | %v %v | %.2f %.2f", r+1, order[0], e[0], e[1], h[0], h[1], r50[r], r99[r])
	}
	b.StopTimer()
	benchLog("p50 emulator ÷ hub: %v [%s]", benchhub.Summarize(r50), benchhub.List(r50))
	benchLog("p99 emulator ÷ hub: %v [%s]", benchhub.Summarize(r99), benchhub.List(r99))
	benchLog("µs: emulator p50 %v p99 %v; hub p50 %v p99 %v", benchhub.Summarize(e50s), benchhub.Summarize(e99s), benchhub.Summarize(h50s), benchhub.Summarize(h99s))
	b.ReportMetric(benchhub.Summarize(r50).Median, "p50-x-hub")
	b.ReportMetric(benchhub.Summarize(r99).Median, "p99-x-hub")
}

// benchLogger is the emulator's logger in the benchmarks: nothing, or its
// warnings and disconnects on stderr with FANOUT_DEBUG=1.
func benchLogger() *slog.Logger {
	if os.Getenv("FANOUT_DEBUG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return nil
}

// benchLog prints a line of a benchmark's table: testing truncates a
// benchmark's log to a few lines.
func benchLog(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}
