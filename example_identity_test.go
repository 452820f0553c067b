package signalr_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// An app without an access key: an identity connection string and a
// credential (here the test credential the emulator's identity mode
// trusts; in production azidentity.NewCredential, a managed identity).
// REST calls carry the credential's token; client tokens are signed with
// the key fetched from the service, named in their kid header.
func ExampleClient_ConnectionInfo_identity() {
	emu := emulator.NewServer(&emulator.Options{Identity: &emulator.IdentityOptions{}})
	defer emu.Close()
	cs, err := signalr.ParseConnectionString(fmt.Sprintf("Endpoint=http://127.0.0.1;Port=%d;AuthType=azure.msi;Version=1.0;", emu.Port()))
	if err != nil {
		panic(err)
	}
	cred, err := signalrtest.NewCredential(emu.Emulator, nil)
	if err != nil {
		panic(err)
	}
	client, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()

	ctx := context.Background()
	info, err := client.ConnectionInfo(ctx, "chat", &signalr.ClientTokenOptions{UserID: "alice"})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasSuffix(info.URL, "/client/?hub=chat"))
	err = client.SendMessage(ctx, "chat", signalr.Message{Target: "newMessage", Arguments: []any{"hi"}}, nil)
	fmt.Println("send:", err)
	fmt.Println("auth:", cs.AuthType())
	fmt.Println("credential calls:", cred.Calls())
	// Output:
	// true
	// send: <nil>
	// auth: azure.msi
	// credential calls: 1
}
