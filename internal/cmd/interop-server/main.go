// Command interop-server is the Go side of the interop suite
// (js/test/interop.test.mjs): an app that serves the library's negotiate
// handler and sends through the library's output collector, with the
// emulator running in-process as its SignalR Service. The official
// @microsoft/signalr client negotiates here, is redirected to the emulator,
// and the test drives sends and closes through the control routes.
//
// It prints one line, the app's base URL, then serves until SIGINT/SIGTERM.
//
//	POST /api/negotiate?userId=U   ConnectionInfo for hub "interop", user U
//	POST /control/output           a Functions output payload (one item or an
//	                               array, as a JavaScript function assigns it),
//	                               flushed with WithOutput
//	POST /control/close?connectionId=C&reason=R
//	                               closes a connection through the REST client
//	GET  /control/snapshot         what the emulator's hub holds, as JSON
//	POST /control/invoke, /control/execute
//	                               Client.Invoke and Client.Execute; see
//	                               rest2024.go
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
	"syscall"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
)

const hub = "interop"

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	emu := emulator.NewServer(nil)
	defer emu.Close()
	cs, err := signalr.ParseConnectionString(emu.ConnectionString())
	if err != nil {
		log.Fatal(err)
	}
	client, err := signalr.NewClient(cs, nil)
	if err != nil {
		log.Fatal(err)
	}
	bind := &signalr.BindOptions{Client: client}
	negotiate, err := signalr.ConnectionInfoBinding{HubName: hub, UserID: "{query.userId}"}.Bind(bind)
	if err != nil {
		log.Fatal(err)
	}
	output, err := signalr.OutputBinding{HubName: hub}.Bind(bind, nil)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /api/negotiate", signalr.CORS(signalr.NegotiateHandler(negotiate), nil))
	mux.Handle("POST /control/output", signalr.WithOutput(output, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = signalr.CollectorFromContext(r.Context()).AddJSON(body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})))
	mux.HandleFunc("POST /control/close", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := client.CloseConnection(r.Context(), hub, q.Get("connectionId"), &signalr.CloseConnectionOptions{Reason: q.Get("reason")}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	registerREST2024(mux, client)
	mux.HandleFunc("GET /control/snapshot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(emu.Emulator.Snapshot(hub))
	})

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	fmt.Printf("http://%s\n", l.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
