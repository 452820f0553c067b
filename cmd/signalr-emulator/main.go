// Command signalr-emulator runs a local Azure SignalR Service (serverless
// mode) for development: the official clients and SDKs connect to it with
// the connection string it prints.
//
// Usage:
//
//	signalr-emulator [-host 127.0.0.1] [-port 8888] [-key-file path | -key key]
//	                 [-upstream URL]... [-config settings.json] [-upstream-timeout 30s]
//	                 [-identity-key issuer.pem] [-record traffic.jsonl] [-fault spec]...
//	                 [-endpoints 3 | -endpoints east,west:secondary]
//
// -upstream URL sends every hub's connection events and client invocations
// to URL (a URL template: {hub}, {category} and {event} are filled in), as
// serverless mode does; repeat it for several, first match wins. -config
// reads upstream templates from a file in the shape of Microsoft's emulator
// settings.json ({"UpstreamSettings":{"Templates":[{"UrlTemplate": ...,
// "HubPattern": "*", "CategoryPattern": "*", "EventPattern": "*"}]}}); its
// templates are checked after the -upstream ones. For an Azure Functions
// style app, the URL is http://localhost:7071/runtime/webhooks/signalr.
// Stream invocations are not forwarded, as in Azure SignalR Service.
//
// The access key comes from -key, -key-file, the SIGNALR_EMULATOR_ACCESS_KEY
// environment variable or, without any of them, emulator.DefaultAccessKey.
// -key is visible to other local users in the process list; prefer the file
// or the variable for a key that matters.
//
// -identity-key turns on identity mode (see emulator.IdentityOptions): REST
// callers may also present Microsoft Entra-style ES256 tokens signed with
// the test issuer key in that PEM file, which is generated when it does not
// exist. Apps then connect with an identity connection string,
// Endpoint=http://localhost;Port=8888;AuthType=azure.msi;Version=1.0;,
// and a credential minting with that key (the chat example's -identity-key
// flag does that). The access key keeps working beside it.
//
// The first line on stdout is the connection string, for example
//
//	Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;
//
// After it, connects, disconnects and REST calls are logged to stderr, one
// line each. -port 0 picks a free port (the connection string shows which).
// SIGINT or SIGTERM stops the emulator cleanly: clients get a Close message.
//
// -endpoints serves several endpoints, one emulator and port each, and
// prints one Azure__SignalR__Endpoints__<name>=<connection string> line per
// endpoint instead. -record then writes one file per endpoint (the name
// before the extension: traffic.jsonl gives traffic.east.jsonl, ...), and
// -fault strikes every endpoint unless its spec holds endpoint=<name>.
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/textutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "signalr-emulator:", err)
		os.Exit(1)
	}
}

// keyEnv names the environment variable that may hold the access key, so
// that it need not appear in the process list as -key does.
const keyEnv = "SIGNALR_EMULATOR_ACCESS_KEY"

// shutdownGrace bounds a shutdown: clients get a Close message and
// in-flight REST calls finish within it.
const shutdownGrace = 10 * time.Second

const usageText = `signalr-emulator runs a local Azure SignalR Service (serverless mode) for development.

Usage: signalr-emulator [-host 127.0.0.1] [-port 8888] [-key-file path | -key key]
                        [-upstream URL]... [-config settings.json] [-upstream-timeout 30s]
                        [-identity-key issuer.pem] [-record traffic.jsonl] [-fault spec]...
                        [-endpoints 3 | -endpoints east,west:secondary]

Example:
  signalr-emulator -port 8888
  # prints Endpoint=http://localhost;Port=8888;AccessKey=...;Version=1.0;
  # set it as AzureSignalRConnectionString in your app's settings

The access key comes from, in order: -key, -key-file (the file's first line),
the ` + keyEnv + ` environment variable, or the default key of
Microsoft's emulator. Prefer -key-file or the variable: other local users can
read -key in the process list.

Upstream (serverless mode): -upstream URL sends connected, disconnected and
client invocations of every hub to URL ({hub}, {category} and {event} are
filled in), e.g. -upstream http://localhost:7071/runtime/webhooks/signalr;
repeat it for several, first match wins. -config FILE adds the templates of a
settings file in the shape of Microsoft's emulator
({"UpstreamSettings":{"Templates":[{"UrlTemplate":...,"HubPattern":"*",...}]}}),
after the -upstream ones. Stream invocations are not forwarded.

Several endpoints: -endpoints 3 (named e1, e2, e3) or -endpoints
east,west:secondary serves one emulator per endpoint, on ports -port, -port+1,
... (0 picks free ones), and prints one Azure__SignalR__Endpoints__<name>=...
line each. Take one offline with POST /_emulator/api/faults {"offline":true}
on its port. The other flags apply to every endpoint, except that -record
FILE writes one file per endpoint, its name before the extension
(-record traffic.jsonl: traffic.east.jsonl, traffic.west.jsonl), and a -fault
with endpoint=<name> (e.g. -fault endpoint=east,kind=rest,status=503)
strikes that endpoint only.

Flags:
`

