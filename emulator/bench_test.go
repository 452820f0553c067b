package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

const benchClients = 1000

// benchRecord is what both sides deliver: the Invocation record the
// emulator makes of benchBody.
var (
	benchArgs   = []byte(`["` + strings.Repeat("x", 100) + `"]`)
	benchBody   = `{"target":"newMessage","arguments":["` + strings.Repeat("x", 100) + `"]}`
	benchRecord = []byte(`{"type":1,"target":"newMessage","arguments":["` + strings.Repeat("x", 100) + `"]}` + "\x1e")
)

// readers are benchClients clients that count the records they receive.
// The same reader code serves both sides of each comparison; each client
// is a function returning its next frame.
type readers struct {
	closers []func()
	count   func(frame []byte) int64   // records in a frame
	counts  [benchClients]atomic.Int64 // records received by each client
	target  atomic.Int64               // records each client waits for
	ended   atomic.Int64               // clients whose connection ended
	done    sync.WaitGroup
	stopped sync.WaitGroup
}

// countJSON counts JSON records; countMessagePack counts length-prefixed
// messages.
func countJSON(frame []byte) int64 { return int64(bytes.Count(frame, []byte{0x1e})) }

func countMessagePack(frame []byte) int64 {
	var n int64
	for len(frame) > 0 {
		size, shift, i := 0, 0, 0
		for ; i < len(frame); i++ {
			size |= int(frame[i]&0x7f) << shift
			shift += 7
			if frame[i]&0x80 == 0 {
				break
			}
		}
		frame = frame[min(len(frame), i+1+size):]
		n++
	}
	return n
}

func (rs *readers) start(ws *websocket.Conn) {
	rs.startFunc(func() ([]byte, error) {
		_, data, err := ws.Read(context.Background())
		return data, err
	}, func() { ws.CloseNow() })
}

// startFunc starts a client whose frames recv returns; stop ends it.
func (rs *readers) startFunc(recv func() ([]byte, error), stop func()) {
	if rs.count == nil {
		rs.count = countJSON
	}
	count := &rs.counts[len(rs.closers)]
	rs.closers = append(rs.closers, stop)
	rs.stopped.Add(1)
	go func() {
		defer rs.stopped.Done()
		for {
			data, err := recv()
			if err != nil {
				rs.ended.Add(1)
				// A client that ends early stops being waited for.
				if mine, t := count.Load(), rs.target.Load(); mine < t {
					rs.done.Done()
				}
				return
			}
			n := rs.count(data)
			mine := count.Add(n)
			if t := rs.target.Load(); mine-n < t && mine >= t {
				rs.done.Done()
			}
		}
	}()
}

// slowest returns the count of the client that received the fewest records.
func (rs *readers) slowest() int64 {
	least := rs.counts[0].Load()
	for i := 1; i < len(rs.closers); i++ {
		least = min(least, rs.counts[i].Load())
	}
	return least
}

// wait waits until every client got its records, failing the benchmark if
// the emulator dropped a client (connected reports how many remain).
func (rs *readers) wait(b *testing.B, connected func() int) {
	all := make(chan struct{})
	go func() {
		rs.done.Wait()
		close(all)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-all:
			return
		case <-tick.C:
			if n := connected(); n < len(rs.closers) {
				rs.close()
				<-all
				require.FailNow(b, fmt.Sprintf("only %d of %d clients still connected: some were closed as slow consumers", n, len(rs.closers)))
			}
		}
	}
}

// expect arms the readers to wait for n more records each.
func (rs *readers) expect(n int64) {
	rs.done.Add(len(rs.closers))
	rs.target.Add(n)
}

func (rs *readers) close() {
	for _, stop := range rs.closers {
		stop()
	}
	rs.stopped.Wait()
}

// BenchmarkBroadcast1000 measures deliveries per second of a broadcast to
// 1,000 WebSocket clients over loopback. One op is one broadcast delivered
// to every client:
//
//   - rest: through the REST API (POST /api/hubs/bench/:send), with 64
//     goroutines making the calls, as a server handling concurrent requests
//     would;
//   - internal: through the hub's broadcast path (the same fan-out, no HTTP).
//
// In the same run, untimed by the framework but timed by itself, a bare
// coder/websocket server writes the same number of the same records to
// 1,000 other clients, one writer goroutine per connection, one record per
// frame. Both sides use the same reader code, which counts records. The
// emulator may coalesce queued records into one frame, as the clients allow.
// Reported: emulator-deliveries/s, bare-deliveries/s and ratio (emulator /
// bare).
//
//	go test -run '^$' -bench Broadcast1000 -benchtime 1000x ./emulator
func BenchmarkBroadcast1000(b *testing.B) {
	b.Run("rest", func(b *testing.B) { benchmarkBroadcast(b, true) })
	b.Run("internal", func(b *testing.B) { benchmarkBroadcast(b, false) })
}

