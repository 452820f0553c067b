package azidentity_test

import (
	"fmt"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/azidentity"
)

// A user-assigned managed identity from the connection string; nothing is
// fetched until the first call needs a token.
func ExampleNewCredential() {
	cs, err := signalr.ParseConnectionString("Endpoint=https://example.service.signalr.net;AuthType=azure.msi;ClientId=00000000-0000-0000-0000-000000000001;Version=1.0;")
	if err != nil {
		panic(err)
	}
	cred, err := azidentity.NewCredential(cs)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%T\n", cred)
	client, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: cred})
	if err != nil {
		panic(err)
	}
	fmt.Println(client)
	// Bindings take the constructor, and call it for identity connection
	// strings only.
	_ = &signalr.BindOptions{NewCredential: azidentity.NewCredential}
	// Output:
	// *azidentity.ManagedIdentityCredential
	// signalr.Client{endpoint: https://example.service.signalr.net, api: 2022-06-01, auth: microsoft entra id}
}