// run serves until ctx ends (main ends it on SIGINT or SIGTERM), then shuts
// down: clients get a Close message and in-flight REST calls finish.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("signalr-emulator", flag.ContinueOnError)
	flags.SetOutput(stderr)
	host := flags.String("host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface, e.g. in a container)")
	port := flags.Int("port", 8888, "TCP port to listen on; 0 picks a free one")
	key := flags.String("key", "", "access key that signs and checks tokens (visible in the process list: prefer -key-file or $"+keyEnv+")")
	keyFile := flags.String("key-file", "", "file whose first line is the access key")
	var upstreams upstreamFlag
	flags.Var(&upstreams, "upstream", "upstream URL template for every hub, category and event (repeatable; first match wins)")
	config := flags.String("config", "", "settings file with UpstreamSettings.Templates, as Microsoft's emulator reads")
	upstreamTimeout := flags.Duration("upstream-timeout", 30*time.Second, "time limit of each upstream call")
	identityKey := flags.String("identity-key", "", "identity mode: trust Microsoft Entra-style tokens signed by the test issuer key in this PEM file (generated if missing)")
	record := flags.String("record", "", "write every event of the traffic feed to this file as JSON Lines (secrets redacted); with -endpoints one file per endpoint, its name before the extension (traffic.jsonl: traffic.east.jsonl, ...)")
	remoteDashboard := flags.Bool("remote-dashboard", false, "serve the dashboard and control API to non-loopback clients too (they must send a token signed with the access key)")
	var faults faultFlag
	flags.Var(&faults, "fault", "inject a fault for testing, e.g. kind=rest,status=503,fraction=0.3 or kind=upstream,hang=true (repeatable; see emulator.ParseFault); with -endpoints it strikes every endpoint, or the one endpoint=<name> names")
	faultSeed := flags.Uint64("fault-seed", 0, "seed of the random source that picks which calls a fault with a fraction strikes")
	invokeTimeout := flags.Duration("invoke-timeout", emulator.DefaultInvokeTimeout, "how long a REST :invoke waits for the client's answer")
	reconnectWindow := flags.Duration("stateful-reconnect-window", emulator.DefaultStatefulReconnectWindow, "how long a dropped WebSocket connection with stateful reconnect waits for its client")
	endpoints := flags.String("endpoints", "", "serve several endpoints, each on its own port from -port on: a count (3) or names (east,west:secondary); prints one Azure__SignalR__Endpoints__<name>=<connection string> line each")
	noStatefulReconnect := flags.Bool("no-stateful-reconnect", false, "never grant stateful reconnect (withStatefulReconnect clients get the classic disconnect)")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), usageText)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h asked for the text it got.
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("-port %d is out of range", *port)
	}
	if *invokeTimeout <= 0 {
		return fmt.Errorf("-invoke-timeout %v must be positive", *invokeTimeout)
	}
	if *reconnectWindow <= 0 {
		return fmt.Errorf("-stateful-reconnect-window %v must be positive", *reconnectWindow)
	}
	accessKey, err := resolveKey(flags, *key, *keyFile)
	if err != nil {
		return err
	}
	templates := []emulator.UpstreamTemplate(upstreams)
	if *config != "" {
		settings, err := emulator.LoadSettings(*config)
		if err != nil {
			return fmt.Errorf("-config: %w", err)
		}
		templates = append(templates, settings.UpstreamSettings.Templates...)
	}
	if *upstreamTimeout <= 0 {
		return fmt.Errorf("-upstream-timeout %v must be positive", *upstreamTimeout)
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{ReplaceAttr: shortTime}))
	opts := &emulator.Options{AccessKey: accessKey, Logger: logger, Upstream: templates, UpstreamTimeout: *upstreamTimeout, InvokeTimeout: *invokeTimeout, RemoteControl: *remoteDashboard, FaultSeed: *faultSeed}
	opts.StatefulReconnectWindow, opts.DisableStatefulReconnect = *reconnectWindow, *noStatefulReconnect
	if *identityKey != "" {
		key, created, err := emulator.LoadIssuerKey(*identityKey, true)
		if err != nil {
			return fmt.Errorf("-identity-key: %w", err)
		}
		opts.Identity = &emulator.IdentityOptions{IssuerKey: key}
		logger.Info("identity mode", "issuer_key", *identityKey, "generated", created)
	}
	if *endpoints != "" {
		specs, err := parseEndpoints(*endpoints)
		if err != nil {
			return err
		}
		if err := faults.checkEndpoints(specs); err != nil {
			return err
		}
		return runEndpoints(ctx, specs, opts, endpointsConfig{host: *host, port: *port, record: *record, faults: faults}, stdout, stderr, logger)
	}
	for _, f := range faults {
		if f.endpoint != "" {
			return fmt.Errorf("-fault endpoint=%s: endpoint= picks one of -endpoints; there is a single endpoint here, drop it", f.endpoint)
		}
	}
	if *record != "" {
		f, err := createRecord(*record)
		if err != nil {
			return err
		}
		// Shutdown flushes the record before serve returns.
		defer f.Close()
		opts.Record = f
		logger.Info("recording traffic", "file", *record)
	}
	emu, err := emulator.New(opts)
	if err != nil {
		return err
	}
	for _, f := range faults {
		if _, err := emu.AddFault(f.Fault); err != nil {
			return fmt.Errorf("-fault: %w", err)
		}
	}
	if len(faults) > 0 {
		fmt.Fprintf(stderr, "\n*** WARNING: %d FAULT(S) INJECTED: this emulator misbehaves on purpose (-fault). Clear them with DELETE /_emulator/api/faults. ***\n\n", len(faults))
	}

	listeners, err := listen(*host, *port)
	if err != nil {
		return err
	}
	actualPort := listeners[0].Addr().(*net.TCPAddr).Port
	// The key printed is the one in use, whichever way it was given.
	fmt.Fprintln(stdout, emulator.ConnectionString("http://"+endpointHost(*host), actualPort, emu.AccessKey()))
	logger.Info("listening", "addr", net.JoinHostPort(*host, strconv.Itoa(actualPort)))
	logger.Info("dashboard", "url", "http://"+net.JoinHostPort(endpointHost(*host), strconv.Itoa(actualPort))+"/")
	for _, t := range templates {
		logger.Info("upstream", "url", textutil.RedactQuery(t.URLTemplate), "hubs", orAll(t.HubPattern), "categories", orAll(t.CategoryPattern), "events", orAll(t.EventPattern))
	}
	return serve(ctx, emu, listeners, logger)
}

