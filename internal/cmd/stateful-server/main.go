// Command stateful-server is the Go side of the stateful reconnect suite
// (js/test/stateful-reconnect.test.mjs): an emulator with a short
// reconnect window and an upstream that records what reaches it. The
// suite puts its own TCP proxy between the official client and the
// emulator, and cuts it.
//
// It prints one line of JSON, {"emulator": URL, "upstream": URL,
// "accessKey": key}, then serves until SIGINT/SIGTERM.
//
//	GET <upstream>/events   what the upstream received, in order, as JSON
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/funcsignalr/signalr/emulator"
)

// event is one upstream request.
type event struct {
	Event        string `json:"event"`
	ConnectionID string `json:"connectionId"`
	Body         string `json:"body"`
}

func main() {
	window := flag.Duration("window", 2*time.Second, "stateful reconnect window")
	flag.Parse()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	upstream := "http://" + l.Addr().String()
	var mu sync.Mutex
	var events []event
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upstream", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		events = append(events, event{Event: r.Header.Get("X-ASRS-Event"), ConnectionID: r.Header.Get("X-ASRS-Connection-Id"), Body: string(body)})
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(append([]event{}, events...))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	emu := emulator.NewServer(&emulator.Options{
		StatefulReconnectWindow: *window,
		Upstream:                []emulator.UpstreamTemplate{{URLTemplate: upstream + "/upstream"}},
	})
	line, _ := json.Marshal(map[string]string{"emulator": emu.URL, "upstream": upstream, "accessKey": emu.Emulator.AccessKey()})
	fmt.Println(string(line))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		emu.Close()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
