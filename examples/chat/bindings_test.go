package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/funcsignalr/signalr"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bindings the example loads from its function.json files are exactly
// the ones it declares in Go, so -bindings functions and -bindings go run
// the same app.
func TestFunctionJSONBindingsMatchGoDeclarations(t *testing.T) {
	t.Parallel()
	loaded, err := loadBindings(functionsFS)
	require.NoError(t, err)
	declared := declaredBindings()
	require.Equal(t, declared, loaded, "function.json bindings differ from the Go declarations:\nloaded   %+v\ndeclared %+v", loaded, declared)
	// And they are the seed's: hub chat, the default setting, the header
	// expression for the authenticated negotiate.
	require.Equal(t, "{headers.x-ms-client-principal-id}", loaded.Negotiate.UserID, "negotiate user ids = %q, %q", loaded.Negotiate.UserID, loaded.NegotiateFromQuery.UserID)
	require.Equal(t, "{query.userId}", loaded.NegotiateFromQuery.UserID, "negotiate user ids = %q, %q", loaded.Negotiate.UserID, loaded.NegotiateFromQuery.UserID)
	for _, ob := range []signalr.OutputBinding{loaded.Messages, loaded.UserMessages, loaded.GroupMessages, loaded.GroupAdd, loaded.GroupRemove} {
		require.Equal(t, "chat", ob.HubName, "output binding %+v: want hub chat and setting AzureSignalRConnectionString", ob)
		require.Equal(t, "AzureSignalRConnectionString", ob.ConnectionStringSetting, "output binding %+v: want hub chat and setting AzureSignalRConnectionString", ob)
	}
	// The hub functions: one signalRTrigger each, for hub chat, with a
	// signalR output when they send.
	require.Len(t, loaded.Hub, len(hubFunctions))
	events := map[string]string{}
	for _, fn := range hubFunctions {
		hb := loaded.Hub[fn.function]
		assert.Equal(t, "chat", hb.Trigger.HubName, "%s", fn.function)
		assert.Equal(t, "AzureSignalRConnectionString", hb.Trigger.ConnectionStringSetting, "%s", fn.function)
		assert.Equal(t, fn.output, hb.Output != nil, "%s: output binding %+v", fn.function, hb.Output)
		events[fn.function] = hb.Trigger.Category + "/" + hb.Trigger.Event
	}
	require.Equal(t, map[string]string{
		fnOnConnected: "connections/connected", fnOnDisconnected: "connections/disconnected",
		fnBroadcast: "messages/broadcast", fnSendToUser: "messages/sendToUser", fnSendToGroup: "messages/sendToGroup",
		fnJoinGroup: "messages/joinGroup", fnLeaveGroup: "messages/leaveGroup", fnEcho: "messages/echo",
		fnWhoAmI: "messages/whoAmI",
	}, events)
}

// httpTrigger is the part of a function.json httpTrigger binding that says
// where the function is served.
type httpTrigger struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	AuthLevel string   `json:"authLevel"`
	Methods   []string `json:"methods"`
	Route     string   `json:"route"`
}

