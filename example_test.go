package signalr_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/funcsignalr/signalr"
)

const emulatorConnectionString = "Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"

func ExampleParseConnectionString() {
	cs, err := signalr.ParseConnectionString(emulatorConnectionString)
	if err != nil {
		panic(err)
	}
	fmt.Println(cs.Endpoint())
	fmt.Println(cs) // the access key is never printed

	_, err = signalr.ParseConnectionString("Endpoint=https://x.service.signalr.net;Port=99999;AccessKey=secret")
	fmt.Println(err)
	// Output:
	// http://localhost:8888
	// Endpoint=http://localhost:8888;AccessKey=***;Version=1.0;
	// signalr: invalid connection string: Port="99999" is not a whole number from 1 to 65535
}

func ExampleClient_ConnectionInfo() {
	client, err := signalr.NewClientFromConnectionString(emulatorConnectionString, nil)
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	info, err := client.ConnectionInfo(context.Background(), "Chat", &signalr.ClientTokenOptions{
		UserID: "alice",
		Now:    func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(info.URL)
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(info.AccessToken, ".")[1])
	fmt.Println(string(payload))
	// Output:
	// http://localhost:8888/client/?hub=chat
	// {"asrs.s.uid":"alice","nameid":"alice","nbf":1767323045,"exp":1767326645,"iat":1767323045,"aud":"http://localhost:8888/client/?hub=chat"}
}

// A negotiate endpoint declared in Go, with the user id taken from the header
// App Service authentication sets.
func ExampleNegotiateHandler() {
	negotiate, err := signalr.ConnectionInfoBinding{
		HubName: "chat",
		UserID:  "{headers.x-ms-client-principal-id}",
	}.Bind(&signalr.BindOptions{
		// Usually left nil: the AzureSignalRConnectionString setting is then
		// read from the environment or local.settings.json.
		Settings: signalr.SettingsFunc(func(name string) (string, bool) { return emulatorConnectionString, true }),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/negotiate", signalr.CORS(signalr.NegotiateHandler(negotiate), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/negotiate?negotiateVersion=1", nil)
	req.Header.Set("x-ms-client-principal-id", "alice")
	resp, _ := http.DefaultClient.Do(req)
	var info signalr.ConnectionInfo
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, info.URL)

	resp, _ = http.Post(srv.URL+"/api/negotiate", "", nil) // no user header
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	// Output:
	// 200 http://localhost:8888/client/?hub=chat
	// 401 {"error":"signalr: binding expression refers to a missing value: userId needs the header \"X-Ms-Client-Principal-Id\", which the request does not have"}
}

// The bindings of a function.json written for Azure Functions load unchanged.
func ExampleParseFunctionJSON() {
	f, err := signalr.ParseFunctionJSON([]byte(`{
	  "bindings": [
	    {"type": "httpTrigger", "direction": "in", "name": "req", "methods": ["post"]},
	    {"type": "http", "direction": "out", "name": "res"},
	    {"type": "signalRConnectionInfo", "name": "connectionInfo", "hubName": "chat",
	     "userId": "{headers.x-ms-client-principal-id}", "direction": "in"}
	  ]
	}`))
	if err != nil {
		panic(err)
	}
	b, err := f.ConnectionInfoBinding("connectionInfo")
	if err != nil {
		panic(err)
	}
	fmt.Printf("hub %s, user %s, %d other bindings\n", b.HubName, b.UserID, len(f.Others))
	// Output: hub chat, user {headers.x-ms-client-principal-id}, 2 other bindings
}
