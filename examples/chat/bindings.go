package main

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	"github.com/funcsignalr/signalr"
)

// functionsFS holds the function.json files, one folder per function, laid
// out as in an Azure Functions app; embedding them keeps the binary
// self-contained.
//
//go:embed functions/*/function.json
var functionsFS embed.FS

// hubName is the hub every function of the example talks to.
const hubName = "chat"

// The functions of the example: each name is a folder under functions/.
const (
	fnNegotiate     = "negotiate"
	fnMessages      = "messages"
	fnUserMessages  = "user-messages"
	fnGroupMessages = "group-messages"
	fnGroupAdd      = "group-add"
	fnGroupRemove   = "group-remove"
	// fnConnectionMessages sends to one connection; fnAskConnection asks
	// one connection's client for a result (client results: Functions has
	// no binding for them, so it uses the shared Client).
	fnConnectionMessages = "connection-messages"
	fnAskConnection      = "ask-connection"
)

// route is where a function is served: the Go form of its httpTrigger's
// methods and route (the Functions host puts every route below /api).
type route struct {
	function string
	method   string
	path     string
}

// routes lists the HTTP API. A test checks it against the httpTrigger
// bindings of the function.json files.
var routes = []route{
	{fnNegotiate, "POST", "/api/negotiate"},
	{fnMessages, "POST", "/api/messages"},
	{fnUserMessages, "POST", "/api/users/{userId}/messages"},
	{fnGroupMessages, "POST", "/api/groups/{group}/messages"},
	{fnGroupAdd, "PUT", "/api/groups/{group}/users/{userId}"},
	{fnGroupRemove, "DELETE", "/api/groups/{group}/users/{userId}"},
	{fnConnectionMessages, "POST", "/api/connections/{connectionId}/messages"},
	{fnAskConnection, "POST", "/api/connections/{connectionId}/ask"},
}

// bindings are the SignalR bindings of the example's functions.
type bindings struct {
	// Negotiate is the seed document's authenticated negotiate binding: the
	// user id comes from the header App Service authentication sets.
	Negotiate signalr.ConnectionInfoBinding
	// NegotiateFromQuery takes the user id from the userId query
	// parameter, for callers that do not have that header (such as the chat
	// page on a laptop, with no App Service in front).
	NegotiateFromQuery signalr.ConnectionInfoBinding
	// Messages, UserMessages, GroupMessages and ConnectionMessages send
	// newMessage to everyone, to one user, to one group and to one
	// connection.
	Messages, UserMessages, GroupMessages, ConnectionMessages signalr.OutputBinding
	// GroupAdd and GroupRemove change group membership.
	GroupAdd, GroupRemove signalr.OutputBinding
	// Hub are the functions SignalR Service triggers in serverless mode
	// (connection events and hub methods), by function name; see
	// hubFunctions.
	Hub map[string]hubBinding
}

// hubBinding is the SignalR part of a hub function's function.json: its
// signalRTrigger, and its signalR output binding if it sends anything.
type hubBinding struct {
	Trigger signalr.TriggerBinding
	Output  *signalr.OutputBinding
}

// hubOutput is the signalR output binding the hub's functions declare: the
// class-based hub has one Output, so they must all declare the same.
func (b bindings) hubOutput() (signalr.OutputBinding, error) {
	var out *signalr.OutputBinding
	var first string
	for _, fn := range hubFunctions {
		o := b.Hub[fn.function].Output
		if o == nil {
			continue
		}
		if out == nil {
			out, first = o, fn.function
			continue
		}
		if o.HubName != out.HubName || o.ConnectionStringSetting != out.ConnectionStringSetting {
			return signalr.OutputBinding{}, fmt.Errorf("%s and %s declare different signalR output bindings; the hub's functions share one hub and connection string setting", first, fn.function)
		}
	}
	if out == nil {
		return signalr.OutputBinding{}, fmt.Errorf("no hub function declares a signalR output binding")
	}
	return *out, nil
}

