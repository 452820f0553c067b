package signalr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
)

// A plain http.Handler adds a user to a group and tells the group, through
// the Collector WithOutput put in its request's context; WithOutput flushes
// both after the handler returns, the add first. The fake records them.
func ExampleWithOutput() {
	out, fake := signalrtest.NewOutput("chat")
	join := signalr.WithOutput(out, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := signalr.CollectorFromContext(r.Context())
		user, room := r.URL.Query().Get("user"), r.URL.Query().Get("room")
		if err := c.AddGroupAction(signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: user, GroupName: room}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := c.AddMessage(signalr.Message{Target: "joined", GroupName: room, Arguments: []any{user}}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))

	rec := httptest.NewRecorder()
	join.ServeHTTP(rec, httptest.NewRequest("POST", "/join?user=ada&room=lobby", nil))
	fmt.Println(rec.Code)
	for _, call := range fake.Calls() {
		fmt.Println(call)
	}
	// Output:
	// 200
	// chat: add user "ada" group "lobby"
	// chat: message "joined" to group "lobby" with 1 argument(s)
}

// The JSON a JavaScript function assigns to its output binding works
// unchanged.
func ExampleCollector_AddJSON() {
	out, fake := signalrtest.NewOutput("chat")
	c := out.NewCollector()
	err := c.AddJSON([]byte(`[
		{"userId": "ada", "groupName": "lobby", "action": "add"},
		{"target": "newMessage", "arguments": ["hello"], "groupName": "lobby"}
	]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Flush(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fake.MessagesToGroup("lobby")[0].Arguments...)
	fmt.Println(fake.GroupActions()[0].Action)
	// Output:
	// hello
	// add
}

// Conflicting targets are an error before any I/O, not a silent choice.
func ExampleMessage_Validate() {
	m := signalr.Message{Target: "newMessage", UserID: "ada", GroupName: "lobby"}
	fmt.Println(m.Validate())
	// Output:
	// signalr: invalid message: both userId and groupName are set; a message goes to everyone, one user, one group or one connection, so keep one of them and send one message per audience
}

// A Client talks to the REST API; here a test server stands in for the
// service and prints what it receives.
func ExampleClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.RequestURI, strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	cs, err := signalr.ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;")
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := signalr.NewClient(cs, nil)
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()

	ctx := context.Background()
	if err := client.SendMessage(ctx, "Chat", signalr.Message{Target: "newMessage", Arguments: []any{"hi"}, UserID: "ada/lovelace"}, nil); err != nil {
		fmt.Println(err)
	}
	if err := client.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "ada", GroupName: "room 1"}, nil); err != nil {
		fmt.Println(err)
	}
	if err := client.CloseConnection(ctx, "chat", "conn#1", &signalr.CloseConnectionOptions{Reason: "bye"}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// POST /api/hubs/chat/users/ada%2Flovelace/:send?api-version=2022-06-01 true
	// PUT /api/hubs/chat/users/ada/groups/room%201?api-version=2022-06-01 true
	// DELETE /api/hubs/chat/connections/conn%231?api-version=2022-06-01&reason=bye true
}

// Bind output bindings declared as in function.json to one shared Client,
// so they share its connection pool.
func ExampleOutputBinding_Bind() {
	client, err := signalr.NewClientFromConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	bind := &signalr.BindOptions{Client: client}
	for _, b := range []signalr.OutputBinding{
		{Name: "signalRMessages", HubName: "chat"},
		{Name: "signalRGroupActions", HubName: "lobby"},
	} {
		out, err := b.Bind(bind, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(out.Hub())
	}
	// Output:
	// chat
	// lobby
}

// Bad options fail when the Client is made, not on its first call.
func ExampleNewClient() {
	cs, err := signalr.ParseConnectionString("Endpoint=https://example.service.signalr.net;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = signalr.NewClient(cs, &signalr.ClientOptions{APIVersion: "2099-01-01"})
	fmt.Println(errors.Is(err, signalr.ErrInvalidArgument))
	_, err = signalr.NewClient(&signalr.ConnectionString{}, nil)
	fmt.Println(errors.Is(err, signalr.ErrInvalidConnectionString))
	// Output:
	// true
	// true
}
