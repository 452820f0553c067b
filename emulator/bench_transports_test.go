package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/signalr/emulator"
)

// benchMessagePackRecord is the MessagePack Invocation the emulator makes
// of benchBody: what a bare server would send a MessagePack client.
func benchMessagePackRecord(b *testing.B) []byte {
	body, err := msgpack.Marshal([]any{1, map[string]any{}, nil, "newMessage", []any{strings.Repeat("x", 100)}})
	require.NoError(b, err)
	return append(varint(len(body)), body...)
}

// BenchmarkBroadcastTransports1000 measures deliveries per second of a
// broadcast (through the hub's broadcast path, as BenchmarkBroadcast1000's
// internal case) to 1,000 clients of one transport and protocol, against a
// bare server for the same transport in the same run:
//
//   - WebSockets: a bare coder/websocket server, one writer goroutine per
//     connection, one record per message (text for JSON, binary for
//     MessagePack);
//   - LongPolling: a bare net/http long-poll server: a broadcast appends
//     the record to each client's buffer, and each poll returns the buffer
//     as soon as it holds something;
//   - ServerSentEvents: a bare net/http event-stream server, one writer
//     goroutine per stream, one event per record, flushed.
//
// Both sides use the same client code, which counts records. Reported:
// emulator-deliveries/s, bare-deliveries/s and ratio (emulator / bare).
//
//	go test -run '^$' -bench BroadcastTransports1000 -benchtime 200x ./emulator
func BenchmarkBroadcastTransports1000(b *testing.B) {
	for _, tc := range []struct{ transport, protocol string }{
		{webSockets, "json"}, {webSockets, "messagepack"},
		{serverSentEvents, "json"},
		{longPolling, "json"}, {longPolling, "messagepack"},
	} {
		b.Run(tc.transport+"/"+tc.protocol, func(b *testing.B) { benchmarkTransport(b, tc.transport, tc.protocol) })
	}
}

func benchmarkTransport(b *testing.B, transport, protocol string) {
	messages := int64(b.N)
	record, count := benchRecord, countJSON
	if protocol == "messagepack" {
		record, count = benchMessagePackRecord(b), countMessagePack
	}

	// Bare side.
	bare := &readers{count: count}
	bareElapsed := runBare(b, transport, protocol, record, messages, bare)

	// Emulator side.
	srv := emulator.NewServer(&emulator.Options{AccessKey: testKey})
	defer srv.Close()
	emu := &readers{count: count}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	for i := 0; i < benchClients; i++ {
		recv, stop := benchConnect(b, srv, client, transport, protocol)
		emu.startFunc(recv, stop)
	}
	const window = 256
	emu.expect(messages)
	b.ResetTimer()
	start := time.Now()
	for i := int64(0); i < messages; i++ {
		for emu.slowest() < i-window {
			require.False(b, emu.ended.Load() > 0, "a client was closed: the emulator dropped it as a slow consumer")
			time.Sleep(50 * time.Microsecond)
		}
		srv.Emulator.Broadcast("bench", "newMessage", benchArgs)
	}
	emu.wait(b, func() int { return len(srv.Emulator.Snapshot("bench").Connections) })
	emuElapsed := time.Since(start)
	b.StopTimer()
	emu.close()

	deliveries := float64(messages * benchClients)
	emuRate, bareRate := deliveries/emuElapsed.Seconds(), deliveries/bareElapsed.Seconds()
	b.ReportMetric(emuRate, "emulator-deliveries/s")
	b.ReportMetric(bareRate, "bare-deliveries/s")
	b.ReportMetric(emuRate/bareRate, "ratio")
}

// benchConnect connects one client to the emulator's hub "bench" and
// completes the handshake; recv returns its frames after that.
func benchConnect(b *testing.B, srv *emulator.Server, client *http.Client, transport, protocol string) (recv func() ([]byte, error), stop func()) {
	token := mint(b, testKey, clientURL(srv, "bench"), nil)
	n := negotiate(b, srv, "bench", token, 1)
	u := srv.URL + "/client/?hub=bench&id=" + n.ConnectionToken
	handshake := []byte(`{"protocol":"` + protocol + `","version":1}` + "\x1e")
	do := func(ctx context.Context, method string, body []byte, accept string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return client.Do(req)
	}
	post := func(body []byte) {
		resp, err := do(context.Background(), http.MethodPost, body, "")
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode)
	}
	switch transport {
	case webSockets:
		ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(u, "http"),
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		require.NoError(b, err)
		require.NoError(b, ws.Write(context.Background(), websocket.MessageText, handshake))
		_, hs, err := ws.Read(context.Background())
		require.NoError(b, err)
		require.Equal(b, "{}\x1e", string(hs))
		return func() ([]byte, error) {
			_, data, err := ws.Read(context.Background())
			return data, err
		}, func() { ws.CloseNow() }
	case longPolling:
		ctx, cancel := context.WithCancel(context.Background())
		poll := func() ([]byte, error) {
			for {
				resp, err := do(ctx, http.MethodGet, nil, "")
				if err != nil {
					return nil, err
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return nil, err
				}
				if resp.StatusCode != http.StatusOK {
					return nil, fmt.Errorf("poll: %d", resp.StatusCode)
				}
				if len(body) > 0 {
					return body, nil
				}
			}
		}
		resp, err := do(ctx, http.MethodGet, nil, "") // starts the connection
		require.NoError(b, err)
		resp.Body.Close()
		post(handshake)
		hs, err := poll()
		require.NoError(b, err)
		require.Equal(b, "{}\x1e", string(hs))
		return poll, cancel
	case serverSentEvents:
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := do(ctx, http.MethodGet, nil, "text/event-stream")
		require.NoError(b, err)
		events := bufio.NewReader(resp.Body)
		post(handshake)
		next := func() ([]byte, error) { return readEvent(events) }
		hs, err := next()
		require.NoError(b, err)
		require.Equal(b, "{}\x1e", string(hs))
		return next, func() { cancel(); resp.Body.Close() }
	}
	require.FailNow(b, fmt.Sprintf("unknown transport %s", transport))
	return nil, nil
}

