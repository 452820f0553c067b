package signalr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type badFirst struct{}

func (badFirst) Hello(name string) error { return nil }

type badResult struct{}

func (badResult) Hello(context.Context) string { return "" }

type tooMany struct{}

func (tooMany) Hello(context.Context) (int, int, error) { return 0, 0, nil }

type chanParam struct{}

func (chanParam) Hello(context.Context, chan int) error { return nil }

type badConnected struct{}

func (badConnected) OnConnected(context.Context, string) error { return nil }

type caseClash struct{}

func (caseClash) Hello(context.Context) error { return nil }
func (caseClash) HELLO(context.Context) error { return nil }

// connectedToo has a hub method named like the connection event; they do
// not clash, as the event is in another category.
type connectedToo struct{}

func (connectedToo) OnConnected(context.Context) error { return nil }
func (connectedToo) Connected(context.Context) error   { return nil }

type withHelper struct{}

func (withHelper) Hello(context.Context) error { return nil }
func (withHelper) String() string              { return "helper" }

type noMethods struct{}

type variadic struct{}

func (variadic) Hello(context.Context, ...string) error { return nil }

func TestNewHubRejectsWrongShapes(t *testing.T) {
	cases := []struct {
		name string
		make func() (*signalr.Hub, error)
		want string
	}{
		{"first parameter", func() (*signalr.Hub, error) { return signalr.NewHub(badFirst{}, nil) }, "method Hello: the first parameter must be context.Context"},
		{"no error", func() (*signalr.Hub, error) { return signalr.NewHub(badResult{}, nil) }, "method Hello: the last result must be error"},
		{"three results", func() (*signalr.Hub, error) { return signalr.NewHub(tooMany{}, nil) }, "method Hello: it returns 3 values"},
		{"channel", func() (*signalr.Hub, error) { return signalr.NewHub(chanParam{}, nil) }, "method Hello: parameter 1 (chan int) cannot be decoded"},
		{"connected with args", func() (*signalr.Hub, error) { return signalr.NewHub(badConnected{}, nil) }, "method OnConnected: a connection event takes only the context"},
		{"case clash", func() (*signalr.Hub, error) { return signalr.NewHub(caseClash{}, nil) }, "differ only in case"},
		{"helper", func() (*signalr.Hub, error) { return signalr.NewHub(withHelper{}, nil) }, "method String: the first parameter must be context.Context"},
		{"no methods", func() (*signalr.Hub, error) { return signalr.NewHub(noMethods{}, nil) }, "has no exported methods"},
		{"pointer receivers", func() (*signalr.Hub, error) { return signalr.NewHub(typesHub{}, nil) }, "pass a pointer"},
		{"variadic", func() (*signalr.Hub, error) { return signalr.NewHub(variadic{}, nil) }, "variadic"},
		{"nil pointer", func() (*signalr.Hub, error) { return signalr.NewHub((*typesHub)(nil), nil) }, "value is nil"},
		{"nil interface", func() (*signalr.Hub, error) { return signalr.NewHub[greeter](nil, nil) }, "value is nil"},
		{"bad name", func() (*signalr.Hub, error) {
			return signalr.NewHub(withHelper{}, &signalr.HubOptions{Name: "no spaces", Ignore: []string{"String"}})
		}, "HubOptions.Name"},
		{"unknown ignore", func() (*signalr.Hub, error) {
			return signalr.NewHub(withHelper{}, &signalr.HubOptions{Ignore: []string{"String", "Missing"}})
		}, `Ignore names "Missing"`},
		{"output for another hub", func() (*signalr.Hub, error) {
			out, _ := signalrtest.NewOutput("other")
			return signalr.NewHub(withHelper{}, &signalr.HubOptions{Ignore: []string{"String"}, Output: out})
		}, `Output sends to hub "other", but the hub is "withHelper"`},
		{"nil filter", func() (*signalr.Hub, error) {
			return signalr.NewHub(withHelper{}, &signalr.HubOptions{Ignore: []string{"String"}, Filters: []signalr.HubFilter{nil}})
		}, "Filters[0] is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := tc.make()
			require.Error(t, err)
			assert.Nil(t, h)
			assert.ErrorIs(t, err, signalr.ErrInvalidHub)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	h, err := signalr.NewHub(withHelper{}, &signalr.HubOptions{Ignore: []string{"String"}})
	require.NoError(t, err)
	assert.Equal(t, "withHelper", h.Name())
	assert.Equal(t, []string{"Hello"}, h.Methods())
	h, err = signalr.NewHub(connectedToo{}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"Connected"}, h.Methods())
	assert.Len(t, h.Bindings(), 2)
}

// greeter is an interface-typed hub: only its methods count, not the other
// methods of the value behind it.
type greeter interface {
	Greet(ctx context.Context, name string) (string, error)
}

type greeterImpl struct{}

func (greeterImpl) Greet(_ context.Context, name string) (string, error) { return "hi " + name, nil }
func (greeterImpl) Helper() string                                       { return "not a hub method" }

func TestNewHubFromInterface(t *testing.T) {
	h, err := signalr.NewHub[greeter](greeterImpl{}, nil)
	require.NoError(t, err)
	assert.Equal(t, "greeter", h.Name())
	assert.Equal(t, []string{"Greet"}, h.Methods())
	up := newUpstream(t)
	require.NoError(t, up.HandleHub(h))
	c := complete(t, up, signalrtest.UpstreamRequests{Hub: "greeter"}.Invoke("1", "greet", "ada"))
	assert.Equal(t, `"hi ada"`, resultJSON(t, c))
	// Registering again is refused, and registers nothing twice.
	err = up.HandleHub(h)
	assert.ErrorIs(t, err, signalr.ErrInvalidHub)
	assert.Contains(t, err.Error(), "registered already")
	assert.Equal(t, []signalr.TriggerBinding{{Name: "Greet", HubName: "greeter", Category: "messages", Event: "Greet"}}, h.Bindings())
}

func TestHubFiltersOrderAndShortCircuit(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	log := func(s string) {
		mu.Lock()
		trace = append(trace, s)
		mu.Unlock()
	}
	named := func(name string) signalr.HubFilter {
		return func(next signalr.TriggerHandler) signalr.TriggerHandler {
			return signalr.TriggerHandlerFunc(func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
				require.NotNil(t, signalr.HubCallFromContext(ctx))
				log(name + " before " + inv.Event)
				res, err := next.ServeTrigger(ctx, inv)
				log(fmt.Sprintf("%s after %s: %v %v", name, inv.Event, res, err))
				return res, err
			})
		}
	}
	auth := func(next signalr.TriggerHandler) signalr.TriggerHandler {
		return signalr.TriggerHandlerFunc(func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
			if inv.Claims["role"] != "admin" && inv.Event != "connected" {
				log("auth refused " + inv.Event)
				return nil, errors.New("forbidden: admins only")
			}
			return next.ServeTrigger(ctx, inv)
		})
	}
	_, up := newTypesHub(t, &signalr.HubOptions{Filters: []signalr.HubFilter{named("outer"), named("inner"), auth}})
	admin := signalrtest.UpstreamRequests{Claims: map[string]string{"role": "admin"}}
	c := complete(t, up, admin.Invoke("1", "add", 1, 2))
	assert.Equal(t, "3", resultJSON(t, c))
	assert.Equal(t, []string{"outer before add", "inner before add", "inner after add: 3 <nil>", "outer after add: 3 <nil>"}, trace)

	trace = nil
	c = complete(t, up, signalrtest.UpstreamRequests{}.Invoke("2", "add", 1, 2))
	assert.Equal(t, "forbidden: admins only", c.Error)
	assert.Equal(t, []string{"outer before add", "inner before add", "auth refused add", "inner after add: <nil> forbidden: admins only", "outer after add: <nil> forbidden: admins only"}, trace)

	// Filters see argument errors and recovered panics as errors.
	trace = nil
	c = complete(t, up, admin.Invoke("3", "add", 1))
	assert.Contains(t, c.Error, "invalid arguments")
	assert.Contains(t, trace[len(trace)-1], "invalid arguments")
	trace = nil
	c = complete(t, up, admin.Invoke("4", "panic"))
	assert.Equal(t, "panic failed: the hub method panicked", c.Error)
	assert.Equal(t, "outer after panic: <nil> panic failed: the hub method panicked", trace[len(trace)-1])

	// Connection events go through the filters too.
	trace = nil
	rec := serve(up, signalrtest.UpstreamRequests{}.Connected())
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, []string{"outer before connected", "inner before connected", "inner after connected: <nil> <nil>", "outer after connected: <nil> <nil>"}, trace)
}

