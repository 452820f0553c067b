package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/signalr"
)

// app is the chat example's HTTP server side: the API, the hub's upstream
// endpoint, the page and the browser client, over one set of bound SignalR
// bindings.
type app struct {
	handler http.Handler
	client  *signalr.Client // shared by the output bindings, or nil
}

// appConfig says how to build an app.
type appConfig struct {
	// bindings are the declarations to bind (from function.json or Go).
	bindings bindings
	// bind tells the bindings where the connection string comes from.
	bind *signalr.BindOptions
	// sender, when set, is what the output bindings send through instead
	// of a Client (tests pass a signalrtest.FakeSender).
	sender signalr.Sender
	// outputs tunes the output bindings.
	outputs signalr.OutputOptions
	// signalrJS locates the @microsoft/signalr browser client.
	signalrJS *signalrJS
	// logger gets the errors that cannot become a response; nil discards.
	logger *slog.Logger
}

// newApp binds cfg.bindings and builds the handler.
func newApp(cfg appConfig) (*app, error) {
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	outOpts := cfg.outputs
	if outOpts.OnError == nil {
		outOpts.OnError = func(r *http.Request, err error) {
			logger.Error("SignalR output not delivered", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}

	a := &app{}
	var bind signalr.BindOptions
	if cfg.bind != nil {
		bind = *cfg.bind
	}
	if bind.Client == nil && bind.ConnectionString != nil {
		// Every binding here names the same connection string, so they
		// share one Client: its connection pool, and with a credential its
		// Microsoft Entra token and signing key.
		co, err := clientOptions(&bind)
		if err != nil {
			return nil, err
		}
		c, err := signalr.NewClient(bind.ConnectionString, co)
		if err != nil {
			return nil, err
		}
		a.client = c
		bind.Client, bind.ConnectionString, bind.ClientOptions = c, nil, nil
	}
	bindOutput := func(ob signalr.OutputBinding) (*signalr.Output, error) {
		if cfg.sender != nil {
			return signalr.NewOutput(cfg.sender, ob.HubName, &outOpts)
		}
		return ob.Bind(&bind, &outOpts)
	}

	b := cfg.bindings
	byHeader, err := b.Negotiate.Bind(&bind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fnNegotiate, err)
	}
	byQuery, err := b.NegotiateFromQuery.Bind(&bind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fnNegotiate, err)
	}
	outputs := map[string]*signalr.Output{}
	for fn, ob := range map[string]signalr.OutputBinding{
		fnMessages:           b.Messages,
		fnUserMessages:       b.UserMessages,
		fnGroupMessages:      b.GroupMessages,
		fnConnectionMessages: b.ConnectionMessages,
		fnGroupAdd:           b.GroupAdd,
		fnGroupRemove:        b.GroupRemove,
	} {
		out, err := bindOutput(ob)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		outputs[fn] = out
	}

	// The shared Client can tell whether a user is online; another Sender
	// (a fake, a wrapper) may not, and then direct messages are not checked.
	var presence userPresence
	switch {
	case cfg.sender != nil:
		presence, _ = cfg.sender.(userPresence)
	case bind.Client != nil:
		presence = bind.Client
	}
	api := apiHandler(byHeader, byQuery, outputs, presence)

	// The class-based hub behind the upstream endpoint, sending through the
	// output binding its functions share. The access key of the connection
	// string validates the service's signatures.
	hubOut, err := b.hubOutput()
	if err != nil {
		a.close()
		return nil, err
	}
	out, err := bindOutput(hubOut)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("hub %s: %w", hubName, err)
	}
	h := &chatHub{presence: presence}
	up, err := newUpstream(b, out, h, logger, &signalr.UpstreamOptions{Bind: &bind, Logger: logger})
	if err != nil {
		a.close()
		return nil, err
	}

	mux := http.NewServeMux()
	// CORS lets a page on another origin call the API without credentials,
	// as Functions Core Tools does with CORS "*"; list origins in
	// CORSOptions to allow credentials.
	mux.Handle("/api/", signalr.CORS(logUndelivered(api, logger), nil))
	// Only SignalR Service calls the upstream endpoint: no CORS.
	mux.Handle(signalr.DefaultUpstreamPath, up)
	mux.Handle("GET /vendor/", cfg.signalrJS)
	page := pageHandler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /{file}", page)

	a.handler = mux
	return a, nil
}

// apiHandler serves the functions at their routes: negotiate with the two
// inputs, the others with the output of the same name. presence, when not
// nil, turns direct messages to users who are not online into 404s.
func apiHandler(byHeader, byQuery *signalr.Input, outputs map[string]*signalr.Output, presence userPresence) http.Handler {
	functions := apiFunctions(byHeader, byQuery, outputs, presence)
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, functions[rt.function])
	}
	return mux
}

