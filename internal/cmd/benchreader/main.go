// Command benchreader is the client side of the fan-out benchmarks: it
// opens many WebSocket connections to one server and counts the SignalR
// records each receives, in a process of its own so that reading costs the
// server under test nothing but the CPU the two share. It is started and
// driven by internal/benchhub; it is not a user tool.
//
// It dials -n connections to -url (with -header added to each request),
// optionally sends the JSON hub protocol handshake and waits for its
// answer, then prints "ready <connect-ms>". While it runs it prints
// "p <records>" whenever the smallest count of records received by any
// connection grows (checked every millisecond), and "ended <n>" when
// connections end. It answers these commands on stdin, one per line:
//
//	stats  prints "stats <frames> <records>": the totals since start
//	lat    prints "lat <count> <p50-ns> <p99-ns>" over the records since the
//	       last lat whose last argument was a Unix time in nanoseconds, and
//	       forgets them
//
// End of input (or "quit") closes every connection and exits. Pings
// ({"type":6}) are not counted.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/funcsignalr/signalr/internal/hubproto"
)

// pingRecord is a Ping without its record separator.
var pingRecord = bytes.TrimSuffix(bytes.Clone(hubproto.JSON.Ping()), []byte{hubproto.RecordSeparator})

type conn struct {
	ws      *websocket.Conn
	records atomic.Int64
	frames  atomic.Int64

	mu  sync.Mutex
	lat []int64 // latencies in ns of timestamped records since the last lat
}

func main() {
	url := flag.String("url", "", "WebSocket URL to dial")
	n := flag.Int("n", 1, "connections")
	var headers multiFlag
	flag.Var(&headers, "header", "`Name: value` added to every dial (repeatable)")
	handshake := flag.Bool("handshake", false, "send the JSON hub protocol handshake and wait for its answer")
	parallel := flag.Int("dial-parallel", 32, "dials in flight")
	dialTimeout := flag.Duration("dial-timeout", 60*time.Second, "bound on dialing every connection")
	readLimit := flag.Int64("read-limit", 1<<20, "largest frame accepted")
	flag.Parse()
	if *url == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "benchreader: -url and -n >= 1 are required")
		os.Exit(2)
	}
	h := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "benchreader: -header %q: want Name: value\n", kv)
			os.Exit(2)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}

	out := &output{w: bufio.NewWriter(os.Stdout)}
	conns := make([]*conn, *n)
	ctx, cancel := context.WithTimeout(context.Background(), *dialTimeout)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var dialErr atomic.Value
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < *n && dialErr.Load() == nil; i = int(next.Add(1) - 1) {
				c, err := dial(ctx, *url, h, *handshake, *readLimit)
				if err != nil {
					dialErr.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	cancel()
	if err, _ := dialErr.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, "benchreader:", err)
		for _, c := range conns {
			if c != nil {
				c.ws.CloseNow()
			}
		}
		os.Exit(1)
	}
	out.printf("ready %d\n", time.Since(start).Milliseconds())

	var ended atomic.Int64
	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c.read()
			out.printf("ended %d\n", ended.Add(1))
		}()
	}
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(conns, out, stop)
	}()

	in := bufio.NewScanner(os.Stdin)
commands:
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "stats":
			var frames, records int64
			for _, c := range conns {
				frames += c.frames.Load()
				records += c.records.Load()
			}
			out.printf("stats %d %d\n", frames, records)
		case "lat":
			var all []int64
			for _, c := range conns {
				c.mu.Lock()
				all = append(all, c.lat...)
				c.lat = c.lat[:0]
				c.mu.Unlock()
			}
			slices.Sort(all)
			out.printf("lat %d %d %d\n", len(all), quantile(all, 0.50), quantile(all, 0.99))
		case "quit":
			break commands
		}
	}
	close(stop)
	<-progressDone
	for _, c := range conns {
		c.ws.CloseNow()
	}
	readers.Wait()
}

func dial(ctx context.Context, url string, h http.Header, handshake bool, readLimit int64) (*conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(readLimit)
	if handshake {
		if err := ws.Write(ctx, websocket.MessageText, hubproto.JSON.HandshakeRequest()); err != nil {
			ws.CloseNow()
			return nil, err
		}
		_, answer, err := ws.Read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, err
		}
		if !bytes.Equal(answer, hubproto.HandshakeResponse("")) {
			ws.CloseNow()
			return nil, fmt.Errorf("handshake answered %q", answer)
		}
	}
	return &conn{ws: ws}, nil
}

// read counts records until the connection ends.
func (c *conn) read() {
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		var n int64
		for len(data) > 0 {
			i := bytes.IndexByte(data, hubproto.RecordSeparator)
			if i < 0 {
				break
			}
			record := data[:i]
			data = data[i+1:]
			if bytes.Equal(record, pingRecord) {
				continue
			}
			n++
			if ts, ok := lastNumber(record); ok {
				c.mu.Lock()
				c.lat = append(c.lat, now-ts)
				c.mu.Unlock()
			}
		}
		if n > 0 {
			c.frames.Add(1)
			c.records.Add(n)
		}
	}
}

// lastNumber reads the integer that ends an Invocation's arguments array:
// the `123` of `...,123]}`. Timestamps are far larger than any other
// number the benchmarks send.
func lastNumber(record []byte) (int64, bool) {
	end := bytes.LastIndexByte(record, ']')
	if end < 0 {
		return 0, false
	}
	i := end
	for i > 0 && record[i-1] >= '0' && record[i-1] <= '9' {
		i--
	}
	if i == end || end-i > 19 || i == 0 || record[i-1] != ',' {
		return 0, false
	}
	var v int64
	for _, d := range record[i:end] {
		v = v*10 + int64(d-'0')
	}
	return v, v > 1e18
}

// progress prints the smallest record count whenever it grows.
func progress(conns []*conn, out *output, stop <-chan struct{}) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last := int64(-1)
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		least := conns[0].records.Load()
		for _, c := range conns[1:] {
			least = min(least, c.records.Load())
		}
		if least != last {
			last = least
			out.printf("p %d\n", least)
		}
	}
}

func quantile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// output serializes lines to stdout and flushes each.
type output struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *output) printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, format, args...)
	_ = o.w.Flush()
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