// Every function folder is either an HTTP function with a route in the Go
// mux or a hub function. The mux serves each HTTP function at the method
// and route its httpTrigger declares (below /api, as the Functions host
// does), with an http output as in the seed; a hub function has a
// signalRTrigger and no HTTP binding.
func TestRoutesMatchHTTPTriggers(t *testing.T) {
	t.Parallel()
	dirs, err := fs.ReadDir(functionsFS, "functions")
	require.NoError(t, err)
	byFunction := map[string]route{}
	for _, rt := range routes {
		byFunction[rt.function] = rt
	}
	isHub := map[string]bool{}
	for _, fn := range hubFunctions {
		isHub[fn.function] = true
	}
	require.Equal(t, len(routes)+len(hubFunctions), len(dirs), "%d function folders, %d routes, %d hub functions", len(dirs), len(routes), len(hubFunctions))
	require.Equal(t, len(routes), len(byFunction), "%d routes for %d functions", len(routes), len(byFunction))
	for _, d := range dirs {
		data, err := fs.ReadFile(functionsFS, "functions/"+d.Name()+"/function.json")
		require.NoError(t, err)
		var file struct {
			Bindings []httpTrigger `json:"bindings"`
		}
		require.NoError(t, json.Unmarshal(data, &file), "%s", d.Name())
		var trigger *httpTrigger
		hasHTTPOut, hasSignalRTrigger := false, false
		for i, b := range file.Bindings {
			switch b.Type {
			case "httpTrigger":
				trigger = &file.Bindings[i]
			case "http":
				hasHTTPOut = b.Direction == "out"
			case "signalRTrigger":
				hasSignalRTrigger = b.Direction == "in"
			}
		}
		if isHub[d.Name()] {
			assert.True(t, hasSignalRTrigger && trigger == nil && !hasHTTPOut, "hub function %s: want a signalRTrigger (direction in) and no HTTP bindings", d.Name())
			continue
		}
		rt, ok := byFunction[d.Name()]
		if !ok {
			assert.Fail(t, fmt.Sprintf("functions/%s has no route and is not a hub function", d.Name()))
			continue
		}
		if trigger == nil || !hasHTTPOut {
			assert.Fail(t, fmt.Sprintf("%s: want an httpTrigger and an http output binding", d.Name()))
			continue
		}
		got := "/api/" + trigger.Route
		assert.Equal(t, rt.path, got, "%s: function.json route %q is served at %q", d.Name(), got, rt.path)
		assert.False(t, len(trigger.Methods) != 1 || strings.ToUpper(trigger.Methods[0]) != rt.method, "%s: function.json methods %q, mux method %s", d.Name(), trigger.Methods, rt.method)
		assert.Equal(t, "anonymous", trigger.AuthLevel, "%s: authLevel %q, want anonymous", d.Name(), trigger.AuthLevel)
	}
}

// A broken or incomplete function.json stops the example with an error that
// names the function.
func TestLoadBindingsErrors(t *testing.T) {
	t.Parallel()
	good := func() fstest.MapFS {
		m := fstest.MapFS{}
		err := fs.WalkDir(functionsFS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(functionsFS, p)
			m[p] = &fstest.MapFile{Data: data}
			return err
		})
		require.NoError(t, err)
		return m
	}
	if _, err := loadBindings(good()); err != nil {
		require.FailNow(t, fmt.Sprintf("a copy of the embedded files: %v", err))
	}

	tests := []struct {
		name, file, content string
		wantIs              error
		wantText            string
	}{
		{"missing file", "functions/group-add/function.json", "", fs.ErrNotExist, "group-add"},
		{"not JSON", "functions/messages/function.json", "{", nil, "functions/messages/function.json"},
		{"no signalR output", "functions/user-messages/function.json", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"}]}`, nil, "user-messages"},
		{"renamed input", "functions/negotiate/function.json",
			`{"bindings":[{"type":"signalRConnectionInfo","name":"info","hubName":"chat","direction":"in"}]}`, nil, "negotiate"},
		{"unknown property", "functions/group-remove/function.json",
			`{"bindings":[{"type":"signalR","name":"x","hubName":"chat","direction":"out","hubname2":"y"}]}`, signalr.ErrInvalidBinding, "group-remove"},
		{"missing hub function", "functions/echo/function.json", "", fs.ErrNotExist, "echo"},
		{"hub function without trigger", "functions/join-group/function.json",
			`{"bindings":[{"type":"signalR","name":"x","hubName":"chat","direction":"out"}]}`, signalr.ErrInvalidBinding, "join-group"},
		{"hub method without output", "functions/broadcast/function.json",
			`{"bindings":[{"type":"signalRTrigger","name":"invocation","hubName":"chat","category":"messages","event":"broadcast","direction":"in"}]}`, signalr.ErrInvalidBinding, "broadcast"},
		{"bad trigger", "functions/on-connected/function.json",
			`{"bindings":[{"type":"signalRTrigger","name":"invocation","hubName":"chat","category":"connections","event":"opened","direction":"in"}]}`, signalr.ErrInvalidBinding, "on-connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			if tt.content == "" {
				delete(m, tt.file)
			} else {
				m[tt.file] = &fstest.MapFile{Data: []byte(tt.content)}
			}
			_, err := loadBindings(m)
			require.Error(t, err, "no error")
			assert.False(t, tt.wantIs != nil && !errors.Is(err, tt.wantIs), "error %v does not wrap %v", err, tt.wantIs)
			assert.Contains(t, err.Error(), tt.wantText, "error %q does not name %q", err, tt.wantText)
		})
	}
}
