// Command chat is a serverless chat on SignalR Service: the Azure Functions
// SignalR bindings examples (negotiate, broadcast, send to a user, send to a
// group, add to and remove from a group) as Go HTTP handlers, a hub whose
// methods clients invoke (SignalR trigger functions behind the upstream
// endpoint), and a chat page built on the official @microsoft/signalr
// browser client.
//
// Usage:
//
//	chat [-addr 127.0.0.1:7071] [-emulator-port 0] [-bindings functions|go] [-signalr-js PATH] [-v]
//	     [-identity | -identity-key PATH] [-endpoints N] [-health-interval 10s]
//
// The bindings are read from the function.json files under functions/
// (embedded in the binary), as an Azure Functions app declares them; with
// -bindings go the same bindings are declared in Go.
//
// When the AzureSignalRConnectionString setting is set (in the environment,
// or in the Values of local.settings.json in the working directory) the
// example uses that SignalR Service; otherwise it starts the SignalR Service
// emulator in-process on 127.0.0.1, with its upstream pointing at this
// server, and says so. An identity-based connection string (AuthType=azure,
// azure.msi, azure.app) gets its credential from package azidentity, or,
// with -identity-key, from the test issuer key of a signalr-emulator
// started with the same -identity-key. -identity runs the embedded emulator
// in identity mode and connects to it with AuthType=azure.msi and a test
// credential, no access key in the app. The PORT environment variable
// changes the port when -addr is not given; the address is taken before
// anything else starts. At start it lists the functions, as func start
// does. SIGINT or SIGTERM stops it.
//
// With -endpoints N (2 to 8) it starts N embedded emulators, one endpoint
// each, prints one "embedded SignalR emulator emulator-<i> at <url>" line
// per endpoint, and negotiates round robin over the online ones, so that two
// windows land on different endpoints; sends go to every online endpoint.
// Several Azure__SignalR__Endpoints__<name> settings do the same with
// services of your own (the Management SDK's default router). Each endpoint
// is probed every -health-interval (default 10s, signalr.DefaultHealthInterval);
// a change of state is logged on stderr as
// `msg="endpoint state" endpoint=<name> online=<bool>`.
//
// With FUNCTIONS_CUSTOMHANDLER_PORT set, the Functions host started it as a
// custom handler: it says so, ignores the flags above, and serves the
// functions (the same handlers) to the host on 127.0.0.1 at that port, with
// functions/ (host.json and the function folders) as the function app; see
// README.md.
//
// The HTTP API:
//
//	POST   /api/negotiate                      connection info for hub chat; user id from
//	                                           x-ms-client-principal-id, else ?userId=
//	POST   /api/messages                       newMessage(<body>) to everyone
//	POST   /api/users/{userId}/messages        newMessage(<body>) to one user
//	POST   /api/groups/{group}/messages        newMessage(<body>) to one group
//	PUT    /api/groups/{group}/users/{userId}  add the user to the group
//	DELETE /api/groups/{group}/users/{userId}  remove the user from the group
//	POST   /runtime/webhooks/signalr           the upstream endpoint SignalR Service calls
//
// Sends and group changes answer 204 when delivered, 400 with {"error": ...}
// for a body that is not one JSON value, 404 for a message to a user with no
// connection, and 502 with the service's reason when SignalR Service refused
// or could not be reached (also logged).
//
// The hub methods clients invoke (connection.invoke(method, ...args)):
//
//	broadcast(text)          newMessage({from, text, sentAt}) to everyone
//	sendToUser(user, text)   newMessage({from, text, to: {user}, sentAt}) to the user's connections;
//	                         fails with "nobody named <user> is online" when there are none
//	sendToGroup(group, text) newMessage({from, text, to: {group}, sentAt}) to the group
//	joinGroup(group)         add the calling connection to the group
//	leaveGroup(group)        remove the calling connection from the group
//	echo(x)                  returns x
//
// "from" is the caller's user id. When a user's first connection opens or
// last one closes, everyone gets presence({user, online}).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/customhandler"
	"github.com/funcsignalr/signalr/emulator"
)

