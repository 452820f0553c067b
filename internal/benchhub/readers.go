package benchhub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BuildReader builds internal/cmd/benchreader into dir and returns its path.
func BuildReader(dir string) (string, error) {
	bin := filepath.Join(dir, "benchreader")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/funcsignalr/signalr/internal/cmd/benchreader")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building benchreader: %v: %s", err, out)
	}
	return bin, nil
}

// ReaderOptions says what a benchreader process connects to.
type ReaderOptions struct {
	URL       string
	Clients   int
	Headers   []string // "Name: value"
	Handshake bool     // send the JSON hub protocol handshake
}

// Readers is a running benchreader process.
type Readers struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// ConnectTime is how long dialing every connection took, as the
	// process measured it.
	ConnectTime time.Duration

	least   atomic.Int64 // smallest record count of any connection
	ended   atomic.Int64 // connections that ended
	replies chan string
	exited  chan struct{}
	stderr  strings.Builder
}

// StartReaders starts bin and waits, at most timeout, until every
// connection is open.
func StartReaders(bin string, opts ReaderOptions, timeout time.Duration) (*Readers, error) {
	args := []string{"-url", opts.URL, "-n", strconv.Itoa(opts.Clients), "-dial-timeout", timeout.String()}
	for _, h := range opts.Headers {
		args = append(args, "-header", h)
	}
	if opts.Handshake {
		args = append(args, "-handshake")
	}
	r := &Readers{cmd: exec.Command(bin, args...), replies: make(chan string, 16), exited: make(chan struct{})}
	r.cmd.Stderr = &syncWriter{b: &r.stderr}
	var err error
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan time.Duration, 1)
	go func() {
		defer close(r.exited)
		in := bufio.NewScanner(stdout)
		for in.Scan() {
			word, rest, _ := strings.Cut(in.Text(), " ")
			v, _ := strconv.ParseInt(strings.Fields(rest + " 0")[0], 10, 64)
			switch word {
			case "p":
				r.least.Store(v)
			case "ended":
				r.ended.Store(v)
			case "ready":
				ready <- time.Duration(v) * time.Millisecond
			default:
				r.replies <- in.Text()
			}
		}
	}()
	select {
	case r.ConnectTime = <-ready:
		return r, nil
	case <-r.exited:
		_ = r.cmd.Wait()
		return nil, fmt.Errorf("benchreader exited before connecting: %s", r.stderr.String())
	case <-time.After(timeout + 5*time.Second):
		r.Close()
		return nil, errors.New("benchreader did not connect in time")
	}
}

// Least is the smallest number of records any connection has received.
func (r *Readers) Least() int64 { return r.least.Load() }

// Ended is the number of connections that ended.
func (r *Readers) Ended() int64 { return r.ended.Load() }

// WaitLeast waits until every connection has received target records. It
// fails when a connection ends or timeout passes.
func (r *Readers) WaitLeast(target int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.least.Load() < target {
		if n := r.ended.Load(); n > 0 {
			return fmt.Errorf("%d connections ended (dropped by the server?)", n)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out: slowest connection at %d of %d records", r.least.Load(), target)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

func (r *Readers) ask(cmd string) ([]int64, error) {
	if _, err := io.WriteString(r.stdin, cmd+"\n"); err != nil {
		return nil, err
	}
	select {
	case line := <-r.replies:
		var vs []int64
		for _, f := range strings.Fields(line)[1:] {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("benchreader said %q", line)
			}
			vs = append(vs, v)
		}
		return vs, nil
	case <-r.exited:
		return nil, fmt.Errorf("benchreader exited: %s", r.stderr.String())
	case <-time.After(30 * time.Second):
		return nil, errors.New("benchreader did not answer")
	}
}

// Stats returns the frames and records received so far, pings left out.
func (r *Readers) Stats() (frames, records int64, err error) {
	vs, err := r.ask("stats")
	if err != nil || len(vs) != 2 {
		return 0, 0, fmt.Errorf("stats: %v", err)
	}
	return vs[0], vs[1], nil
}

// Latency returns the median and 99th percentile of the send-to-receive
// latencies of the timestamped records since the last call.
func (r *Readers) Latency() (n int64, p50, p99 time.Duration, err error) {
	vs, err := r.ask("lat")
	if err != nil || len(vs) != 3 {
		return 0, 0, 0, fmt.Errorf("lat: %v", err)
	}
	return vs[0], time.Duration(vs[1]), time.Duration(vs[2]), nil
}

// CPU is the user plus system CPU time the process has used, from /proc
// (zero where there is none).
func (r *Readers) CPU() time.Duration { return ProcessCPU(r.cmd.Process.Pid) }

// Close closes the connections and waits for the process, killing it if it
// takes more than 10 s.
func (r *Readers) Close() {
	_ = r.stdin.Close()
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
	_ = r.cmd.Wait()
}

// ProcessCPU reads a process's user+system CPU time from /proc/pid/stat.
func ProcessCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which ends with the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ = 100
}

// RSS is this process's resident set size in bytes, from /proc.
func RSS() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