// resolveKey picks the access key: -key, else -key-file, else $keyEnv, else
// the emulator's default (an empty -key means that default too). Giving
// both -key and -key-file is an error.
func resolveKey(flags *flag.FlagSet, key, keyFile string) (string, error) {
	keySet := false
	flags.Visit(func(f *flag.Flag) { keySet = keySet || f.Name == "key" })
	switch {
	case keySet && keyFile != "":
		return "", errors.New("give the access key with -key or -key-file, not both")
	case keySet && key != "":
		return key, nil
	case keyFile != "":
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return "", fmt.Errorf("-key-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		k := strings.TrimSpace(line)
		if k == "" {
			return "", fmt.Errorf("-key-file %s: the first line is empty; write the access key there", keyFile)
		}
		return k, nil
	case os.Getenv(keyEnv) != "":
		return strings.TrimSpace(os.Getenv(keyEnv)), nil
	}
	return emulator.DefaultAccessKey, nil
}

// serve serves emu on every listener until ctx ends or one listener fails;
// either way it then stops serving on all of them and shuts emu down, so a
// failed listener never leaves the other one running.
func serve(ctx context.Context, emu *emulator.Emulator, listeners []net.Listener, logger *slog.Logger) error {
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { served <- srv.Serve(l) }()
	}
	var failed error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case failed = <-served:
		logger.Error("a listener failed; stopping", "error", failed.Error())
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := emu.Shutdown(shutdownCtx); err != nil {
		logger.Warn("clients were cut off at the end of the shutdown grace", "grace", shutdownGrace)
	}
	err := srv.Shutdown(shutdownCtx)
	// Every Serve has returned once Shutdown has, the failed one included.
	if failed != nil {
		return failed
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// upstreamFlag collects -upstream URLs as templates matching everything.
type upstreamFlag []emulator.UpstreamTemplate

func (f *upstreamFlag) String() string { return fmt.Sprint(len(*f), " upstream(s)") }

func (f *upstreamFlag) Set(v string) error {
	// emulator.New checks the URL and names it in its error.
	*f = append(*f, emulator.UpstreamTemplate{URLTemplate: v, HubPattern: "*", CategoryPattern: "*", EventPattern: "*"})
	return nil
}

func orAll(p string) string {
	if strings.TrimSpace(p) == "" {
		return "*"
	}
	return p
}

// createRecord creates (or truncates) the record file at path, readable by
// its owner only.
func createRecord(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("-record: %w", err)
	}
	return f, nil
}

// cliFault is one -fault: the Fault, and the endpoint of -endpoints it is
// for ("" means every endpoint).
type cliFault struct {
	emulator.Fault
	endpoint string
}

// faultFlag collects -fault values, parsed as they come so that a bad one
// is reported with the flag's name.
type faultFlag []cliFault

func (f *faultFlag) String() string { return fmt.Sprint(len(*f), " fault(s)") }

// Set reads an emulator.ParseFault spec, plus an optional endpoint=<name>
// pair (for -endpoints) that ParseFault does not know.
func (f *faultFlag) Set(v string) error {
	var endpoint string
	var rest []string
	for _, pair := range strings.Split(v, ",") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(pair), "endpoint="); ok {
			if endpoint != "" || name == "" {
				return fmt.Errorf("%q: give endpoint=<name> once, with a name from -endpoints", v)
			}
			endpoint = name
			continue
		}
		rest = append(rest, pair)
	}
	fault, err := emulator.ParseFault(strings.Join(rest, ","))
	if err != nil {
		return err
	}
	*f = append(*f, cliFault{Fault: fault, endpoint: endpoint})
	return nil
}

// checkEndpoints fails for a fault whose endpoint= names none of specs.
func (f faultFlag) checkEndpoints(specs []endpointSpec) error {
	for _, fault := range f {
		if fault.endpoint != "" && !slices.ContainsFunc(specs, func(s endpointSpec) bool { return strings.EqualFold(s.name, fault.endpoint) }) {
			names := make([]string, len(specs))
			for i, s := range specs {
				names[i] = s.name
			}
			return fmt.Errorf("-fault endpoint=%s: no such endpoint in -endpoints; use one of %s", fault.endpoint, strings.Join(names, ", "))
		}
	}
	return nil
}

// forEndpoint returns the faults that apply to the endpoint named name.
func (f faultFlag) forEndpoint(name string) []emulator.Fault {
	var out []emulator.Fault
	for _, fault := range f {
		if fault.endpoint == "" || strings.EqualFold(fault.endpoint, name) {
			out = append(out, fault.Fault)
		}
	}
	return out
}