func main() {
	opts, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// defaultAddr is the Functions host's address, so the page and any client
// written for `func start` work unchanged.
const defaultAddr = "127.0.0.1:7071"

// options are the command-line settings.
type options struct {
	addr         string
	emulatorPort int
	endpoints    int // embedded emulators, one per endpoint
	// healthInterval is the time between two health probes of each
	// endpoint when there are several.
	healthInterval time.Duration
	bindings       string
	signalrJS      string
	verbose        bool
	identity       bool   // embedded emulator in identity mode
	identityKey    string // test issuer key of an emulator in identity mode
	// customHandlerPort is FUNCTIONS_CUSTOMHANDLER_PORT: when set, the
	// Functions host started the example as its custom handler.
	customHandlerPort string
}

// parseFlags reads the command line; getenv supplies PORT.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", defaultAddr, "address to listen on; PORT=n means 127.0.0.1:n when -addr is not given")
	fs.IntVar(&o.endpoints, "endpoints", 0, "number (2 to 8; 0 or 1 means one) of embedded SignalR emulators, one endpoint each (the page's clients spread over them and still talk); with settings, Azure__SignalR__Endpoints__<name> gives several")
	fs.DurationVar(&o.healthInterval, "health-interval", signalr.DefaultHealthInterval, "with several endpoints, the time between two health probes of each (an endpoint taken offline stops getting negotiates within one)")
	fs.IntVar(&o.emulatorPort, "emulator-port", 0, "port of the embedded SignalR emulator on 127.0.0.1 (0 picks a free one); unused with AzureSignalRConnectionString")
	fs.StringVar(&o.bindings, "bindings", "functions", `where the bindings are declared: "functions" (the embedded function.json files) or "go"`)
	fs.StringVar(&o.signalrJS, "signalr-js", "", "path of @microsoft/signalr's dist/browser/signalr.min.js (default: found under js/node_modules)")
	fs.BoolVar(&o.verbose, "v", false, "log every request, and the emulator's connects and REST calls")
	fs.BoolVar(&o.identity, "identity", false, "run the embedded emulator in identity mode and connect with AuthType=azure.msi and a test credential (no access key)")
	fs.StringVar(&o.identityKey, "identity-key", "", "test issuer key (PEM) of a signalr-emulator started with -identity-key, for an identity-based AzureSignalRConnectionString that points at it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	if port := getenv("PORT"); port != "" && !addrSet {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return o, fmt.Errorf("PORT=%q is not a port number", port)
		}
		o.addr = net.JoinHostPort("127.0.0.1", port)
	}
	if o.endpoints < 0 || o.endpoints > 8 {
		return o, fmt.Errorf("-endpoints %d: give 0 to 8", o.endpoints)
	}
	if o.healthInterval <= 0 {
		return o, fmt.Errorf("-health-interval %v must be positive, e.g. 10s", o.healthInterval)
	}
	if o.emulatorPort < 0 || o.emulatorPort > 65535 {
		return o, fmt.Errorf("-emulator-port %d is out of range", o.emulatorPort)
	}
	if o.identity && o.identityKey != "" {
		return o, errors.New("-identity (embedded emulator) and -identity-key (an emulator of your own) exclude each other; pick one")
	}
	if o.bindings != "functions" && o.bindings != "go" {
		return o, fmt.Errorf(`-bindings %q: want "functions" or "go"`, o.bindings)
	}
	if port, ok := customhandler.Port(getenv); ok {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return o, fmt.Errorf("%s=%q is not a port number", customhandler.PortEnv, port)
		}
		o.customHandlerPort = port
	}
	return o, nil
}

