package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/emulator"
)

// BenchmarkStatefulReconnectFanout compares, in alternating rounds of the
// same run, the broadcast fan-out to clients that negotiated stateful
// reconnect (numbering, replay buffer, Acks from the clients at most once a
// second, as the official client) with the same fan-out to classic
// clients, in-process. It reports the median ratio of delivery rates (on/off) and its range.
//
//	SR_FANOUT_CLIENTS (1000), SR_FANOUT_MESSAGES per round (100), SR_FANOUT_ROUNDS (5)
//	go test -run '^$' -bench StatefulReconnectFanout -benchtime 1x ./emulator
func BenchmarkStatefulReconnectFanout(b *testing.B) {
	clients := envInt("SR_FANOUT_CLIENTS", 1000)
	messages := envInt("SR_FANOUT_MESSAGES", 100)
	rounds := envInt("SR_FANOUT_ROUNDS", 5)
	sides := map[bool]*fanoutFleet{}
	for _, stateful := range []bool{false, true} {
		sides[stateful] = newFanoutFleet(b, clients, stateful)
	}
	var ratios []float64
	rates := map[bool][]float64{}
	b.ResetTimer()
	for range b.N {
		for r := 0; r < rounds; r++ {
			order := []bool{false, true}
			if r%2 == 1 {
				order = []bool{true, false}
			}
			got := map[bool]float64{}
			for _, stateful := range order {
				got[stateful] = sides[stateful].round(b, messages)
				rates[stateful] = append(rates[stateful], got[stateful])
			}
			ratios = append(ratios, got[true]/got[false])
		}
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "on/off-median")
	b.ReportMetric(ratios[0], "on/off-min")
	b.ReportMetric(ratios[len(ratios)-1], "on/off-max")
	for stateful, rs := range rates {
		slices.Sort(rs)
		name := "off-deliveries/s"
		if stateful {
			name = "on-deliveries/s"
		}
		b.ReportMetric(rs[len(rs)/2], name)
	}
}

// fanoutFleet is one emulator and its clients.
type fanoutFleet struct {
	s        *emulator.Server
	hub      string
	clients  int
	received atomic.Int64
	target   atomic.Int64
	done     chan struct{}
	doneOnce atomic.Pointer[sync.Once]
}

func newFanoutFleet(b *testing.B, n int, stateful bool) *fanoutFleet {
	f := &fanoutFleet{s: newServer(b, &emulator.Options{SendQueueSize: 1 << 16}), hub: "bench", clients: n}
	query := "&negotiateVersion=1"
	version := "1"
	if stateful {
		query += "&useStatefulReconnect=true"
		version = "2"
	}
	token := mint(b, testKey, clientURL(f.s, f.hub), jwt.MapClaims{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodPost, f.s.URL+"/client/negotiate?hub="+f.hub+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var neg struct{ ConnectionToken string }
		_ = json.NewDecoder(resp.Body).Decode(&neg)
		resp.Body.Close()
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.s.URL, "http")+"/client/?hub="+f.hub+"&id="+neg.ConnectionToken, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		ws.SetReadLimit(-1)
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":`+version+`}`+"\x1e")); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil { // {}
			b.Fatal(err)
		}
		cancel()
		go f.read(ws, stateful)
		b.Cleanup(func() { _ = ws.CloseNow() })
	}
	hc.CloseIdleConnections()
	return f
}

// read counts the invocations a client gets; a stateful client
// acknowledges as the official client does: a second after a message
// arrives, with the latest id, at most one Ack a second.
func (f *fanoutFleet) read(ws *websocket.Conn, stateful bool) {
	var seen atomic.Int64
	var armed atomic.Bool
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		n := int64(bytes.Count(data, []byte(`"type":1,`)))
		if n == 0 {
			continue
		}
		seen.Add(n)
		if stateful && armed.CompareAndSwap(false, true) {
			time.AfterFunc(time.Second, func() {
				armed.Store(false)
				_ = ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":8,"sequenceId":`+itoa(int(seen.Load()))+"}\x1e"))
			})
		}
		if f.received.Add(n) >= f.target.Load() {
			if o := f.doneOnce.Load(); o != nil {
				o.Do(func() { close(f.done) })
			}
		}
	}
}

// round broadcasts messages records and returns deliveries per second
// once every client has them all.
func (f *fanoutFleet) round(b *testing.B, messages int) float64 {
	f.done = make(chan struct{})
	f.doneOnce.Store(&sync.Once{})
	f.target.Store(f.received.Load() + int64(messages*f.clients))
	args := []byte(`["` + strings.Repeat("m", 200) + `"]`)
	start := time.Now()
	for i := 0; i < messages; i++ {
		f.s.Emulator.Broadcast(f.hub, "newMessage", args)
	}
	select {
	case <-f.done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("round did not complete: %d of %d", f.received.Load(), f.target.Load())
	}
	return float64(messages*f.clients) / time.Since(start).Seconds()
}
