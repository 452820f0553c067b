package customhandler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/funcsignalr/signalr"
)

// PortEnv is the environment variable the Functions host sets to the port
// it expects the custom handler to listen on (on 127.0.0.1).
const PortEnv = "FUNCTIONS_CUSTOMHANDLER_PORT"

// Port returns the port the Functions host asked for and whether it did:
// FUNCTIONS_CUSTOMHANDLER_PORT set (to anything but spaces) means the
// process runs as a custom handler. getenv is os.Getenv in a program.
func Port(getenv func(string) string) (string, bool) {
	p := strings.TrimSpace(getenv(PortEnv))
	return p, p != ""
}

// Defaults of Options.
const (
	// DefaultMaxBodyBytes bounds an invocation body: the host's own
	// limit on an HTTP request (100 MB) plus room for the envelope and the
	// base64 or JSON escaping of the body.
	DefaultMaxBodyBytes = 140 << 20
	// DefaultMaxDepth bounds how deeply an invocation body nests arrays
	// and objects.
	DefaultMaxDepth = 64
)

// ErrBadPayload is wrapped by every *PayloadError.
var ErrBadPayload = errors.New("customhandler: bad invocation payload")

// PayloadError says which function and binding an invocation body got
// wrong. The Server answers it with 500 and logs it; it never holds a
// binding's value (a token, a body).
type PayloadError struct {
	// Function is the function the host invoked ("" when the path named
	// none).
	Function string
	// Binding is the binding at fault, "" for the envelope.
	Binding string
	// Reason says what is wrong and, where it can, how to fix it.
	Reason string
}

// Error names the function and binding.
func (e *PayloadError) Error() string {
	switch {
	case e.Function == "":
		return fmt.Sprintf("%v: %s", ErrBadPayload, e.Reason)
	case e.Binding == "":
		return fmt.Sprintf("%v: function %q: %s", ErrBadPayload, e.Function, e.Reason)
	}
	return fmt.Sprintf("%v: function %q, binding %q: %s", ErrBadPayload, e.Function, e.Binding, e.Reason)
}

// Unwrap returns ErrBadPayload.
func (e *PayloadError) Unwrap() error { return ErrBadPayload }

// Options tune a Server. The nil value means the defaults.
type Options struct {
	// Logger gets a line for every invocation answered with 500 (the host
	// logs the process's output; its own log line only gives the status).
	// Nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds an invocation body. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxDepth bounds the nesting of arrays and objects in an invocation
	// body. Zero means DefaultMaxDepth.
	MaxDepth int
	// Settings resolve %NAME% references in a signalR output binding's
	// hubName, as the host does. Nil means signalr.DefaultSettings() (the
	// environment, which the host fills with the app settings, then
	// local.settings.json).
	Settings signalr.Settings
}

// function is one function folder: its bindings and its handler.
type function struct {
	name string
	json *signalr.FunctionJSON
	// bindings maps each declared binding's lower-case name to its
	// lower-case type and direction.
	inputs  map[string]declared
	outputs map[string]declared
	// httpTrigger, httpOutput and trigger name the bindings of those types
	// ("" when there is none); httpOutput may be "$return".
	httpTrigger, httpOutput string
	trigger                 *signalr.TriggerBinding
	// returnDeclared reports a "$return" output binding.
	returnDeclared bool

	mu          sync.RWMutex
	httpHandler http.Handler
	trgHandler  signalr.TriggerHandler
}

type declared struct {
	name, typ string
}

// Server answers the Functions host's invocations, POST /<FunctionName>,
// for the functions of one app. It is an http.Handler; serve it on
// 127.0.0.1:<Port> with an http.Server whose ReadTimeout bounds reading an
// invocation (the host cancels an invocation that outlives its
// functionTimeout by closing the request, which ends the handler's context). Register a handler for each function with HandleHTTP
// or HandleTrigger, and give the handlers the Inputs and Outputs of
// ConnectionInfo and Output. It is safe for concurrent use.
type Server struct {
	functions map[string]*function // by lower-case name
	logger    *slog.Logger
	maxBody   int64
	maxDepth  int
	settings  signalr.Settings
}

// functionName is the host's rule for function names
// (Utility.FunctionNameValidationRegex).
var functionName = regexp.MustCompile(`(?i)^[a-z][a-z0-9_\-]{0,127}$`)

