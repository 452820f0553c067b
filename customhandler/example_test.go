package customhandler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/customhandler"
)

// An app serves the same handlers as a custom handler: it registers each
// function of its function app folder, with the Inputs and Outputs the
// Server gives it. Under the Functions host, it would serve on
// 127.0.0.1:<customhandler.Port(os.Getenv)>; here a test server stands in
// for that listener, and the POSTs for the host.
func Example() {
	s, err := customhandler.New(os.DirFS("testdata/app"), &customhandler.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	in, _ := s.ConnectionInfo("negotiate", "connectionInfo")
	_ = s.HandleHTTP("negotiate", signalr.NegotiateHandler(in))
	_ = s.HandleTrigger("echo", signalr.TriggerHandlerFunc(func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
		x, _ := inv.Argument("x")
		return x, nil
	}))

	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, call := range []struct{ function, body string }{
		{"negotiate", `{"Data":{"req":{"Url":"http://localhost:7071/api/negotiate","Method":"POST"},
			"connectionInfo":{"url":"https://chat.service.signalr.net/client/?hub=chat","accessToken":"a.b.c"}}}`},
		{"echo", `{"Data":{"invocation":{"Arguments":["hi"],"Category":"messages","Event":"echo","Hub":"chat","ConnectionId":"c1"}}}`},
	} {
		resp, err := http.Post(srv.URL+"/"+call.function, "application/json", strings.NewReader(call.body))
		if err != nil {
			fmt.Println(err)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(answer))
	}
	// Output:
	// 200 {"Outputs":{"res":{"statusCode":200,"headers":{"Cache-Control":"no-store","Content-Type":"application/json; charset=utf-8"},"body":"{\"url\":\"https://chat.service.signalr.net/client/?hub=chat\",\"accessToken\":\"a.b.c\"}\n"}}}
	// 200 {"Outputs":{},"ReturnValue":"hi"}
}
