package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/customhandler"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testHost plays the Azure Functions host in front of the chat running as a
// custom handler, over real HTTP: it routes /api requests to the functions
// by their httpTrigger routes and the emulator's upstream calls to the
// functions by their signalRTrigger, resolves signalRConnectionInfo inputs
// (minting as the extension does), POSTs {"Data","Metadata"} to the
// handler at /<FunctionName>, and carries out the Outputs it answers: the
// signalR items through a Client (as the extension's collector does) and the
// http output as the response.
type testHost struct {
	t       *testing.T
	handler string // the custom handler's base URL
	cs      *signalr.ConnectionString
	client  *signalr.Client
	mux     *http.ServeMux

	mu      sync.Mutex
	invoked []string // function names, in order
}

// hostBinding is one binding of a function.json, as the host reads it.
type hostBinding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	Route     string   `json:"route"`
	Methods   []string `json:"methods"`
	HubName   string   `json:"hubName"`
	UserID    string   `json:"userId"`
}

func newTestHost(t *testing.T, handlerURL, cs string, fsys fs.FS) *testHost {
	t.Helper()
	parsed, err := signalr.ParseConnectionString(cs)
	require.NoError(t, err)
	client, err := signalr.NewClient(parsed, nil)
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	h := &testHost{t: t, handler: handlerURL, cs: parsed, client: client, mux: http.NewServeMux()}
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: parsed}})
	require.NoError(t, err)
	entries, err := fs.ReadDir(fsys, ".")
	require.NoError(t, err)
	for _, e := range entries {
		data, err := fs.ReadFile(fsys, path.Join(e.Name(), "function.json"))
		if err != nil {
			continue
		}
		var doc struct{ Bindings []hostBinding }
		require.NoError(t, json.Unmarshal(data, &doc))
		fn := e.Name()
		for _, b := range doc.Bindings {
			switch b.Type {
			case "httpTrigger":
				route := b.Route
				if route == "" {
					route = fn
				}
				for _, m := range b.Methods {
					h.mux.Handle(strings.ToUpper(m)+" /api/"+route, h.httpFunction(fn, route, doc.Bindings))
				}
			case "signalRTrigger":
				f, err := signalr.ParseFunctionJSON(data)
				require.NoError(t, err)
				trg, err := f.TriggerBinding("")
				require.NoError(t, err)
				require.NoError(t, up.Handle(trg, h.triggerFunction(fn, b.Name, trg, doc.Bindings)))
			}
		}
	}
	h.mux.Handle(signalr.DefaultUpstreamPath, up)
	return h
}

func (h *testHost) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// routeParams are the {name} parameters of a Functions route.
var routeParams = regexp.MustCompile(`\{([^}]+)\}`)

// httpFunction invokes fn for an HTTP request, as the host does when
// enableForwardingHttpRequest is off.
func (h *testHost) httpFunction(fn, route string, bindings []hostBinding) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		query := map[string]string{}
		for k, vs := range r.URL.Query() {
			query[k] = strings.Join(vs, ",")
		}
		params := map[string]string{}
		for _, m := range routeParams.FindAllStringSubmatch(route, -1) {
			params[m[1]] = r.PathValue(m[1])
		}
		req := map[string]any{
			"Url":     "http://" + r.Host + r.URL.RequestURI(),
			"Method":  r.Method,
			"Query":   query,
			"Headers": r.Header,
			"Params":  params,
		}
		if len(body) > 0 {
			req["Body"] = string(body)
		}
		data := map[string]any{}
		var outputs []hostBinding
		for _, b := range bindings {
			switch {
			case b.Type == "httpTrigger":
				data[b.Name] = req
			case b.Type == "signalRConnectionInfo":
				user, err := evalUserID(b.UserID, r)
				if err != nil {
					// The host fails the invocation before calling
					// the handler (azure-functions-signalrservice-extension#58).
					http.Error(w, "Exception binding parameter '"+b.Name+"'. "+err.Error(), http.StatusInternalServerError)
					return
				}
				info, err := h.client.ConnectionInfo(r.Context(), b.HubName, &signalr.ClientTokenOptions{UserID: user})
				require.NoError(h.t, err)
				data[b.Name] = info
			case b.Type == "signalR":
				outputs = append(outputs, b)
			}
		}
		resp, err := h.invoke(r.Context(), fn, data, nil, outputs)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var res struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		require.NoError(h.t, json.Unmarshal(resp.Outputs["res"], &res), "%s: Outputs.res", fn)
		for k, v := range res.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.WriteString(w, res.Body)
	})
}