// apiFunctions are the HTTP functions' handlers by function name, the same
// whether a mux routes to them (plain mode) or the Functions host invokes
// them (custom handler mode).
func apiFunctions(byHeader, byQuery *signalr.Input, outputs map[string]*signalr.Output, presence userPresence) map[string]http.Handler {
	return map[string]http.Handler{
		fnNegotiate:          negotiateHandler(byHeader, byQuery),
		fnMessages:           messageHandler(outputs[fnMessages], presence, toEveryone),
		fnUserMessages:       messageHandler(outputs[fnUserMessages], presence, toUser),
		fnGroupMessages:      messageHandler(outputs[fnGroupMessages], presence, toGroup),
		fnGroupAdd:           groupActionHandler(outputs[fnGroupAdd], signalr.GroupActionAdd),
		fnGroupRemove:        groupActionHandler(outputs[fnGroupRemove], signalr.GroupActionRemove),
		fnConnectionMessages: messageHandler(outputs[fnConnectionMessages], presence, toConnection),
		fnAskConnection:      askHandler(presence),
	}
}

// ServeHTTP serves the app.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// close releases the idle connections to SignalR Service.
func (a *app) close() {
	if a.client != nil {
		_ = a.client.Close() // its service connections too, with Persistent
	}
}

// logRequests logs one line per request: method, path, status and time.
// Query strings are left out.
func logRequests(h http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", status, "took", time.Since(start).Round(time.Microsecond))
	})
}

// askPattern is the ask-connection route as the API's mux names it.
var askPattern = func() string {
	for _, rt := range routes {
		if rt.function == fnAskConnection {
			return rt.method + " " + rt.path
		}
	}
	return ""
}()

// maxLoggedBody bounds how much of a 502 body logUndelivered keeps.
const maxLoggedBody = 64 << 10

// logUndelivered logs every 502 the API answers (SignalR Service refused
// the output or could not be reached) with the service's status codes and
// reasons, so the terminal running the chat says why a send failed. The
// route is logged as its pattern, not the path, which holds user and group
// names.
func logUndelivered(h http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &bodyWriter{statusWriter: statusWriter{ResponseWriter: w}}
		h.ServeHTTP(bw, r)
		if bw.status != http.StatusBadGateway || r.Pattern == askPattern {
			// The ask route's 502 is the client's failure, said in the
			// answer, not the service's refusal.
			return
		}
		var body struct {
			Error    string `json:"error"`
			Failures []struct {
				StatusCode int    `json:"statusCode"`
				ErrorCode  string `json:"errorCode"`
				Reason     string `json:"reason"`
			} `json:"failures"`
		}
		_ = json.Unmarshal(bw.body.Bytes(), &body)
		statuses := make([]string, 0, len(body.Failures))
		reasons := make([]string, 0, len(body.Failures))
		for _, f := range body.Failures {
			status := "none"
			if f.StatusCode != 0 {
				status = strconv.Itoa(f.StatusCode)
			}
			if f.ErrorCode != "" {
				status += " " + f.ErrorCode
			}
			statuses = append(statuses, status)
			reasons = append(reasons, f.Reason)
		}
		route := r.Pattern // set by the API's mux to the matched route
		if route == "" || route == "/api/" {
			route = r.Method
		}
		logger.Error("SignalR Service did not take the output: answered 502",
			"route", route, "failures", len(body.Failures),
			"serviceStatus", strings.Join(statuses, "; "), "reason", strings.Join(reasons, "; "))
	})
}

// bodyWriter is a statusWriter that also keeps the start of a 502 body.
type bodyWriter struct {
	statusWriter
	body bytes.Buffer
}

func (b *bodyWriter) Write(p []byte) (int, error) {
	n, err := b.statusWriter.Write(p)
	if b.status == http.StatusBadGateway && b.body.Len() < maxLoggedBody {
		b.body.Write(p[:min(n, maxLoggedBody-b.body.Len())])
	}
	return n, err
}

// clientOptions returns bind's ClientOptions, with the transport the
// AzureSignalRServiceTransportType setting names (Transient or Persistent)
// when they set none, as the bindings' own Clients read it.
func clientOptions(bind *signalr.BindOptions) (*signalr.ClientOptions, error) {
	var co signalr.ClientOptions
	if bind.ClientOptions != nil {
		co = *bind.ClientOptions
	}
	if co.Transport == "" {
		settings := bind.Settings
		if settings == nil {
			settings = signalr.DefaultSettings()
		}
		v, _ := settings.LookupSetting(signalr.TransportSetting)
		t, err := signalr.ParseTransport(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", signalr.TransportSetting, err)
		}
		co.Transport = t
	}
	return &co, nil
}