// run serves the example until ctx ends, then shuts down cleanly.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if o.customHandlerPort != "" {
		return runCustomHandler(ctx, o.customHandlerPort, stdout, logger)
	}

	b := declaredBindings()
	if o.bindings == "functions" {
		var err error
		if b, err = loadBindings(functionsFS); err != nil {
			return err
		}
	}

	js := newSignalRJS(o.signalrJS)
	if js.find() == "" {
		if o.signalrJS != "" {
			return fmt.Errorf("-signalr-js %s: no such file", o.signalrJS)
		}
		logger.Warn("the @microsoft/signalr browser client is missing, so the page cannot connect: " + npmHint)
	}

	// Listen before anything starts, so a busy port fails at once.
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return listenError(o.addr, err)
	}
	defer l.Close() // after Serve, closing again is harmless
	logger.Info(customhandler.PortEnv + " is not set: running as a plain HTTP server")

	// The connection string: AzureSignalRConnectionString if set, else the
	// embedded emulator's.
	bind := &signalr.BindOptions{}
	embedded := false
	setting, haveSetting := signalr.DefaultSettings().LookupSetting(signalr.DefaultConnectionStringSetting)
	haveSetting = haveSetting && strings.TrimSpace(setting) != ""
	configured, err := signalr.EndpointsFromSettings(signalr.DefaultSettings(), "")
	if err != nil && !errors.Is(err, signalr.ErrMissingSetting) {
		return err
	}
	logEndpointChange := func(st signalr.EndpointState) {
		logger.Warn("endpoint state", "endpoint", st.Name, "online", st.Online)
	}
	switch {
	case len(configured) > 1 || len(configured) == 1 && !haveSetting:
		if o.identity {
			return fmt.Errorf("-identity runs the embedded emulator, but %s:<name> settings are set; unset them or drop -identity", signalr.EndpointsSection)
		}
		client, err := signalr.NewMultiEndpointClient(configured, &signalr.MultiEndpointOptions{
			NewCredential: func(cs *signalr.ConnectionString) (azcore.TokenCredential, error) {
				return credentialFor(cs, o.identityKey)
			},
			HealthInterval:   o.healthInterval,
			OnEndpointChange: logEndpointChange,
		})
		if err != nil {
			return err
		}
		defer client.Close()
		bind.Client = client
		for _, e := range configured {
			fmt.Fprintf(stdout, "using the SignalR Service at %s (%s endpoint %q)\n", e.ConnectionString.Endpoint(), e.Type, e.Name)
		}
	case o.endpoints > 1 && !haveSetting:
		if o.identity {
			return errors.New("-endpoints with -identity is not supported; drop one")
		}
		var eps []signalr.Endpoint
		for i := 0; i < o.endpoints; i++ {
			port := o.emulatorPort
			if port != 0 {
				port += i
			}
			emu, err := startEmulator(port, upstreamURL(l.Addr()), o.verbose, false, logger)
			if err != nil {
				return err
			}
			defer emu.Close()
			cs, err := signalr.ParseConnectionString(emu.ConnectionString())
			if err != nil {
				return err
			}
			name := "emulator-" + strconv.Itoa(i+1)
			eps = append(eps, signalr.Endpoint{Name: name, ConnectionString: cs})
			fmt.Fprintf(stdout, "embedded SignalR emulator %s at %s\n", name, emu.URL)
		}
		// Round robin, so that two windows land on different endpoints.
		client, err := signalr.NewMultiEndpointClient(eps, &signalr.MultiEndpointOptions{
			Router:           &roundRobin{},
			HealthInterval:   o.healthInterval,
			OnEndpointChange: logEndpointChange,
		})
		if err != nil {
			return err
		}
		defer client.Close()
		bind.Client = client
		embedded = true
	case haveSetting && o.identity:
		return fmt.Errorf("-identity runs the embedded emulator, but %s is set; unset it or drop -identity", signalr.DefaultConnectionStringSetting)
	case haveSetting:
		cs, err := signalr.ParseConnectionString(setting)
		if err != nil {
			return fmt.Errorf("%s: %w", signalr.DefaultConnectionStringSetting, err)
		}
		// Every function.json here names this setting: bind them all to it.
		bind.ConnectionString = cs
		cred, err := credentialFor(cs, o.identityKey)
		if err != nil {
			return fmt.Errorf("%s: %w", signalr.DefaultConnectionStringSetting, err)
		}
		bind.ClientOptions = &signalr.ClientOptions{Credential: cred}
		fmt.Fprintf(stdout, "using the SignalR Service at %s (from %s%s)\n", cs.Endpoint(), signalr.DefaultConnectionStringSetting, authNote(cs))
	default:
		emu, err := startEmulator(o.emulatorPort, upstreamURL(l.Addr()), o.verbose, o.identity, logger)
		if err != nil {
			return err
		}
		defer emu.Close()
		var cred azcore.TokenCredential
		if bind.ConnectionString, cred, err = embeddedConnection(emu, o.identity); err != nil {
			return err
		}
		bind.ClientOptions = &signalr.ClientOptions{Credential: cred}
		embedded = true
		fmt.Fprintf(stdout, "no %s set: using the embedded SignalR emulator at %s%s\n", signalr.DefaultConnectionStringSetting, emu.URL, authNote(bind.ConnectionString))
		// On stderr, so that stdout keeps the layout func start prints.
		logger.Info("the emulator's dashboard (connections, live traffic, fault injection)", "url", emu.URL+"/")
	}

	a, err := newApp(appConfig{bindings: b, bind: bind, signalrJS: js, logger: logger})
	if err != nil {
		return err
	}
	defer a.close()

	var h http.Handler = a
	if o.verbose {
		h = logRequests(h, logger)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	printRoutes(stdout, pageURL(l.Addr()), b)
	if embedded {
		fmt.Fprintf(stdout, "the embedded emulator calls the hub functions at %s\n", upstreamURL(l.Addr()))
	} else {
		fmt.Fprintf(stdout, "hub methods need the SignalR Service to call %s: set it as the service's upstream URL (signalr-emulator -upstream URL; on Azure, an upstream URL template in serverless mode)\n",
			strings.TrimSuffix(pageURL(l.Addr()), "/")+signalr.DefaultUpstreamPath)
	}
	fmt.Fprintf(stdout, "chat is running: open %s in two browser windows, one per user (Ctrl+C stops it)\n", pageURL(l.Addr()))

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-served
	if err == nil {
		fmt.Fprintln(stdout, "chat stopped")
	}
	return err
}