func TestHubFilterPanicRecovered(t *testing.T) {
	boom := func(signalr.TriggerHandler) signalr.TriggerHandler {
		return signalr.TriggerHandlerFunc(func(context.Context, *signalr.InvocationContext) (any, error) {
			panic("filter bug")
		})
	}
	_, up := newTypesHub(t, &signalr.HubOptions{Filters: []signalr.HubFilter{boom}})
	c := complete(t, up, signalrtest.UpstreamRequests{}.Invoke("1", "add", 1, 2))
	assert.Equal(t, "add failed: the hub method panicked", c.Error)
}

// sendingHub uses every Clients and Groups helper.
type sendingHub struct{}

var (
	newMessage = signalr.ClientMethod[string]("newMessage")
	pair       = signalr.ClientMethod2[string, int]("pair")
	ping       = signalr.ClientMethod0("ping")
)

func (sendingHub) Everything(ctx context.Context, text string) error {
	call := signalr.HubCallFromContext(ctx)
	cl, gr := call.Clients(), call.Groups()
	for _, err := range []error{
		gr.AddConnection(call.ConnectionID, "g1"),
		newMessage.Send(cl.All(), "all:"+text),
		newMessage.Send(cl.AllExcept("x", "y"), "except"),
		newMessage.Send(cl.Caller(), "caller"),
		newMessage.Send(cl.Others(), "others"),
		newMessage.Send(cl.Client("c9"), "client"),
		newMessage.Send(cl.User("bob"), "user"),
		newMessage.Send(cl.Group("g1"), "group"),
		newMessage.Send(cl.GroupExcept("g1", "c9"), "groupExcept"),
		newMessage.Send(cl.OthersInGroup("g1"), "othersInGroup"),
		pair.Send(cl.All(), "p", 2),
		ping.Send(cl.All()),
		gr.RemoveConnection(call.ConnectionID, "g1"),
		gr.AddUser("bob", "g2"),
		gr.RemoveUser("bob", "g2"),
		gr.RemoveUserFromAll("bob"),
		gr.RemoveConnectionFromAll(call.ConnectionID),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (sendingHub) Bad(ctx context.Context) error {
	return newMessage.Send(signalr.HubCallFromContext(ctx).Clients().User(""), "x")
}

func (sendingHub) Queue(ctx context.Context) (string, error) {
	return "queued", newMessage.Send(signalr.HubCallFromContext(ctx).Clients().All(), "q")
}

func (sendingHub) Close(ctx context.Context) error {
	return signalr.HubCallFromContext(ctx).CloseConnection("c7", "bye")
}

func TestHubClientsAndGroupsGoThroughTheCollector(t *testing.T) {
	fake := signalrtest.NewFakeSender()
	out, err := signalr.NewOutput(fake, "sendingHub", &signalr.OutputOptions{MaxConcurrency: 1})
	require.NoError(t, err)
	h, err := signalr.NewHub(sendingHub{}, &signalr.HubOptions{Output: out})
	require.NoError(t, err)
	up := newUpstream(t)
	require.NoError(t, up.HandleHub(h))
	u := signalrtest.UpstreamRequests{Hub: "sendingHub", ConnectionID: "c1"}
	c := complete(t, up, u.Invoke("1", "everything", "hi"))
	require.Empty(t, c.Error)
	var got []string
	for _, call := range fake.Calls() {
		got = append(got, call.String())
	}
	want := []string{
		`add connection "c1" group "g1"`,
		`message "newMessage" to everyone with 1`,
		`message "newMessage" to everyone with 1`,
		`message "newMessage" to connection "c1" with 1`,
		`message "newMessage" to everyone with 1`,
		`message "newMessage" to connection "c9" with 1`,
		`message "newMessage" to user "bob" with 1`,
		`message "newMessage" to group "g1" with 1`,
		`message "newMessage" to group "g1" with 1`,
		`message "newMessage" to group "g1" with 1`,
		`message "pair" to everyone with 2`,
		`message "ping" to everyone with 0`,
		`remove connection "c1" group "g1"`,
		`add user "bob" group "g2"`,
		`remove user "bob" group "g2"`,
		`removeAll user "bob"`,
		`removeAll connection "c1"`,
	}
	require.Len(t, got, len(want), strings.Join(got, "\n"))
	for i := range want {
		assert.Contains(t, got[i], strings.TrimPrefix(want[i], ""), "item %d", i)
	}
	msgs := fake.Messages()
	assert.Equal(t, []string{"x", "y"}, msgs[1].Excluded)
	assert.Equal(t, []string{"c1"}, msgs[3].Excluded)
	assert.Equal(t, []string{"c9"}, msgs[7].Excluded)
	assert.Equal(t, []string{"c1"}, msgs[8].Excluded)
	assert.Len(t, msgs[9].Arguments, 2)
	assert.Equal(t, "all:hi", msgs[0].Arguments[0])

	// A bad audience is the method's error; nothing is sent.
	fake.Reset()
	c = complete(t, up, u.Invoke("2", "bad"))
	assert.Equal(t, "invalid argument: user id is empty", strings.TrimPrefix(c.Error, "signalr: "))
	assert.Empty(t, fake.Calls())

	// An undelivered item fails the call, naming it.
	fake.FailNext(errors.New("service down"))
	c = complete(t, up, u.Invoke("3", "queue"))
	assert.Equal(t, `queue: 1 output item(s) not delivered: message "newMessage" to everyone: service down`, c.Error)

	// The fake cannot close connections: the call says so.
	c = complete(t, up, u.Invoke("4", "close"))
	assert.Contains(t, c.Error, "cannot close connections; use a *Client")

	// Without an Output the helpers report it.
	h2, err := signalr.NewHub(sendingHub{}, &signalr.HubOptions{Name: "noout"})
	require.NoError(t, err)
	up2 := newUpstream(t)
	require.NoError(t, up2.HandleHub(h2))
	c = complete(t, up2, signalrtest.UpstreamRequests{Hub: "noout"}.Invoke("1", "queue"))
	assert.Contains(t, c.Error, "the hub has no Output")
}

func TestHubClientsOutsideAHub(t *testing.T) {
	out, fake := signalrtest.NewOutput("chat")
	col := out.NewCollector()
	cl := signalr.NewHubClients(col)
	require.NoError(t, newMessage.Send(cl.Group("g"), "hello"))
	assert.ErrorIs(t, newMessage.Send(cl.Caller(), "x"), signalr.ErrInvalidArgument)
	assert.ErrorIs(t, newMessage.Send(cl.Others(), "x"), signalr.ErrInvalidArgument)
	require.NoError(t, signalr.NewHubGroups(col).AddUser("ada", "g"))
	require.NoError(t, col.Add(newMessage.Message("direct")))
	require.NoError(t, col.Flush(context.Background()))
	require.Len(t, fake.Calls(), 3)
	assert.Equal(t, "g", fake.Messages()[0].GroupName)
	assert.Equal(t, "newMessage", fake.Messages()[1].Target)
}

func TestHubArgumentDepthBound(t *testing.T) {
	_, up := newTypesHub(t, nil)
	deep := func(n int) any {
		var v any = "leaf"
		for range n {
			v = []any{v}
		}
		return v
	}
	// The body (an object, or a MessagePack array) and its arguments array
	// are two levels, so an argument of MaxNestingDepth-2 levels is at the
	// bound; one level more is refused by the Upstream (400) before the hub
	// decodes anything.
	for _, mp := range []bool{false, true} {
		u := signalrtest.UpstreamRequests{MessagePack: mp}
		c := complete(t, up, u.Invoke("1", "anything", deep(signalr.MaxNestingDepth-2)))
		assert.Empty(t, c.Error, "msgpack=%v: at the bound", mp)
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, u.Invoke("2", "anything", deep(signalr.MaxNestingDepth-1)))
		assert.Equal(t, http.StatusBadRequest, rec.Code, "msgpack=%v", mp)
		assert.Contains(t, rec.Body.String(), signalr.ErrTooDeep.Error(), "msgpack=%v", mp)
	}
}

func TestHubApplicationName(t *testing.T) {
	out, fake := signalrtest.NewOutput("myapp_chat")
	h, err := signalr.NewHub(sendingHub{}, &signalr.HubOptions{Name: "chat", ApplicationName: "MyApp", Output: out})
	require.NoError(t, err)
	assert.Equal(t, "chat", h.Name())
	assert.Equal(t, "myapp_chat", h.ServiceHub())
	up := newUpstream(t)
	require.NoError(t, up.HandleHub(h))
	// Whichever name the service puts in X-ASRS-Hub, the hub answers.
	for _, hub := range []string{"myapp_chat", "chat"} {
		c := complete(t, up, signalrtest.UpstreamRequests{Hub: hub}.Invoke("1", "queue"))
		assert.Equal(t, `"queued"`, resultJSON(t, c), hub)
	}
	require.Len(t, fake.Calls(), 2)
	assert.Equal(t, "myapp_chat", fake.Calls()[0].Hub)
	// The Output must send to the prefixed hub.
	plain, _ := signalrtest.NewOutput("chat")
	_, err = signalr.NewHub(sendingHub{}, &signalr.HubOptions{Name: "chat", ApplicationName: "MyApp", Output: plain})
	assert.ErrorContains(t, err, `bind the output to "myapp_chat"`)
}

// Zero values and struct literals report errors rather than panic.
func TestHubZeroValues(t *testing.T) {
	var call signalr.HubCall
	assert.ErrorIs(t, call.Clients().All().Send("x"), signalr.ErrInvalidHub)
	assert.ErrorIs(t, call.Clients().Caller().Send("x"), signalr.ErrInvalidArgument)
	assert.ErrorIs(t, call.Groups().AddUser("u", "g"), signalr.ErrInvalidHub)
	assert.ErrorIs(t, call.CloseConnection("c", ""), signalr.ErrInvalidHub)
	assert.Nil(t, call.Collector())
	assert.ErrorIs(t, signalr.ClientProxy{}.Send("x"), signalr.ErrInvalidHub)
	assert.ErrorIs(t, newUpstream(t).HandleHub(&signalr.Hub{}), signalr.ErrInvalidHub)
	assert.ErrorIs(t, newUpstream(t).HandleHub(nil), signalr.ErrInvalidHub)
	var h signalr.Hub
	assert.Empty(t, h.Methods())
	assert.Empty(t, h.Bindings())
	assert.Nil(t, signalr.HubCallFromContext(context.Background()))
}