// evalUserID resolves a {headers.X} or {query.X} expression, failing as the
// host does when the value is missing.
func evalUserID(expr string, r *http.Request) (string, error) {
	if !strings.HasPrefix(expr, "{") {
		return expr, nil
	}
	source, name, _ := strings.Cut(strings.Trim(expr, "{}"), ".")
	var v string
	var ok bool
	switch source {
	case "headers":
		vs := r.Header.Values(name)
		v, ok = strings.Join(vs, ","), len(vs) > 0
	case "query":
		v, ok = r.URL.Query().Get(name), r.URL.Query().Has(name)
	}
	if !ok {
		return "", fmt.Errorf("Error while accessing '%s': property doesn't exist.", name)
	}
	return v, nil
}

// triggerFunction invokes fn for an upstream call, passing the
// InvocationContext as the extension serializes it (PascalCase) and the
// ReturnValue back as the invocation's result.
func (h *testHost) triggerFunction(fn, name string, trg signalr.TriggerBinding, bindings []hostBinding) signalr.TriggerHandler {
	return signalr.TriggerHandlerFunc(func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		headers := map[string]string{}
		for k, vs := range inv.Headers {
			headers[k] = strings.Join(vs, ",")
		}
		query := map[string]string{}
		for k, vs := range inv.Query {
			query[k] = strings.Join(vs, ",")
		}
		args := make([]json.RawMessage, len(inv.Arguments))
		metadata := map[string]any{}
		for i, a := range inv.Arguments {
			args[i] = a.Raw()
			if i < len(trg.ParameterNames) {
				metadata[trg.ParameterNames[i]] = args[i]
			}
		}
		var userID any
		if inv.UserID != "" {
			userID = inv.UserID
		}
		data := map[string]any{name: map[string]any{
			"Arguments": args, "Error": inv.Error, "Category": inv.Category, "Event": inv.Event, "Hub": inv.Hub,
			"ConnectionId": inv.ConnectionID, "UserId": userID, "Headers": headers, "Query": query, "Claims": inv.Claims,
		}}
		var outputs []hostBinding
		for _, b := range bindings {
			if b.Type == "signalR" {
				outputs = append(outputs, b)
			}
		}
		resp, err := h.invoke(ctx, fn, data, metadata, outputs)
		if err != nil {
			return nil, err
		}
		if len(resp.ReturnValue) == 0 {
			return nil, nil
		}
		return resp.ReturnValue, nil
	})
}

type hostResponse struct {
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue json.RawMessage
}

// invoke POSTs one invocation to the handler and carries out its signalR
// outputs.
func (h *testHost) invoke(ctx context.Context, fn string, data, metadata map[string]any, outputs []hostBinding) (*hostResponse, error) {
	h.mu.Lock()
	h.invoked = append(h.invoked, fn)
	h.mu.Unlock()
	body, err := json.Marshal(map[string]any{"Data": data, "Metadata": metadata})
	require.NoError(h.t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.handler+"/"+fn, bytes.NewReader(body))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		// DefaultHttpWorkerService: EnsureSuccessStatusCode, whose
		// message has the status but not the body.
		h.t.Logf("%s answered %d: %s", fn, resp.StatusCode, answer)
		return nil, fmt.Errorf("Response status code does not indicate success: %d (%s).", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	var r hostResponse
	require.NoError(h.t, json.Unmarshal(answer, &r), "%s answered %s", fn, answer)
	for _, b := range outputs {
		items, ok := r.Outputs[b.Name]
		if !ok {
			continue
		}
		require.Equal(h.t, byte('['), bytes.TrimSpace(items)[0], "%s: Outputs.%s is %s, want an array of objects", fn, b.Name, items)
		out, err := signalr.NewOutput(h.client, b.HubName, nil)
		require.NoError(h.t, err)
		c := out.NewCollector()
		require.NoError(h.t, c.AddJSON(items), "%s: Outputs.%s = %s", fn, b.Name, items)
		if err := c.Flush(ctx); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

func (h *testHost) functionsInvoked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.invoked...)
}

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	require.NoError(t, l.Close())
	return port
}