func benchmarkBroadcast(b *testing.B, viaREST bool) {
	ctx := context.Background()
	messages := int64(b.N)

	// Bare side: accept 1,000 sockets and write the records in a loop.
	bareConns := make(chan *websocket.Conn, benchClients)
	bareSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err == nil {
			bareConns <- ws
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go bareSrv.Serve(l)
	bareReaders := &readers{}
	for i := 0; i < benchClients; i++ {
		ws, _, err := websocket.Dial(ctx, "ws://"+l.Addr().String(), nil)
		require.NoError(b, err)
		bareReaders.start(ws)
	}
	var serverSide []*websocket.Conn
	for i := 0; i < benchClients; i++ {
		serverSide = append(serverSide, <-bareConns)
	}
	bareReaders.expect(messages)
	bareStart := time.Now()
	var writers sync.WaitGroup
	for _, ws := range serverSide {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := int64(0); i < messages; i++ {
				if err := ws.Write(ctx, websocket.MessageText, benchRecord); err != nil {
					return
				}
			}
		}()
	}
	bareReaders.wait(b, func() int { return benchClients })
	bareElapsed := time.Since(bareStart)
	writers.Wait()
	for _, ws := range serverSide {
		ws.CloseNow()
	}
	bareReaders.close()
	bareSrv.Close()

	// Emulator side: 1,000 negotiated clients, broadcasts through REST.
	srv := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer srv.Close()
	emuReaders := &readers{}
	clientToken := mint(b, testKey, clientURL(srv, "bench"), nil)
	header := http.Header{"Authorization": {"Bearer " + clientToken}}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/?hub=bench"
	for i := 0; i < benchClients; i++ {
		ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: header})
		require.NoError(b, err)
		require.NoError(b, ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")))
		if _, hs, err := ws.Read(ctx); err != nil || string(hs) != "{}\x1e" {
			require.FailNow(b, fmt.Sprintf("handshake: %q %v", hs, err))
		}
		emuReaders.start(ws)
	}
	// Several REST calls in flight, as a server with concurrent requests
	// would make them.
	const restSenders = 64
	restClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: restSenders}}
	defer restClient.CloseIdleConnections()
	sendURL := srv.URL + "/api/hubs/bench/:send"
	serverToken := mint(b, testKey, sendURL, jwt.MapClaims{})
	// Keep the slowest client at most window broadcasts behind, well inside
	// the default send queue, so that no client is closed as a slow
	// consumer: a benchmark producer outruns any network.
	const window = 256

	emuReaders.expect(messages)
	b.ResetTimer()
	emuStart := time.Now()
	var next atomic.Int64
	var senders sync.WaitGroup
	errs := make(chan error, restSenders)
	for range restSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := next.Add(1) - 1; i < messages; i = next.Add(1) - 1 {
				for emuReaders.slowest() < i-window {
					if emuReaders.ended.Load() > 0 {
						errs <- errors.New("a client was closed: the emulator dropped it as a slow consumer")
						return
					}
					time.Sleep(50 * time.Microsecond)
				}
				if !viaREST {
					srv.Emulator.Broadcast("bench", "newMessage", benchArgs)
					continue
				}
				req, _ := http.NewRequest(http.MethodPost, sendURL, strings.NewReader(benchBody))
				req.Header.Set("Authorization", "Bearer "+serverToken)
				resp, err := restClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("broadcast = %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	senders.Wait()
	close(errs)
	require.NoError(b, <-errs)
	emuReaders.wait(b, func() int { return len(srv.Emulator.Snapshot("bench").Connections) })
	emuElapsed := time.Since(emuStart)
	b.StopTimer()
	emuReaders.close()

	deliveries := float64(messages * benchClients)
	emuRate := deliveries / emuElapsed.Seconds()
	bareRate := deliveries / bareElapsed.Seconds()
	b.ReportMetric(emuRate, "emulator-deliveries/s")
	b.ReportMetric(bareRate, "bare-deliveries/s")
	b.ReportMetric(emuRate/bareRate, "ratio")
	if testing.Verbose() {
		fmt.Printf("N=%d emulator %.0f/s bare %.0f/s ratio %.2f\n", messages, emuRate, bareRate, emuRate/bareRate)
	}
}
