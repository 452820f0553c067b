package emulator_test

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/funcsignalr/signalr/internal/benchhub"
	"github.com/stretchr/testify/require"
)

// BenchmarkIdleConnections connects IDLE_CLIENTS (default 1,000) readers to
// the emulator and, in alternating rounds, to the careful hub, and says
// where each idle connection's memory goes: RSS, Go heap objects, goroutine
// stacks and goroutines per connection, with the connect time as a ratio
// against the hub's. IDLE_HEAPPROFILE=file writes the emulator's in-use
// heap profile of the last round, taken while every client is connected.
func BenchmarkIdleConnections(b *testing.B) {
	clients := envInt("IDLE_CLIENTS", 1000)
	rounds := envInt("IDLE_ROUNDS", 3)
	bin := benchReader(b)
	body := func(int64) string { return benchBody }
	type sample struct {
		connect                      time.Duration
		rss, heap, stacks, goroutine float64 // per connection
		stacksLater                  float64 // after two more GCs
		rssReturned                  float64 // RSS once free pages are returned to the OS
		free, unused                 float64 // heap pages kept free, span slack
	}
	measure := func(name string, profile string) sample {
		var opts benchhub.ReaderOptions
		var stop func()
		if name == "emulator" {
			opts, _, stop = emulatorSide(b, body)
		} else {
			opts, _, stop = hubSide(b, body)
		}
		defer stop()
		runtime.GC()
		debug.FreeOSMemory()
		m0 := readIdleMetrics()
		rss0 := benchhub.RSS()
		opts.Clients = clients
		rd, err := benchhub.StartReaders(bin, opts, 2*time.Minute)
		require.NoError(b, err, "%s: %v", name, err)
		defer rd.Close()
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		m1 := readIdleMetrics()
		n := float64(clients)
		s := sample{
			connect:   rd.ConnectTime,
			rss:       float64(benchhub.RSS()-rss0) / n,
			heap:      (m1[0] - m0[0]) / n,
			stacks:    (m1[1] - m0[1]) / n,
			goroutine: (m1[2] - m0[2]) / n,
			free:      (m1[3] - m0[3]) / n,
			unused:    (m1[4] - m0[4]) / n,
		}
		// The runtime shrinks a goroutine's stack by half at most once per
		// GC; an idle server gets one every two minutes at least.
		runtime.GC()
		runtime.GC()
		s.stacksLater = (readIdleMetrics()[1] - m0[1]) / n
		// The free pages go back to the OS over the next minutes (the
		// runtime's background scavenger); this is the RSS once they have.
		debug.FreeOSMemory()
		s.rssReturned = float64(benchhub.RSS()-rss0) / n
		if profile != "" {
			f, err := os.Create(profile)
			require.NoError(b, err)
			defer f.Close()
			require.NoError(b, pprof.Lookup("heap").WriteTo(f, 0))
		}
		return s
	}
	var eRSS2, hRSS2 []float64
	var conn, eRSS, hRSS, eHeap, hHeap, eStack, hStack, eStack3, hStack3 []float64
	var eG, hG float64
	benchLog("clients %d; load average %s", clients, loadAverage())
	benchLog("round: connect emu÷hub | KiB/conn RSS heap stacks (after 3 GCs) free-pages span-slack emu | hub | goroutines/conn emu hub")
	for round := range rounds {
		var e, h sample
		profile := ""
		if round == rounds-1 {
			profile = os.Getenv("IDLE_HEAPPROFILE")
		}
		if round%2 == 0 {
			e, h = measure("emulator", profile), measure("hub", "")
		} else {
			h, e = measure("hub", ""), measure("emulator", profile)
		}
		conn = append(conn, e.connect.Seconds()/h.connect.Seconds())
		eRSS, hRSS = append(eRSS, e.rss/1024), append(hRSS, h.rss/1024)
		eHeap, hHeap = append(eHeap, e.heap/1024), append(hHeap, h.heap/1024)
		eStack, hStack = append(eStack, e.stacks/1024), append(hStack, h.stacks/1024)
		eStack3, hStack3 = append(eStack3, e.stacksLater/1024), append(hStack3, h.stacksLater/1024)
		eG, hG = e.goroutine, h.goroutine
		eRSS2, hRSS2 = append(eRSS2, e.rssReturned/1024), append(hRSS2, h.rssReturned/1024)
		benchLog("%d: %.2f (%v / %v) | %.1f %.1f %.1f (%.1f) %.1f %.1f | %.1f %.1f %.1f (%.1f) %.1f %.1f | %.2f %.2f", round+1,
			conn[round], e.connect.Round(time.Millisecond), h.connect.Round(time.Millisecond),
			e.rss/1024, e.heap/1024, e.stacks/1024, e.stacksLater/1024, e.free/1024, e.unused/1024,
			h.rss/1024, h.heap/1024, h.stacks/1024, h.stacksLater/1024, h.free/1024, h.unused/1024, e.goroutine, h.goroutine)
	}
	benchLog("connect time emulator ÷ hub: %v", benchhub.Summarize(conn))
	benchLog("KiB per idle connection, emulator: RSS %v, heap objects %v, stacks %v, stacks after 3 GCs %v", benchhub.Summarize(eRSS), benchhub.Summarize(eHeap), benchhub.Summarize(eStack), benchhub.Summarize(eStack3))
	benchLog("KiB per idle connection, hub: RSS %v, heap objects %v, stacks %v, stacks after 3 GCs %v", benchhub.Summarize(hRSS), benchhub.Summarize(hHeap), benchhub.Summarize(hStack), benchhub.Summarize(hStack3))
	benchLog("goroutines per connection: emulator %.2f, hub %.2f", eG, hG)
	benchLog("KiB RSS per idle connection once free pages are returned to the OS: emulator %v, hub %v [%s | %s]",
		benchhub.Summarize(eRSS2), benchhub.Summarize(hRSS2), benchhub.List(eRSS2), benchhub.List(hRSS2))
	b.ReportMetric(benchhub.Summarize(conn).Median, "connect-x-hub")
	b.ReportMetric(benchhub.Summarize(eRSS).Median, "emu-KiB/conn")
}

// readIdleMetrics returns the Go heap's live objects, goroutine stacks
// (bytes), the number of goroutines, the heap's free pages not yet
// returned to the OS and the unused part of its spans (bytes).
func readIdleMetrics() [5]float64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(s)
	return [5]float64{float64(s[0].Value.Uint64()), float64(s[1].Value.Uint64()), float64(s[2].Value.Uint64()),
		float64(s[3].Value.Uint64()), float64(s[4].Value.Uint64())}
}
