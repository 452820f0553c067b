package signalr_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/golang-jwt/jwt/v5"
)

// Room is a class-based hub: each exported method is a hub method, and
// OnConnected handles the connection event.
type Room struct{}

// joined is the client method the hub calls, declared once with its
// argument type.
var joined = signalr.ClientMethod[string]("joined")

// OnConnected runs for each new connection.
func (Room) OnConnected(ctx context.Context) error {
	call := signalr.HubCallFromContext(ctx)
	fmt.Println("connected:", call.ConnectionID)
	return nil
}

// Join adds the caller to room, tells the room, and returns a greeting.
func (Room) Join(ctx context.Context, room string) (string, error) {
	call := signalr.HubCallFromContext(ctx)
	if err := call.Groups().AddConnection(call.ConnectionID, room); err != nil {
		return "", err
	}
	if err := joined.Send(call.Clients().OthersInGroup(room), call.UserID); err != nil {
		return "", err
	}
	return "welcome to " + room, nil
}

// A class-based hub: NewHub reflects the Room's methods once, HandleHub
// registers them on the upstream endpoint, and a client's invoke("join",
// "lobby") decodes "lobby" into Join's room parameter.
func ExampleNewHub() {
	cs, err := signalr.ParseConnectionString(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, fake := signalrtest.NewOutput("Room") // in production: OutputBinding.Bind
	hub, err := signalr.NewHub(Room{}, &signalr.HubOptions{Output: out})
	if err != nil {
		fmt.Println(err)
		return
	}
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: cs}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := up.HandleHub(hub); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("hub", hub.Name(), "methods", hub.Methods())

	// What the service sends when connection "c1" of user "ada" connects,
	// then invokes join.
	client := signalrtest.UpstreamRequests{Hub: "Room", ConnectionID: "c1", UserID: "ada"}
	up.ServeHTTP(httptest.NewRecorder(), client.Connected())
	rec := httptest.NewRecorder()
	up.ServeHTTP(rec, client.Invoke("1", "join", "lobby"))
	c, _ := signalrtest.ReadCompletion(rec.Body.Bytes())
	var greeting string
	_ = c.Result.Decode(&greeting)
	fmt.Println("result:", greeting)
	for _, call := range fake.Calls() {
		fmt.Println("sent:", call)
	}
	// Output:
	// hub Room methods [Join]
	// connected: c1
	// result: welcome to lobby
	// sent: Room: add connection "c1" group "lobby"
	// sent: Room: message "joined" to group "lobby" with 1 argument(s)
}

// A filter wraps every hub method and connection event, as http.Handler
// middleware does: here it times each call and turns an error into a log
// line.
func ExampleHubFilter() {
	timing := func(next signalr.TriggerHandler) signalr.TriggerHandler {
		return signalr.TriggerHandlerFunc(func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
			start := time.Now()
			result, err := next.ServeTrigger(ctx, inv)
			_ = time.Since(start) // record it in a metric
			if err != nil {
				fmt.Printf("%s/%s failed: %v\n", inv.Category, inv.Event, err)
			}
			return result, err
		})
	}
	hub, err := signalr.NewHub(Room{}, &signalr.HubOptions{Filters: []signalr.HubFilter{timing}})
	if err != nil {
		fmt.Println(err)
		return
	}
	up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: mustParse(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey))}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := up.HandleHub(hub); err != nil {
		fmt.Println(err)
		return
	}
	up.ServeHTTP(httptest.NewRecorder(), signalrtest.UpstreamRequests{Hub: "Room"}.Invoke("1", "join"))
	// Output:
	// messages/join failed: join: invalid arguments: it takes 1 argument(s) (a string), the client sent 0
}

func mustParse(s string) *signalr.ConnectionString {
	cs, err := signalr.ParseConnectionString(s)
	if err != nil {
		panic(err)
	}
	return cs
}

// A validated negotiate: the caller's bearer token is checked before a
// client token is minted (a bad or missing one is a 401), the client token's
// user is the token's subject, and the connection closes when the caller's
// token expires.
func ExampleNewNegotiateHandler() {
	key := []byte("the identity provider's signing key")
	in, err := signalr.ConnectionInfoBinding{HubName: "Room"}.Bind(&signalr.BindOptions{
		ConnectionString: mustParse(emulator.ConnectionString("http://localhost", 8888, emulator.DefaultAccessKey)),
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := signalr.NewNegotiateHandler(in, &signalr.NegotiateOptions{
		Validate: signalr.ValidateJWT(func(*jwt.Token) (any, error) { return key, nil }, &signalr.JWTValidationOptions{
			ParserOptions: []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})},
		}),
		CloseOnAuthenticationExpiration: true,
		DiagnosticClient:                func(r *http.Request) bool { return r.URL.Query().Get("diag") == "yes" },
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, auth := range []string{"", "Bearer not-a-token"} {
		r := httptest.NewRequest("POST", "/api/negotiate", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ada", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(key)
	r := httptest.NewRequest("POST", "/api/negotiate?diag=yes", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code)
	// Output:
	// 401 Bearer
	// 401 Bearer
	// 200
}

// Typed client methods on the output side: declared once, a target or
// argument type that does not match is a compile error, and the sends go
// through a Collector like any other output.
func ExampleClientMethod() {
	type alert struct {
		Level string `json:"level"`
		Text  string `json:"text"`
	}
	notify := signalr.ClientMethod[alert]("notify")
	progress := signalr.ClientMethod2[string, int]("progress")

	out, fake := signalrtest.NewOutput("ops") // in production: OutputBinding.Bind
	col := out.NewCollector()
	clients := signalr.NewHubClients(col)
	if err := notify.Send(clients.Group("oncall"), alert{Level: "warn", Text: "disk 90%"}); err != nil {
		fmt.Println(err)
	}
	if err := progress.Send(clients.User("ada"), "backup", 40); err != nil {
		fmt.Println(err)
	}
	if err := col.Flush(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, m := range fake.Messages() {
		fmt.Println(m.Target, m.GroupName+m.UserID, len(m.Arguments))
	}
	// Unordered output:
	// notify oncall 1
	// progress ada 2
}
