package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/funcsignalr/signalr"
)

// app is the chat example's HTTP server side: the API, the page and the
// browser client, over one set of bound SignalR bindings.
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
	if bind.Sender == nil && bind.ConnectionString != nil {
		// Every output binding here names the same connection string, so
		// they share one Client and its connection pool.
		c, err := signalr.NewClient(bind.ConnectionString, nil)
		if err != nil {
			return nil, err
		}
		a.client, bind.Sender = c, c
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
		fnMessages:      b.Messages,
		fnUserMessages:  b.UserMessages,
		fnGroupMessages: b.GroupMessages,
		fnGroupAdd:      b.GroupAdd,
		fnGroupRemove:   b.GroupRemove,
	} {
		out, err := ob.Bind(&bind, &outOpts)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		outputs[fn] = out
	}

	api := apiHandler(byHeader, byQuery, outputs)

	mux := http.NewServeMux()
	// CORS lets a page on another origin call the API without credentials,
	// as Functions Core Tools does with CORS "*"; list origins in
	// CORSOptions to allow credentials.
	mux.Handle("/api/", signalr.CORS(api, nil))
	mux.Handle("GET /vendor/", cfg.signalrJS)
	page := pageHandler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /{file}", page)

	a.handler = mux
	return a, nil
}

// apiHandler serves the functions at their routes: negotiate with the two
// inputs, the others with the output of the same name.
func apiHandler(byHeader, byQuery *signalr.Input, outputs map[string]*signalr.Output) http.Handler {
	functions := map[string]http.Handler{
		fnNegotiate:     negotiateHandler(byHeader, byQuery),
		fnMessages:      messageHandler(outputs[fnMessages], toEveryone),
		fnUserMessages:  messageHandler(outputs[fnUserMessages], toUser),
		fnGroupMessages: messageHandler(outputs[fnGroupMessages], toGroup),
		fnGroupAdd:      groupActionHandler(outputs[fnGroupAdd], signalr.GroupActionAdd),
		fnGroupRemove:   groupActionHandler(outputs[fnGroupRemove], signalr.GroupActionRemove),
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, functions[rt.function])
	}
	return mux
}

// ServeHTTP serves the app.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// close releases the idle connections to SignalR Service.
func (a *app) close() {
	if a.client != nil {
		a.client.CloseIdleConnections()
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
