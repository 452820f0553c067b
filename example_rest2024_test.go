package signalr_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
)

// A filter for Execute, built from typed parts: values are quoted and any '
// in them doubled.
func ExampleAnd() {
	f := signalr.And(
		signalr.StartsWith(signalr.FilterUserID, "listener-"),
		signalr.Or(signalr.InGroup("room 1"), signalr.Eq(signalr.FilterUserID, "o'neil")),
		signalr.Not(signalr.In(signalr.FilterConnectionID, "c1", "c2")),
	)
	fmt.Println(f)
	// Output:
	// startswith(userId, 'listener-') and ('room 1' in groups or userId eq 'o''neil') and not (connectionId in ('c1', 'c2'))
}

// Execute joins the selected connections to a group and greets them, in one
// call; GroupMembers then lists the group page by page.
func ExampleClient_Execute() {
	emu := emulator.NewServer(nil)
	defer emu.Close()
	client, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), nil)
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	ctx := context.Background()
	err = client.Execute(ctx, "chat", signalr.StartsWith(signalr.FilterUserID, "listener-"), []signalr.Command{
		signalr.JoinGroupCommand{Group: "listeners"},
		signalr.SendMessageCommand{Target: "welcome", Arguments: []any{"hi"}},
	}, nil)
	fmt.Println("execute:", err)
	members := 0
	for m, err := range client.GroupMembers(ctx, "chat", "listeners", &signalr.GroupMembersOptions{MaxPageSize: 10}) {
		if err != nil {
			fmt.Println("listing:", err)
			return
		}
		fmt.Println(m.ConnectionID, m.UserID)
		members++
	}
	fmt.Println(members, "members") // nobody is connected in this example
	// Output:
	// execute: <nil>
	// 0 members
}

// ClientTokensFromService lets the service mint the client's token, so the
// app never signs one.
func ExampleClientOptions_clientTokensFromService() {
	emu := emulator.NewServer(nil)
	defer emu.Close()
	client, err := signalr.NewClientFromConnectionString(emu.ConnectionString(), &signalr.ClientOptions{ClientTokensFromService: true})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	info, err := client.ConnectionInfo(context.Background(), "Chat", &signalr.ClientTokenOptions{UserID: "alice"})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(info.URL, "http://127.0.0.1:"), strings.HasSuffix(info.URL, "/client/?hub=chat"), info.AccessToken != "")
	// Output:
	// true true true
}