// readEvent reads one event of data: lines, joined with "\n".
func readEvent(r *bufio.Reader) ([]byte, error) {
	var event []byte
	lines := 0
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if lines > 0 {
				return event, nil
			}
			continue
		}
		if lines > 0 {
			event = append(event, '\n')
		}
		event = append(event, bytes.TrimPrefix(line, []byte("data: "))...)
		lines++
	}
}

// runBare runs the bare server of transport, delivers messages records to
// benchClients clients counted by rs, and returns how long that took.
func runBare(b *testing.B, transport, protocol string, record []byte, messages int64, rs *readers) time.Duration {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	base := "http://" + l.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}
	defer client.CloseIdleConnections()

	switch transport {
	case webSockets:
		typ := websocket.MessageText
		if protocol == "messagepack" {
			typ = websocket.MessageBinary
		}
		conns := make(chan *websocket.Conn, benchClients)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, nil)
			if err == nil {
				conns <- ws
			}
		})}
		go srv.Serve(l)
		defer srv.Close()
		for i := 0; i < benchClients; i++ {
			ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http"), nil)
			require.NoError(b, err)
			rs.start(ws)
		}
		var serverSide []*websocket.Conn
		for i := 0; i < benchClients; i++ {
			serverSide = append(serverSide, <-conns)
		}
		rs.expect(messages)
		start := time.Now()
		var writers sync.WaitGroup
		for _, ws := range serverSide {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := int64(0); i < messages; i++ {
					if ws.Write(context.Background(), typ, record) != nil {
						return
					}
				}
			}()
		}
		rs.wait(b, func() int { return benchClients })
		elapsed := time.Since(start)
		writers.Wait()
		for _, ws := range serverSide {
			ws.CloseNow()
		}
		rs.close()
		return elapsed

	case longPolling:
		type box struct {
			mu    sync.Mutex
			buf   []byte
			ready chan struct{}
		}
		boxes := make([]*box, benchClients)
		for i := range boxes {
			boxes[i] = &box{ready: make(chan struct{}, 1)}
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i, _ := strconv.Atoi(r.URL.Query().Get("c"))
			bx := boxes[i]
			for {
				bx.mu.Lock()
				body := bx.buf
				bx.buf = nil
				bx.mu.Unlock()
				if len(body) > 0 {
					w.Header().Set("Content-Type", "application/octet-stream")
					_, _ = w.Write(body)
					return
				}
				select {
				case <-bx.ready:
				case <-r.Context().Done():
					return
				}
			}
		})}
		go srv.Serve(l)
		defer srv.Close()
		for i := 0; i < benchClients; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			u := base + "/?c=" + strconv.Itoa(i)
			rs.startFunc(func() ([]byte, error) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				resp, err := client.Do(req)
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				return io.ReadAll(resp.Body)
			}, cancel)
		}
		rs.expect(messages)
		start := time.Now()
		for i := int64(0); i < messages; i++ {
			for _, bx := range boxes {
				bx.mu.Lock()
				bx.buf = append(bx.buf, record...)
				bx.mu.Unlock()
				select {
				case bx.ready <- struct{}{}:
				default:
				}
			}
		}
		rs.wait(b, func() int { return benchClients })
		elapsed := time.Since(start)
		rs.close()
		return elapsed

	case serverSentEvents:
		event := append(append([]byte("data: "), record...), "\r\n\r\n"...)
		startWriting := make(chan struct{})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-startWriting
			for i := int64(0); i < messages; i++ {
				if _, err := w.Write(event); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			<-r.Context().Done()
		})}
		go srv.Serve(l)
		defer srv.Close()
		for i := 0; i < benchClients; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
			resp, err := client.Do(req)
			require.NoError(b, err)
			r := bufio.NewReader(resp.Body)
			rs.startFunc(func() ([]byte, error) { return readEvent(r) }, func() { cancel(); resp.Body.Close() })
		}
		rs.expect(messages)
		start := time.Now()
		close(startWriting)
		rs.wait(b, func() int { return benchClients })
		elapsed := time.Since(start)
		rs.close()
		return elapsed
	}
	require.FailNow(b, fmt.Sprintf("unknown transport %s", transport))
	return 0
}