// runCustomHandler serves the functions to the Azure Functions host on
// 127.0.0.1:port until ctx ends. The host resolves the bindings; when
// AzureSignalRConnectionString is set (the host passes the app settings
// on), a Client on it tells the handlers who is online, as in plain mode.
func runCustomHandler(ctx context.Context, port string, stdout io.Writer, logger *slog.Logger) error {
	addr := net.JoinHostPort("127.0.0.1", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return listenError(addr, err)
	}
	defer l.Close()
	var presence userPresence
	if setting, ok := signalr.DefaultSettings().LookupSetting(signalr.DefaultConnectionStringSetting); ok && strings.TrimSpace(setting) != "" {
		cs, err := signalr.ParseConnectionString(setting)
		if err != nil {
			return fmt.Errorf("%s: %w", signalr.DefaultConnectionStringSetting, err)
		}
		cred, err := credentialFor(cs, "")
		if err != nil {
			return fmt.Errorf("%s: %w", signalr.DefaultConnectionStringSetting, err)
		}
		client, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred})
		if err != nil {
			return err
		}
		defer client.CloseIdleConnections()
		presence = client
	}
	fsys, err := fs.Sub(functionsFS, "functions")
	if err != nil {
		return err
	}
	s, err := newCustomHandler(fsys, presence, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s=%s: running as an Azure Functions custom handler on %s (functions: %s)\n",
		customhandler.PortEnv, port, l.Addr(), strings.Join(s.Functions(), ", "))
	// The host's invocations come from 127.0.0.1; reading one (at most
	// customhandler.DefaultMaxBodyBytes) takes well under a minute.
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-served
	return err
}

