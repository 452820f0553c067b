package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/emulator"
)

// token signs an HS256 token for aud with the emulator's access key, as the
// library and the Azure SDKs do.
func token(key, aud string, claims jwt.MapClaims) string {
	claims["aud"] = aud
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	signed, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	return signed
}

// A client connects over WebSocket and receives a message broadcast through
// the REST API.
func Example() {
	srv := emulator.NewServer(nil)
	defer srv.Close()
	ctx := context.Background()
	key := srv.Emulator.AccessKey()

	// Connect as user alice, skipping negotiate, and do the handshake.
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/?hub=chat"
	clientToken := token(key, srv.URL+"/client/?hub=chat", jwt.MapClaims{"asrs.s.uid": "alice"})
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + clientToken}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.CloseNow()
	_ = ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e"))
	_, handshake, _ := ws.Read(ctx)
	fmt.Printf("handshake response: %q\n", handshake)
	fmt.Println("alice connections:", len(srv.Emulator.Snapshot("chat").Users["alice"]))

	// Broadcast through the REST API, as the library's output binding does.
	sendURL := srv.URL + "/api/hubs/chat/:send"
	req, _ := http.NewRequest(http.MethodPost, sendURL+"?api-version=2022-06-01",
		strings.NewReader(`{"target":"newMessage","arguments":["hello"]}`))
	req.Header.Set("Authorization", "Bearer "+token(key, sendURL, jwt.MapClaims{}))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	fmt.Println("REST send:", resp.Status)

	_, msg, _ := ws.Read(ctx)
	fmt.Printf("client got: %q\n", msg)
	// Output:
	// handshake response: "{}\x1e"
	// alice connections: 1
	// REST send: 202 Accepted
	// client got: "{\"type\":1,\"target\":\"newMessage\",\"arguments\":[\"hello\"]}\x1e"
}

// The connection string of a running server points the library at it.
func ExampleServer_ConnectionString() {
	srv := emulator.NewServer(&emulator.Options{AccessKey: "my-local-key"})
	defer srv.Close()
	cs := srv.ConnectionString()
	fmt.Println(strings.HasPrefix(cs, "Endpoint=http://127.0.0.1;Port="), strings.HasSuffix(cs, ";AccessKey=my-local-key;Version=1.0;"))
	// Output: true true
}

// A program makes the Emulator with New, which names a bad option in its
// error, and serves it as any http.Handler.
func ExampleNew() {
	_, err := emulator.New(&emulator.Options{
		Upstream: []emulator.UpstreamTemplate{{URLTemplate: "localhost:7071/runtime/webhooks/signalr"}},
	})
	fmt.Println(errors.Is(err, emulator.ErrInvalidOptions))
	fmt.Println(err)

	emu, err := emulator.New(&emulator.Options{
		Upstream: []emulator.UpstreamTemplate{{URLTemplate: "http://localhost:7071/runtime/webhooks/signalr"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	// emu is the http.Handler to give an http.Server, or emulator.Serve.
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println(srv.Handler == http.Handler(emu), emu.AccessKey() == emulator.DefaultAccessKey)
	// Output:
	// true
	// emulator: invalid options: Options.Upstream[0]: UrlTemplate "localhost:7071/runtime/webhooks/signalr" is not an absolute http:// or https:// URL with {hub}, {category} and {event} only in its path or query
	// true true
}
