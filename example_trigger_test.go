package signalr_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// A hub method in serverless mode: the client calls
// connection.invoke("joinRoom", "lobby"); the handler adds the calling
// connection to the group and tells the group through the output binding in
// the same request, and its result resolves the client's invoke.
func ExampleUpstream() {
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: cs}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, fake := signalrtest.NewOutput("chat") // in production: OutputBinding.Bind
	err = up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: signalr.CategoryMessages, Event: "joinRoom", ParameterNames: []string{"room"}},
		func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
			var room string
			if arg, ok := inv.Argument("room"); !ok || arg.Decode(&room) != nil || room == "" {
				return nil, fmt.Errorf("joinRoom takes a room name")
			}
			c := out.NewCollector()
			if err := c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: inv.ConnectionID, GroupName: room}); err != nil {
				return nil, err
			}
			if err := c.AddMessage(signalr.Message{Target: "joined", GroupName: room, Arguments: []any{inv.UserID}}); err != nil {
				return nil, err
			}
			if err := c.Flush(ctx); err != nil {
				return nil, err
			}
			return "welcome to " + room, nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+signalr.DefaultUpstreamPath, up)

	// What the service sends when connection "c1" of user "ada" invokes it.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, signalrtest.UpstreamRequests{Hub: "chat", ConnectionID: "c1", UserID: "ada"}.Invoke("1", "joinRoom", "lobby"))
	completion, err := signalrtest.ReadCompletion(rec.Body.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	var result string
	if err := completion.Result.Decode(&result); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Code, completion.InvocationID, result)
	for _, call := range fake.Calls() {
		fmt.Println(call)
	}
	// Output:
	// 200 1 welcome to lobby
	// chat: add connection "c1" group "lobby"
	// chat: message "joined" to group "lobby" with 1 argument(s)
}

// A connected handler that returns an error rejects the connection: the
// upstream answers 403 and the service closes the client.
func ExampleUpstream_connected() {
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	if err != nil {
		panic(err)
	}
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: cs}})
	if err != nil {
		panic(err)
	}
	err = up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: signalr.CategoryConnections, Event: signalr.EventConnected},
		func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
			if inv.UserID == "" {
				return nil, fmt.Errorf("anonymous connections are not allowed")
			}
			return nil, nil
		})
	if err != nil {
		panic(err)
	}
	for _, user := range []string{"ada", ""} {
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, signalrtest.UpstreamRequests{UserID: user}.Connected())
		if rec.Body.Len() == 0 {
			fmt.Println(rec.Code)
		} else {
			fmt.Print(rec.Code, " ", rec.Body.String())
		}
	}
	// Output:
	// 200
	// 403 {"error":"connection rejected: anonymous connections are not allowed"}
}