// declaredBindings is the Go declaration of the bindings, equal to what the
// function.json files say (a test checks that).
func declaredBindings() bindings {
	const setting = signalr.DefaultConnectionStringSetting
	out := func(name string) signalr.OutputBinding {
		return signalr.OutputBinding{Name: name, HubName: hubName, ConnectionStringSetting: setting}
	}
	trigger := func(category, event string, params ...string) signalr.TriggerBinding {
		return signalr.TriggerBinding{Name: "invocation", HubName: hubName, Category: category, Event: event,
			ParameterNames: params, ConnectionStringSetting: setting}
	}
	sends := func(t signalr.TriggerBinding, output string) hubBinding {
		o := out(output)
		return hubBinding{Trigger: t, Output: &o}
	}
	const messages, connections = signalr.CategoryMessages, signalr.CategoryConnections
	return bindings{
		Negotiate: signalr.ConnectionInfoBinding{
			Name:                    "connectionInfo",
			HubName:                 hubName,
			UserID:                  "{headers.x-ms-client-principal-id}",
			ConnectionStringSetting: setting,
		},
		NegotiateFromQuery: signalr.ConnectionInfoBinding{
			Name:                    "connectionInfoFromQuery",
			HubName:                 hubName,
			UserID:                  "{query.userId}",
			ConnectionStringSetting: setting,
		},
		Messages:           out("signalRMessages"),
		UserMessages:       out("signalRMessages"),
		GroupMessages:      out("signalRMessages"),
		ConnectionMessages: out("signalRMessages"),
		GroupAdd:           out("signalRGroupActions"),
		GroupRemove:        out("signalRGroupActions"),
		Hub: map[string]hubBinding{
			fnOnConnected:    sends(trigger(connections, signalr.EventConnected), "signalRMessages"),
			fnOnDisconnected: sends(trigger(connections, signalr.EventDisconnected), "signalRMessages"),
			fnBroadcast:      sends(trigger(messages, "broadcast", "text"), "signalRMessages"),
			fnSendToUser:     sends(trigger(messages, "sendToUser", "user", "text"), "signalRMessages"),
			fnSendToGroup:    sends(trigger(messages, "sendToGroup", "group", "text"), "signalRMessages"),
			fnJoinGroup:      sends(trigger(messages, "joinGroup", "group"), "signalRGroupActions"),
			fnLeaveGroup:     sends(trigger(messages, "leaveGroup", "group"), "signalRGroupActions"),
			fnEcho:           {Trigger: trigger(messages, "echo", "x")},
			fnWhoAmI:         {Trigger: trigger(messages, "whoAmI")},
		},
	}
}

// loadBindings reads the bindings from the function.json files in fsys
// (functions/<name>/function.json).
func loadBindings(fsys fs.FS) (bindings, error) {
	var b bindings
	f, err := loadFunction(fsys, fnNegotiate)
	if err != nil {
		return b, err
	}
	if b.Negotiate, err = f.ConnectionInfoBinding("connectionInfo"); err != nil {
		return b, fmt.Errorf("%s: %w", fnNegotiate, err)
	}
	if b.NegotiateFromQuery, err = f.ConnectionInfoBinding("connectionInfoFromQuery"); err != nil {
		return b, fmt.Errorf("%s: %w", fnNegotiate, err)
	}
	outputs := []struct {
		function string
		binding  *signalr.OutputBinding
	}{
		{fnMessages, &b.Messages},
		{fnUserMessages, &b.UserMessages},
		{fnGroupMessages, &b.GroupMessages},
		{fnConnectionMessages, &b.ConnectionMessages},
		{fnGroupAdd, &b.GroupAdd},
		{fnGroupRemove, &b.GroupRemove},
	}
	for _, o := range outputs {
		f, err := loadFunction(fsys, o.function)
		if err != nil {
			return b, err
		}
		if *o.binding, err = f.OutputBinding(""); err != nil {
			return b, fmt.Errorf("%s: %w", o.function, err)
		}
	}
	b.Hub = make(map[string]hubBinding, len(hubFunctions))
	for _, fn := range hubFunctions {
		f, err := loadFunction(fsys, fn.function)
		if err != nil {
			return b, err
		}
		var hb hubBinding
		if hb.Trigger, err = f.TriggerBinding(""); err != nil {
			return b, fmt.Errorf("%s: %w", fn.function, err)
		}
		if fn.output || len(f.Outputs) > 0 {
			o, err := f.OutputBinding("")
			if err != nil {
				return b, fmt.Errorf("%s: %w", fn.function, err)
			}
			hb.Output = &o
		}
		b.Hub[fn.function] = hb
	}
	return b, nil
}

// loadFunction parses functions/<function>/function.json from fsys.
func loadFunction(fsys fs.FS, function string) (*signalr.FunctionJSON, error) {
	name := path.Join("functions", function, "function.json")
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	f, err := signalr.ParseFunctionJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}