// startCustomHandler runs the chat as the host starts it: with
// FUNCTIONS_CUSTOMHANDLER_PORT and the app settings in its environment. It
// returns the handler's URL once it answers the host's readiness ping.
func startCustomHandler(t *testing.T, cs string) (string, *syncBuffer) {
	t.Helper()
	port := freePort(t)
	t.Setenv(customhandler.PortEnv, port)
	t.Setenv(signalr.DefaultConnectionStringSetting, cs)
	o, err := parseFlags(nil, func(k string) string {
		if k == customhandler.PortEnv {
			return port
		}
		return ""
	}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, port, o.customHandlerPort)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := httpClient.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		require.False(t, time.Now().After(deadline), "the custom handler did not listen: %v\n%s", err, stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	return base, &stdout
}

// TestChatAsCustomHandler runs the chat as a custom handler behind a test
// host that speaks the payload format over real HTTP, with the emulator as
// SignalR Service: negotiate, the HTTP sends to everyone, a user and a
// group, group add and remove, and the hub methods.
func TestChatAsCustomHandler(t *testing.T) {
	hostSrv := httptest.NewUnstartedServer(nil)
	emu := signalrtest.NewEmulator(t, &emulator.Options{
		Upstream:        []emulator.UpstreamTemplate{{URLTemplate: "http://" + hostSrv.Listener.Addr().String() + signalr.DefaultUpstreamPath}},
		UpstreamTimeout: 5 * time.Second,
	})
	handlerURL, stdout := startCustomHandler(t, emu.ConnectionString())
	assert.Contains(t, stdout.String(), "running as an Azure Functions custom handler on 127.0.0.1:")
	fsys, err := fs.Sub(functionsFS, "functions")
	require.NoError(t, err)
	host := newTestHost(t, handlerURL, emu.ConnectionString(), fsys)
	hostSrv.Config.Handler = host
	hostSrv.Start()
	t.Cleanup(hostSrv.Close)
	base := hostSrv.URL

	// The host resolves every input before it calls the handler, so the
	// negotiate function, which declares a header and a query binding,
	// needs both; without the header it fails there.
	status, body := call(t, "POST", base+"/api/negotiate?userId=alice", "", nil)
	require.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(body), "Error while accessing 'x-ms-client-principal-id'")
	connect := func(user string) *hubClient {
		return connectWith(t, base, "/api/negotiate?userId="+user, http.Header{"X-Ms-Client-Principal-Id": {user}}, user)
	}
	alice := connect("alice")
	alice.wantPresence("alice", true)
	bob := connect("bob")
	alice.wantPresence("bob", true)
	bob.wantPresence("bob", true)

	// HTTP sends.
	status, body = call(t, "POST", base+"/api/messages", `{"text":"to all"}`, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	alice.want(`{"text":"to all"}`)
	bob.want(`{"text":"to all"}`)
	status, body = call(t, "POST", base+"/api/users/bob/messages", `{"text":"to bob"}`, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	bob.want(`{"text":"to bob"}`)
	status, body = call(t, "POST", base+"/api/users/nobody/messages", `{"text":"?"}`, nil)
	require.Equal(t, http.StatusNotFound, status, "%s", body)
	assert.Contains(t, string(body), "nobody named nobody is online")

	status, body = call(t, "PUT", base+"/api/groups/g1/users/alice", "", nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	status, body = call(t, "POST", base+"/api/groups/g1/messages", `{"text":"to g1"}`, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	alice.want(`{"text":"to g1"}`)
	status, body = call(t, "DELETE", base+"/api/groups/g1/users/alice", "", nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	status, body = call(t, "POST", base+"/api/groups/g1/messages", `{"text":"nobody hears"}`, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	status, body = call(t, "POST", base+"/api/messages", `{"text":"marker"}`, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	alice.want(`{"text":"marker"}`) // not "nobody hears": alice left g1
	bob.want(`{"text":"marker"}`)

	status, body = call(t, "POST", base+"/api/messages", `not json`, nil)
	require.Equal(t, http.StatusBadRequest, status, "%s", body)

	// Hub methods, through the emulator's upstream.
	assert.JSONEq(t, `{"n":[1,2]}`, string(alice.mustInvoke("echo", map[string]any{"n": []int{1, 2}})))
	alice.mustInvoke("broadcast", "hello")
	alice.wantChat("alice", "hello", nil)
	bob.wantChat("alice", "hello", nil)
	alice.mustInvoke("sendToUser", "bob", "psst")
	bob.wantChat("alice", "psst", &audience{User: "bob"})
	failed := alice.invoke("sendToUser", "dave", "hi")
	assert.Contains(t, failed.Error, "500", "a hub function's error fails the invocation on the host")
	bob.mustInvoke("joinGroup", "g2")
	alice.mustInvoke("sendToGroup", "g2", "group hi")
	bob.wantChat("alice", "group hi", &audience{Group: "g2"})
	bob.mustInvoke("leaveGroup", "g2")
	alice.mustInvoke("sendToGroup", "g2", "after leave")
	alice.mustInvoke("broadcast", "end")
	bob.wantChat("alice", "end", nil) // not "after leave"

	invoked := host.functionsInvoked()
	for _, fn := range []string{fnNegotiate, fnMessages, fnUserMessages, fnGroupMessages, fnGroupAdd, fnGroupRemove,
		fnOnConnected, fnBroadcast, fnSendToUser, fnSendToGroup, fnJoinGroup, fnLeaveGroup, fnEcho} {
		assert.Contains(t, invoked, fn, "the host never invoked %s", fn)
	}
}

// functions/ is a function app folder the Functions host runs the chat from:
// host.json names the binary the host starts and keeps the Data/Outputs
// payloads (no forwarding of raw requests), and every function folder loads
// as the custom handler serves it.
func TestFunctionAppFolder(t *testing.T) {
	data, err := os.ReadFile("functions/host.json")
	require.NoError(t, err)
	var host struct {
		Version         string
		ExtensionBundle struct{ ID string }
		CustomHandler   struct {
			Description struct {
				DefaultExecutablePath string
			}
			EnableForwardingHttpRequest *bool
		}
	}
	require.NoError(t, json.Unmarshal(data, &host))
	assert.Equal(t, "2.0", host.Version)
	assert.Equal(t, "Microsoft.Azure.Functions.ExtensionBundle", host.ExtensionBundle.ID, "the SignalR bindings come from the extension bundle")
	assert.Equal(t, "chat", host.CustomHandler.Description.DefaultExecutablePath)
	require.NotNil(t, host.CustomHandler.EnableForwardingHttpRequest)
	assert.False(t, *host.CustomHandler.EnableForwardingHttpRequest, "forwarding carries no binding data")

	s, err := newCustomHandler(os.DirFS("functions"), nil, nil)
	require.NoError(t, err)
	var want []string
	for _, rt := range routes {
		want = append(want, rt.function)
	}
	for _, fn := range hubFunctions {
		want = append(want, fn.function)
	}
	assert.ElementsMatch(t, want, s.Functions())
}

// The mode comes from the environment, and the chat says which it runs in.
func TestModeFromEnvironment(t *testing.T) {
	for _, bad := range []string{"x", "0", "70000"} {
		_, err := parseFlags(nil, func(k string) string {
			if k == customhandler.PortEnv {
				return bad
			}
			return ""
		}, io.Discard)
		assert.ErrorContains(t, err, customhandler.PortEnv+`="`+bad+`" is not a port number`)
	}
	unsetConnectionString(t)
	r := start(t, "-signalr-js", fakeSignalRJS(t))
	assert.Contains(t, r.stderr.String(), customhandler.PortEnv+" is not set: running as a plain HTTP server")
	assert.NotContains(t, r.stdout.String(), "custom handler")
}
