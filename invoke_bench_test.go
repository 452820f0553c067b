package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
)

// BenchmarkInvokeRoundTrip compares one client-result round trip through
// the library and the emulator (Client.Invoke → REST :invoke → Invocation
// over WebSocket to a Go client → its Completion → the HTTP answer) with
// the same request and answer done bare: an HTTP POST to a net/http
// handler that writes the body to a coder/websocket connection, whose Go
// client echoes {"result":42} back, which the handler writes as its
// answer. One caller, one connection; batches to each alternate inside one
// benchmark so both see the same machine load. It reports our round trips
// per second as a multiple of the bare echo's ("x-bare-rps").
//
//	go test -run '^$' -bench InvokeRoundTrip -benchtime 4000x -count 5 .
func BenchmarkInvokeRoundTrip(b *testing.B) {
	const batch = 50
	_, cs, c := benchEmulatorClient(b)
	conn := dialHub(b, cs, "chat", "bench", func(string, []json.RawMessage) (any, string) { return 42, "" })
	ctx := context.Background()

	bare, bareURL := bareEcho(b)
	defer bare()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	body := []byte(`{"target":"getAnswer","arguments":[]}`)

	ours := func() {
		raw, err := c.Invoke(ctx, "chat", conn.id, "getAnswer", nil, nil)
		require.False(b, err != nil || string(raw) != "42", "Invoke: %s, %v", raw, err)
	}
	bareCall := func() {
		resp, err := hc.Post(bareURL, "application/json; charset=utf-8", bytes.NewReader(body))
		require.NoError(b, err)
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.False(b, resp.StatusCode != 200 || string(data) != `{"result":42}`, "bare: %d %s", resp.StatusCode, data)
	}
	ours()
	bareCall()
	var tOurs, tBare time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += 2 * batch {
		start := time.Now()
		for range batch {
			ours()
		}
		tOurs += time.Since(start)
		start = time.Now()
		for range batch {
			bareCall()
		}
		tBare += time.Since(start)
	}
	b.StopTimer()
	n := float64((b.N + 2*batch - 1) / (2 * batch) * batch)
	b.ReportMetric(tBare.Seconds()/tOurs.Seconds(), "x-bare-rps")
	b.ReportMetric(n/tOurs.Seconds(), "ours-rt/s")
	b.ReportMetric(n/tBare.Seconds(), "bare-rt/s")
}

func benchEmulatorClient(b *testing.B) (any, *signalr.ConnectionString, *signalr.Client) {
	b.Helper()
	emu := newBenchEmulator(b)
	cs, err := signalr.ParseConnectionString(emu)
	require.NoError(b, err)
	c, err := signalr.NewClient(cs, nil)
	require.NoError(b, err)
	b.Cleanup(c.CloseIdleConnections)
	return nil, cs, c
}

// bareEcho starts the baseline: POST / forwards its body over a
// WebSocket to a Go client that answers {"result":42}; the answer is the
// HTTP response. It returns a stop function and the POST URL.
func bareEcho(b *testing.B) (func(), string) {
	b.Helper()
	wsConns := make(chan *websocket.Conn, 1)
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			wsConns <- ws
			<-stop // a hijacked request's context does not end with the socket
			return
		}
		ws := <-wsConns
		defer func() { wsConns <- ws }()
		data, _ := io.ReadAll(r.Body)
		if err := ws.Write(r.Context(), websocket.MessageText, data); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, answer, err := ws.Read(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, _, err := client.Read(context.Background())
			if err != nil {
				return
			}
			if client.Write(context.Background(), websocket.MessageText, []byte(`{"result":42}`)) != nil {
				return
			}
		}
	}()
	return func() {
		_ = client.CloseNow()
		<-done
		close(stop)
		srv.CloseClientConnections()
		srv.Close()
	}, srv.URL + "/"
}

// newBenchEmulator starts an emulator for a benchmark and returns its
// connection string.
func newBenchEmulator(b *testing.B) string {
	b.Helper()
	emu := signalrtest.NewEmulator(b, nil)
	return emu.ConnectionString()
}