// embeddedUpstreamTimeout bounds each call of the embedded emulator to the
// hub functions; the page gives up on an invocation a little later.
const embeddedUpstreamTimeout = 15 * time.Second

// startEmulator serves a SignalR Service emulator on 127.0.0.1:port that
// sends every hub's connection events and client invocations to upstream,
// in identity mode when identity is set.
func startEmulator(port int, upstream string, verbose, identity bool, logger *slog.Logger) (*emulator.Server, error) {
	opts := &emulator.Options{
		Upstream:        []emulator.UpstreamTemplate{{URLTemplate: upstream}},
		UpstreamTimeout: embeddedUpstreamTimeout,
	}
	if identity {
		opts.Identity = &emulator.IdentityOptions{}
	}
	if verbose {
		opts.Logger = logger.With("component", "emulator")
	}
	emu, err := emulator.New(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded SignalR emulator: %w", err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("embedded SignalR emulator: %w", err)
	}
	return emulator.Serve(l, emu), nil
}

// pageURL is the URL to open for a server listening on addr.
func pageURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// upstreamURL is the URL of the upstream endpoint of a server listening on
// addr, for the embedded emulator to call: a server listening on every
// interface is called on 127.0.0.1 (Go's listeners on every interface are
// dual-stack).
func upstreamURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + signalr.DefaultUpstreamPath
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + signalr.DefaultUpstreamPath
}

// listenError explains a failed listen on addr; for a busy port it says what
// to do about it.
func listenError(addr string, err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	next := "7072"
	if _, port, splitErr := net.SplitHostPort(addr); splitErr == nil {
		if n, convErr := strconv.Atoi(port); convErr == nil && n > 0 && n < 65535 {
			next = strconv.Itoa(n + 1)
		}
	}
	return fmt.Errorf("%w: another program (another chat, or func start) is using %s; stop it, or pick another port: PORT=%s make run, or -addr 127.0.0.1:%s",
		err, addr, next, next)
}

// printRoutes lists the functions, as `func start` does: the HTTP ones with
// their routes below base (the page's URL, ending in a slash), then the
// hub's with their trigger, such as messages/broadcast(text).
func printRoutes(w io.Writer, base string, b bindings) {
	fmt.Fprintln(w, "Functions:")
	width := 0 // of the longest "name:", so that the columns line up
	for _, rt := range routes {
		width = max(width, len(rt.function)+1)
	}
	for _, fn := range hubFunctions {
		width = max(width, len(fn.function)+1)
	}
	for _, rt := range routes {
		fmt.Fprintf(w, "  %-*s %-8s %s%s\n", width, rt.function+":", "["+rt.method+"]", strings.TrimSuffix(base, "/"), rt.path)
	}
	for _, fn := range hubFunctions {
		t := b.Hub[fn.function].Trigger
		call := t.Category + "/" + t.Event
		if t.Category == signalr.CategoryMessages {
			call += "(" + strings.Join(t.ParameterNames, ", ") + ")"
		}
		fmt.Fprintf(w, "  %-*s signalRTrigger %s\n", width, fn.function+":", call)
	}
}

// roundRobin is a Router that sends negotiates to the online endpoints in
// turn (the default picks at random) and everything else where
// DefaultRouter does.
type roundRobin struct {
	signalr.DefaultRouter
	n atomic.Uint64
}

// NegotiateEndpoint takes the next online endpoint.
func (r *roundRobin) NegotiateEndpoint(ctx context.Context, hub string, endpoints []signalr.EndpointState) (signalr.EndpointState, error) {
	var online []signalr.EndpointState
	for _, e := range endpoints {
		if e.Online {
			online = append(online, e)
		}
	}
	if len(online) == 0 {
		return r.DefaultRouter.NegotiateEndpoint(ctx, hub, endpoints)
	}
	return online[(r.n.Add(1)-1)%uint64(len(online))], nil
}
