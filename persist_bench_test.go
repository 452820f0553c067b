package signalr_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
)

// BenchmarkPersistentVsREST compares, on one emulator in the same run,
// sends through TransportPersistent and through REST: 64 concurrent
// senders, one message per call, to the one connection of a JSON client
// that stamps each arrival. The emulator runs in its own process
// (bin/signalr-emulator, from make build), so that the CPU of each side is
// measured apart: the app side is this process (getrusage: both Clients,
// the senders and the receiving client, the same work per message either
// way), the emulator side the child's threads (/proc/<pid>/task/*/schedstat,
// nanoseconds on CPU). Rounds go in pairs whose order alternates (REST
// first, then persistent first, …); it reports the medians over the pairs
// of the persistent/REST ratios (sends/s, p50 and p99 send-to-receive
// latency, CPU per send on each side) and logs their ranges and the
// absolute medians.
func BenchmarkPersistentVsREST(b *testing.B) {
	const senders, perRound, pairs = 64, 4000, 7
	emu := spawnEmulator(b)
	rest, err := signalr.NewClientFromConnectionString(emu.connectionString, nil)
	require.NoError(b, err)
	defer rest.Close()
	pers, err := signalr.NewClientFromConnectionString(emu.connectionString, &signalr.ClientOptions{Transport: signalr.TransportPersistent})
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
	// round returns sends/s, p50 and p99 in µs, and the µs of CPU per
	// send of the app process and of the emulator process.
	round := func(c *signalr.Client) [5]float64 {
		sent := make([]time.Time, 0, perRound)
		var sentMu sync.Mutex
		ids := make([]int, 0, perRound)
		app, emuCPU := cpuTime(), emu.cpu(b)
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
		app, emuCPU = cpuTime()-app, emu.cpu(b)-emuCPU
		lat := make([]float64, len(ids))
		mu.Lock()
		for i, n := range ids {
			lat[i] = float64(arrived[n].Sub(sent[i]).Microseconds())
			delete(arrived, n)
		}
		mu.Unlock()
		sort.Float64s(lat)
		return [5]float64{perRound / elapsed.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100],
			float64(app.Microseconds()) / perRound, float64(emuCPU.Microseconds()) / perRound}
	}
	round(rest) // warm up both
	round(pers)
	b.ResetTimer()
	var rr, pr, ratio [5][]float64
	for i := 0; i < pairs; i++ {
		var rv, pv [5]float64
		if i%2 == 0 {
			rv = round(rest)
			pv = round(pers)
		} else {
			pv = round(pers)
			rv = round(rest)
		}
		for j := range rv {
			rr[j] = append(rr[j], rv[j])
			pr[j] = append(pr[j], pv[j])
			ratio[j] = append(ratio[j], pv[j]/rv[j])
		}
	}
	names := []string{"sends/s", "p50-µs", "p99-µs", "app-cpu-µs/send", "emulator-cpu-µs/send"}
	for j, name := range names {
		b.ReportMetric(median(rr[j]), "rest-"+name)
		b.ReportMetric(median(pr[j]), "persistent-"+name)
		b.ReportMetric(median(ratio[j]), "ratio-"+name)
		b.Logf("%s: persistent/REST %.2f (%s); REST median %.0f (%s), persistent median %.0f (%s)",
			name, median(ratio[j]), spanRatio(ratio[j]), median(rr[j]), span(rr[j]), median(pr[j]), span(pr[j]))
	}
}

// benchEmulator is bin/signalr-emulator running in its own process.
type benchEmulator struct {
	connectionString string
	pid              int
}

// spawnEmulator starts bin/signalr-emulator on a free port, reads the
// connection string it prints, and stops it at the end of the benchmark.
func spawnEmulator(b *testing.B) *benchEmulator {
	b.Helper()
	bin, err := filepath.Abs(filepath.Join("bin", "signalr-emulator"))
	require.NoError(b, err)
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s is missing: run make build first (the benchmark runs the emulator in its own process to measure each side's CPU)", bin)
	}
	cmd := exec.Command(bin, "-port", "0")
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case cs, ok := <-line:
		require.True(b, ok && strings.HasPrefix(cs, "Endpoint="), "the emulator printed %q", cs)
		return &benchEmulator{connectionString: cs, pid: cmd.Process.Pid}
	case <-time.After(30 * time.Second):
		b.Fatal("the emulator printed no connection string within 30s")
	}
	return nil
}

// cpu is the time the emulator's threads have spent on a CPU, from the
// first field of each /proc/<pid>/task/<tid>/schedstat (nanoseconds).
func (e *benchEmulator) cpu(b *testing.B) time.Duration {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", e.pid))
	require.NoError(b, err)
	var total int64
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that ended
		}
		f := strings.Fields(string(data))
		if len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			total += n
		}
	}
	return time.Duration(total)
}

func spanRatio(v []float64) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return strconv.FormatFloat(s[0], 'f', 2, 64) + "-" + strconv.FormatFloat(s[len(s)-1], 'f', 2, 64)
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
