// Command signalr-emulator runs a local Azure SignalR Service (serverless
// mode) for development: the official clients and SDKs connect to it with
// the connection string it prints.
//
// Usage:
//
//	signalr-emulator [-host 127.0.0.1] [-port 8888] [-key <access key>]
//
// The first line on stdout is the connection string, for example
//
//	Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;
//
// After it, connects, disconnects and REST calls are logged to stderr, one
// line each. -port 0 picks a free port (the connection string shows which).
// SIGINT or SIGTERM stops the emulator cleanly: clients get a Close message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/funcsignalr/signalr/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "signalr-emulator:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends (main ends it on SIGINT or SIGTERM), then shuts
// down: clients get a Close message and in-flight REST calls finish.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("signalr-emulator", flag.ContinueOnError)
	flags.SetOutput(stderr)
	host := flags.String("host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface, e.g. in a container)")
	port := flags.Int("port", 8888, "TCP port to listen on; 0 picks a free one")
	key := flags.String("key", emulator.DefaultAccessKey, "access key that signs and checks tokens")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("-port %d is out of range", *port)
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{ReplaceAttr: shortTime}))
	emu := emulator.New(&emulator.Options{AccessKey: *key, Logger: logger})

	listeners, err := listen(*host, *port)
	if err != nil {
		return err
	}
	actualPort := listeners[0].Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { served <- srv.Serve(l) }()
	}

	fmt.Fprintln(stdout, emulator.ConnectionString("http://"+endpointHost(*host), actualPort, *key))
	logger.Info("listening", "addr", net.JoinHostPort(*host, strconv.Itoa(actualPort)))

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = emu.Shutdown(shutdownCtx)
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// listen opens host:port. For the default loopback address it also opens
// [::1] on the same port when it can, because the connection string says
// "localhost", which some clients (Node among them) resolve to ::1 first.
func listen(host string, port int) ([]net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	listeners := []net.Listener{l}
	if host == "127.0.0.1" || host == "localhost" {
		p := l.Addr().(*net.TCPAddr).Port
		if l6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(p))); err == nil {
			listeners = append(listeners, l6)
		}
	}
	return listeners, nil
}

// endpointHost is the host to write into the connection string.
func endpointHost(host string) string {
	switch host {
	case "127.0.0.1", "localhost", "0.0.0.0", "::", "", "::1":
		return "localhost"
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}

// shortTime prints log times as hh:mm:ss.mmm to keep lines short.
func shortTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	return a
}
