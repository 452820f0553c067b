// Command upstream-server is the Go side of the upstream suite
// (js/test/upstream.test.mjs): an app that serves the library's trigger
// handler at /runtime/webhooks/signalr beside its negotiate endpoint, with
// the emulator running in-process and configured to call that upstream.
// The official @microsoft/signalr client invokes hub methods on the
// emulator; the emulator POSTs them here and relays the Completions.
//
// It prints one line, the app's base URL, then serves until SIGINT/SIGTERM.
//
//	POST /api/negotiate?userId=U       ConnectionInfo for hub "upstream", user U
//	POST /runtime/webhooks/signalr     the upstream endpoint (signalr.Upstream)
//	GET  /control/events               the connection events received, as JSON
//
// Hub methods: echo(x) returns x; add(a, b) returns a+b; fail() fails with
// "nope"; whoami() returns {connectionId, userId}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
)

const hub = "upstream"

// event is a connection event the app received.
type event struct {
	Event        string `json:"event"`
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId"`
	Error        string `json:"error"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	app := "http://" + l.Addr().String()
	emu := emulator.NewServer(&emulator.Options{
		Upstream:        []emulator.UpstreamTemplate{{URLTemplate: app + signalr.DefaultUpstreamPath}},
		UpstreamTimeout: 10 * time.Second,
	})
	defer emu.Close()
	cs, err := signalr.ParseConnectionString(emu.ConnectionString())
	if err != nil {
		log.Fatal(err)
	}
	bind := &signalr.BindOptions{ConnectionString: cs}
	negotiate, err := signalr.ConnectionInfoBinding{HubName: hub, UserID: "{query.userId}"}.Bind(bind)
	if err != nil {
		log.Fatal(err)
	}
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: bind})
	if err != nil {
		log.Fatal(err)
	}

	var mu sync.Mutex
	var events []event
	record := func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
		mu.Lock()
		events = append(events, event{Event: inv.Event, ConnectionID: inv.ConnectionID, UserID: inv.UserID, Error: inv.Error})
		mu.Unlock()
		return nil, nil
	}
	method := func(name string, params ...string) signalr.TriggerBinding {
		return signalr.TriggerBinding{HubName: hub, Category: signalr.CategoryMessages, Event: name, ParameterNames: params}
	}
	for _, err := range []error{
		up.HandleFunc(signalr.TriggerBinding{HubName: hub, Category: signalr.CategoryConnections, Event: signalr.EventConnected}, record),
		up.HandleFunc(signalr.TriggerBinding{HubName: hub, Category: signalr.CategoryConnections, Event: signalr.EventDisconnected}, record),
		up.HandleFunc(method("echo", "x"), func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			x, _ := inv.Argument("x")
			return x, nil
		}),
		up.HandleFunc(method("add", "a", "b"), func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			var a, b float64
			if err := inv.DecodeArguments(&a, &b); err != nil {
				return nil, err
			}
			return a + b, nil
		}),
		up.HandleFunc(method("fail"), func(context.Context, *signalr.InvocationContext) (any, error) {
			return nil, errors.New("nope")
		}),
		up.HandleFunc(method("whoami"), func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			return map[string]string{"connectionId": inv.ConnectionID, "userId": inv.UserID}, nil
		}),
	} {
		if err != nil {
			log.Fatal(err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("POST /api/negotiate", signalr.CORS(signalr.NegotiateHandler(negotiate), nil))
	mux.Handle("POST "+signalr.DefaultUpstreamPath, up)
	mux.HandleFunc("GET /control/events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(append([]event{}, events...))
	})

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println(app)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// Clients first, so their disconnected events still find the app.
		_ = emu.Emulator.Close()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