// New reads <name>/function.json for every folder at the top of fsys (the
// function app's root, where host.json is; os.DirFS(".") in the process
// the host starts, or an embedded copy) and returns a Server for those
// functions. A function.json that does not parse, or a function name the
// host would refuse, is an error naming the file. opts may be nil.
func New(fsys fs.FS, opts *Options) (*Server, error) {
	if fsys == nil {
		return nil, errors.New("customhandler: New needs the function app's folder, such as os.DirFS(\".\")")
	}
	if opts == nil {
		opts = &Options{}
	}
	if opts.MaxBodyBytes < 0 || opts.MaxDepth < 0 {
		return nil, errors.New("customhandler: Options.MaxBodyBytes and MaxDepth must not be negative; zero means the default")
	}
	s := &Server{functions: map[string]*function{}, logger: opts.Logger, maxBody: opts.MaxBodyBytes, maxDepth: opts.MaxDepth, settings: opts.Settings}
	if s.settings == nil {
		s.settings = signalr.DefaultSettings()
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxDepth == 0 {
		s.maxDepth = DefaultMaxDepth
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("customhandler: reading the function app's folder: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		file := path.Join(e.Name(), "function.json")
		data, err := fs.ReadFile(fsys, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a function folder (bin, static files, ...)
		}
		if err != nil {
			return nil, fmt.Errorf("customhandler: %s: %w", file, err)
		}
		if !functionName.MatchString(e.Name()) || strings.EqualFold(e.Name(), "host") {
			return nil, fmt.Errorf("customhandler: %s: the host refuses the function name %q; use a letter then letters, digits, _ or -", file, e.Name())
		}
		fn, err := newFunction(e.Name(), data)
		if err != nil {
			return nil, fmt.Errorf("customhandler: %s: %w", file, err)
		}
		s.functions[strings.ToLower(fn.name)] = fn
	}
	if len(s.functions) == 0 {
		return nil, errors.New("customhandler: no <name>/function.json under the function app's folder; New needs the folder that holds host.json and the function folders")
	}
	return s, nil
}

// newFunction parses one function.json.
func newFunction(name string, data []byte) (*function, error) {
	fj, err := signalr.ParseFunctionJSON(data)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Bindings []struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Direction string `json:"direction"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	fn := &function{name: name, json: fj, inputs: map[string]declared{}, outputs: map[string]declared{}}
	for i, b := range raw.Bindings {
		if b.Name == "" {
			return nil, fmt.Errorf("bindings[%d] has no name", i)
		}
		d := declared{name: b.Name, typ: strings.ToLower(b.Type)}
		key := strings.ToLower(b.Name)
		switch strings.ToLower(b.Direction) {
		case "in":
			fn.inputs[key] = d
		case "out":
			fn.outputs[key] = d
		case "inout":
			fn.inputs[key], fn.outputs[key] = d, d
		default:
			return nil, fmt.Errorf("bindings[%d] %q: direction %q; want in or out", i, b.Name, b.Direction)
		}
		switch {
		case d.typ == "httptrigger":
			fn.httpTrigger = b.Name
		case d.typ == "http" && strings.EqualFold(b.Direction, "out"):
			fn.httpOutput = b.Name
		}
		if b.Name == "$return" {
			fn.returnDeclared = true
		}
	}
	if len(fj.Triggers) > 0 {
		t := fj.Triggers[0]
		fn.trigger = &t
	}
	return fn, nil
}

// Functions returns the names of the functions, sorted.
func (s *Server) Functions() []string {
	names := make([]string, 0, len(s.functions))
	for _, fn := range s.functions {
		names = append(names, fn.name)
	}
	sort.Strings(names)
	return names
}

// function returns the named function, or an error naming the ones there
// are.
func (s *Server) function(name string) (*function, error) {
	if fn, ok := s.functions[strings.ToLower(name)]; ok {
		return fn, nil
	}
	return nil, fmt.Errorf("customhandler: no function %q (have %s)", name, strings.Join(s.Functions(), ", "))
}

// HandleHTTP registers h for the function, whose function.json must
// declare an httpTrigger. h gets the trigger's request as an *http.Request
// (method, URL with the query, headers, body, and the route parameters as
// PathValue) and its response becomes the http output binding; a function
// with no http output binding answers the host with no http output.
func (s *Server) HandleHTTP(functionName string, h http.Handler) error {
	fn, err := s.function(functionName)
	if err != nil {
		return err
	}
	if fn.httpTrigger == "" {
		return fmt.Errorf("customhandler: function %q declares no httpTrigger binding; register it with HandleTrigger", fn.name)
	}
	if h == nil {
		return fmt.Errorf("customhandler: function %q: nil handler", fn.name)
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if fn.httpHandler != nil {
		return fmt.Errorf("customhandler: function %q already has a handler", fn.name)
	}
	fn.httpHandler = h
	return nil
}

// HandleTrigger registers h for the function, whose function.json must
// declare a signalRTrigger. h gets the invocation as an InvocationContext
// with the binding's parameterNames, as Upstream gives it; its result
// becomes the invocation's ReturnValue, and an error answers the host with
// 500, which fails the invocation.
func (s *Server) HandleTrigger(functionName string, h signalr.TriggerHandler) error {
	fn, err := s.function(functionName)
	if err != nil {
		return err
	}
	if fn.trigger == nil {
		return fmt.Errorf("customhandler: function %q declares no signalRTrigger binding; register it with HandleHTTP", fn.name)
	}
	if h == nil {
		return fmt.Errorf("customhandler: function %q: nil handler", fn.name)
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if fn.trgHandler != nil {
		return fmt.Errorf("customhandler: function %q already has a handler", fn.name)
	}
	fn.trgHandler = h
	return nil
}

// ServeHTTP answers one invocation: POST /<FunctionName> with the host's
// {"Data","Metadata"} body, answered with {"Outputs","Logs","ReturnValue"}.
// A bad body, a function with no handler or a handler's error is answered
// with 500 and a body whose Logs say why, and logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if r.Method != http.MethodPost {
		// The host pings the handler's root with GET until it answers.
		if name == "" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Allow", http.MethodPost)
		s.fail(w, http.StatusMethodNotAllowed, fmt.Errorf("customhandler: %s /%s: the host invokes functions with POST", r.Method, truncate(name)))
		return
	}
	fn, ok := s.functions[strings.ToLower(name)]
	if !ok {
		s.fail(w, http.StatusNotFound, fmt.Errorf("customhandler: POST /%s: no such function (have %s)", truncate(name), strings.Join(s.Functions(), ", ")))
		return
	}
	body, err := readBody(r.Body, s.maxBody)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, &PayloadError{Function: fn.name, Reason: err.Error()})
		return
	}
	resp, err := s.invoke(r.Context(), fn, body)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("customhandler: function %q: encoding the response: %v", fn.name, err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(out)
}

// fail logs err and answers with status and a body whose Logs hold err.
func (s *Server) fail(w http.ResponseWriter, status int, err error) {
	s.logger.Error("custom handler invocation failed", "status", status, "err", err.Error())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(invocationResponse{Logs: []string{err.Error()}})
}

// invocationResponse is the body the host reads back
// (HttpScriptInvocationResult).
type invocationResponse struct {
	Outputs     map[string]any  `json:"Outputs"`
	Logs        []string        `json:"Logs,omitempty"`
	ReturnValue json.RawMessage `json:"ReturnValue,omitempty"`
}

// httpOutput is an http output binding's value (HttpOutputBindingResponse).
type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// invoke decodes body for fn, runs its handler and assembles the response.
func (s *Server) invoke(ctx context.Context, fn *function, body []byte) (*invocationResponse, error) {
	req, err := decodeRequest(body, s.maxDepth)
	if err != nil {
		return nil, &PayloadError{Function: fn.name, Reason: err.Error()}
	}
	inv := &invocation{fn: fn, data: map[string]json.RawMessage{}, outputs: map[string][]json.RawMessage{}, connInfo: map[string]connInfo{}}
	for key, raw := range req.Data {
		d, ok := fn.inputs[strings.ToLower(key)]
		if !ok {
			return nil, &PayloadError{Function: fn.name, Binding: key, Reason: fmt.Sprintf("Data holds a binding the function.json does not declare as an input (it declares %s); redeploy the function folder with the code", names(fn.inputs))}
		}
		if _, dup := inv.data[strings.ToLower(d.name)]; dup {
			return nil, &PayloadError{Function: fn.name, Binding: key, Reason: "Data holds this binding twice, in different letter cases"}
		}
		inv.data[strings.ToLower(d.name)] = raw
		if d.typ == "signalrconnectioninfo" {
			info, ok, err := decodeConnectionInfo(raw)
			if err != nil {
				return nil, &PayloadError{Function: fn.name, Binding: d.name, Reason: err.Error()}
			}
			inv.connInfo[strings.ToLower(d.name)] = connInfo{info: info, ok: ok}
		}
	}
	for key, d := range fn.inputs {
		if _, ok := inv.data[key]; !ok && (d.typ == "httptrigger" || d.typ == "signalrtrigger" || d.typ == "signalrconnectioninfo") {
			return nil, &PayloadError{Function: fn.name, Binding: d.name, Reason: "Data has no value for this declared " + d.typ + " binding"}
		}
	}
	ctx = context.WithValue(ctx, invocationKey{}, inv)
	defer inv.finish()

	fn.mu.RLock()
	httpHandler, trgHandler := fn.httpHandler, fn.trgHandler
	fn.mu.RUnlock()
	resp := &invocationResponse{Outputs: map[string]any{}}
	switch {
	case fn.httpTrigger != "":
		if httpHandler == nil {
			return nil, fmt.Errorf("customhandler: function %q has no handler; register one with HandleHTTP", fn.name)
		}
		r, err := decodeHTTPRequest(inv.data[strings.ToLower(fn.httpTrigger)], s.maxBody)
		if err != nil {
			return nil, &PayloadError{Function: fn.name, Binding: fn.httpTrigger, Reason: err.Error()}
		}
		rec := newRecorder()
		if err := serveRecovered(httpHandler, rec, r.WithContext(ctx)); err != nil {
			return nil, fmt.Errorf("customhandler: function %q: %v", fn.name, err)
		}
		if fn.httpOutput == "" && (rec.status != 0 || rec.body.Len() > 0) {
			s.logger.Warn("custom handler: the function's function.json declares no http output binding, so the host gets no HTTP response from it; declare one (\"type\": \"http\", \"direction\": \"out\")",
				"function", fn.name, "status", rec.status)
		}
		if fn.httpOutput != "" && !utf8.Valid(rec.body.Bytes()) {
			// JSON would replace the invalid bytes: the client would get
			// another body than the handler wrote.
			return nil, fmt.Errorf("customhandler: function %q, binding %q: the response body is not UTF-8 text, and the http output binding of a custom handler carries text only", fn.name, fn.httpOutput)
		}
		if fn.httpOutput != "" && len(rec.header.Values("Set-Cookie")) > 1 {
			// The host sets one string per header name; cookies joined
			// with ", " would not parse.
			return nil, fmt.Errorf("customhandler: function %q, binding %q: the response sets %d cookies, and the http output binding of a custom handler carries one value per header; set one cookie", fn.name, fn.httpOutput, len(rec.header.Values("Set-Cookie")))
		}
		if fn.httpOutput != "" {
			out := rec.output()
			if fn.httpOutput == "$return" {
				if resp.ReturnValue, err = json.Marshal(out); err != nil {
					return nil, err
				}
			} else {
				resp.Outputs[fn.httpOutput] = out
			}
		}
	case fn.trigger != nil:
		if trgHandler == nil {
			return nil, fmt.Errorf("customhandler: function %q has no handler; register one with HandleTrigger", fn.name)
		}
		ic, err := decodeInvocation(inv.data[strings.ToLower(fn.trigger.Name)], fn.trigger.ParameterNames)
		if err != nil {
			return nil, &PayloadError{Function: fn.name, Binding: fn.trigger.Name, Reason: err.Error()}
		}
		result, err := triggerRecovered(ctx, trgHandler, ic)
		if err != nil {
			return nil, fmt.Errorf("customhandler: function %q failed: %w", fn.name, err)
		}
		if result != nil {
			if resp.ReturnValue, err = json.Marshal(result); err != nil {
				return nil, fmt.Errorf("customhandler: function %q: its result cannot be encoded as JSON: %v", fn.name, err)
			}
		}
	default:
		return nil, fmt.Errorf("customhandler: function %q has neither an httpTrigger nor a signalRTrigger binding; this package serves those two", fn.name)
	}
	for name, items := range inv.takeOutputs() {
		resp.Outputs[name] = items
	}
	return resp, nil
}

// names lists the declared names of ds, sorted.
func names(ds map[string]declared) string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%q", d.name))
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// serveRecovered runs h, turning a panic into an error (net/http would
// recover it too, but the invocation must still be answered).
func serveRecovered(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				err = errors.New("the handler aborted")
				return
			}
			err = fmt.Errorf("the handler panicked: %v", p)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

func triggerRecovered(ctx context.Context, h signalr.TriggerHandler, inv *signalr.InvocationContext) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, fmt.Errorf("the handler panicked: %v", p)
		}
	}()
	return h.ServeTrigger(ctx, inv)
}

// recorder is the http.ResponseWriter an HTTP handler writes the http
// output binding through.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// output is the http output binding's value. Headers with several values
// are joined with ", ", as the host's own header dictionary holds one
// string per name.
func (r *recorder) output() httpOutput {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	h := make(map[string]string, len(r.header))
	for k, vs := range r.header {
		h[k] = strings.Join(vs, ", ")
	}
	return httpOutput{StatusCode: status, Headers: h, Body: r.body.String()}
}
