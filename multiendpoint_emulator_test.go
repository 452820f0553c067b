package signalr_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// probeInterval is the health probe interval of the tests' clients: short,
// so that an endpoint taken offline is noticed quickly.
const probeInterval = 100 * time.Millisecond

// multiSetup is N emulators and a Client over them.
type multiSetup struct {
	servers []*emulator.Server
	names   []string
	client  *signalr.Client
	changes chan signalr.EndpointState
	eps     []signalr.Endpoint
	creds   map[string]azcore.TokenCredential
}

// newMulti starts one emulator per type in types and a Client over them,
// the endpoints named e0, e1, ...; identity makes them identity-based
// (each emulator trusts its own credential fake).
func newMulti(t *testing.T, types []signalr.EndpointType, identity bool, interval time.Duration) *multiSetup {
	t.Helper()
	var opts *emulator.Options
	if identity {
		opts = &emulator.Options{Identity: &emulator.IdentityOptions{}}
	}
	s := &multiSetup{changes: make(chan signalr.EndpointState, 64)}
	var eps []signalr.Endpoint
	creds := map[string]azcore.TokenCredential{}
	for i, typ := range types {
		var o *emulator.Options
		if opts != nil {
			o = &emulator.Options{Identity: &emulator.IdentityOptions{}}
		}
		srv := signalrtest.NewEmulator(t, o)
		raw := srv.ConnectionString()
		if identity {
			raw = strings.Replace(raw, "AccessKey="+srv.Emulator.AccessKey(), "AuthType=azure.msi", 1)
		}
		cs, err := signalr.ParseConnectionString(raw)
		require.NoError(t, err)
		if identity {
			cred, err := signalrtest.NewCredential(srv.Emulator, nil)
			require.NoError(t, err)
			creds[cs.Endpoint()] = cred
		}
		name := "e" + string(rune('0'+i))
		s.servers, s.names = append(s.servers, srv), append(s.names, name)
		eps = append(eps, signalr.Endpoint{Name: name, Type: typ, ConnectionString: cs})
	}
	c, err := signalr.NewMultiEndpointClient(eps, &signalr.MultiEndpointOptions{
		Client:         &signalr.ClientOptions{Retry: signalr.RetryOptions{MaxRetries: -1}},
		HealthInterval: interval,
		NewCredential: func(cs *signalr.ConnectionString) (azcore.TokenCredential, error) {
			return creds[cs.Endpoint()], nil
		},
		OnEndpointChange: func(st signalr.EndpointState) {
			select {
			case s.changes <- st:
			default:
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	s.client, s.eps, s.creds = c, eps, creds
	return s
}

// connectDirect connects user to endpoint i, whatever the Router would
// pick, with a token minted by a single-endpoint Client of that endpoint.
func (s *multiSetup) connectDirect(t *testing.T, i int, user string) *receiver {
	t.Helper()
	cs := s.eps[i].ConnectionString
	single, err := signalr.NewClient(cs, &signalr.ClientOptions{Credential: s.creds[cs.Endpoint()]})
	require.NoError(t, err)
	defer single.CloseIdleConnections()
	info, err := single.ConnectionInfo(context.Background(), "chat", &signalr.ClientTokenOptions{UserID: user})
	require.NoError(t, err)
	status, body, r := connect(t, info)
	require.Equal(t, http.StatusOK, status, body)
	return r
}

// endpointOf returns the index of the emulator a ConnectionInfo points at.
func (s *multiSetup) endpointOf(t *testing.T, info signalr.ConnectionInfo) int {
	t.Helper()
	for i, srv := range s.servers {
		if strings.HasPrefix(info.URL, strings.TrimSuffix(srvEndpoint(t, srv), "/")+"/") {
			return i
		}
	}
	require.FailNow(t, "the URL points at no emulator", info.URL)
	return -1
}

func srvEndpoint(t *testing.T, srv *emulator.Server) string {
	cs, err := signalr.ParseConnectionString(srv.ConnectionString())
	require.NoError(t, err)
	return cs.Endpoint()
}

// negotiateCounts negotiates n times and counts where each went.
func (s *multiSetup) negotiateCounts(t *testing.T, n int) []int {
	t.Helper()
	counts := make([]int, len(s.servers))
	for i := 0; i < n; i++ {
		info, err := s.client.ConnectionInfo(context.Background(), "chat", &signalr.ClientTokenOptions{UserID: "u"})
		require.NoError(t, err)
		counts[s.endpointOf(t, info)]++
	}
	return counts
}

// connectOn negotiates until the Router picks endpoint want, then connects
// user there.
func (s *multiSetup) connectOn(t *testing.T, want int, user string) *receiver {
	t.Helper()
	for i := 0; i < 200; i++ {
		info, err := s.client.ConnectionInfo(context.Background(), "chat", &signalr.ClientTokenOptions{UserID: user})
		require.NoError(t, err)
		if s.endpointOf(t, info) != want {
			continue
		}
		status, body, r := connect(t, info)
		require.Equal(t, http.StatusOK, status, body)
		return r
	}
	require.FailNow(t, "the router never picked the endpoint", want)
	return nil
}

// waitOnline waits until endpoint i has the given state (the Client's
// observable state, changed by its probes).
func (s *multiSetup) waitOnline(t *testing.T, i int, online bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		return s.client.Endpoints()[i].Online == online
	}, 10*time.Second, 5*time.Millisecond, "endpoint %s online=%v", s.names[i], online)
}

func testMultiSpreadAndFanOut(t *testing.T, identity bool) {
	s := newMulti(t, []signalr.EndpointType{signalr.Primary, signalr.Primary}, identity, probeInterval)
	ctx := context.Background()

	counts := s.negotiateCounts(t, 60)
	t.Logf("negotiates over two primaries: %v", counts)
	assert.Positive(t, counts[0], "some negotiates land on e0")
	assert.Positive(t, counts[1], "some negotiates land on e1")

	a0 := s.connectOn(t, 0, "u")
	a1 := s.connectOn(t, 1, "u")
	b1 := s.connectOn(t, 1, "bob")

	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{1}}, nil))
	assert.Equal(t, "all:1", a0.next(t))
	assert.Equal(t, "all:1", a1.next(t))
	assert.Equal(t, "all:1", b1.next(t))

	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "user", UserID: "u", Arguments: []any{2}}, nil))
	assert.Equal(t, "user:2", a0.next(t))
	assert.Equal(t, "user:2", a1.next(t))

	require.NoError(t, s.client.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "u", GroupName: "room"}, nil))
	for _, srv := range s.servers {
		assert.Equal(t, []string{"room"}, srv.Emulator.Snapshot("chat").UserGroups["u"], "the group action reached every endpoint")
	}
	in, err := s.client.UserInGroup(ctx, "chat", "room", "u", nil)
	require.NoError(t, err)
	assert.True(t, in)
	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "group", GroupName: "room", Arguments: []any{3}}, nil))
	assert.Equal(t, "group:3", a0.next(t))
	assert.Equal(t, "group:3", a1.next(t))

	// A connection lives on one endpoint: the other's "not found" is no
	// error, and existence is true.
	bobID := s.servers[1].Emulator.Snapshot("chat").Users["bob"][0]
	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "conn", ConnectionID: bobID, Arguments: []any{4}}, nil))
	assert.Equal(t, "conn:4", b1.next(t))
	ok, err := s.client.ConnectionExists(ctx, "chat", bobID, nil)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.client.ConnectionExists(ctx, "chat", "nobody", nil)
	require.NoError(t, err)
	assert.False(t, ok)

	// An item's endpoints list sends to those endpoints only.
	only := []signalr.EndpointInfo{{Name: "e1", EndpointType: signalr.Primary}}
	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "only", Arguments: []any{5}, Endpoints: only}, nil))
	assert.Equal(t, "only:5", a1.next(t))
	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{6}}, nil))
	assert.Equal(t, "all:6", a0.next(t), "e0 got no 'only' message before this one")
	assert.Equal(t, "all:6", a1.next(t))
	err = s.client.SendMessage(ctx, "chat", signalr.Message{Target: "x", Endpoints: []signalr.EndpointInfo{}}, nil)
	assert.ErrorIs(t, err, signalr.ErrNoEndpoint, "an empty endpoints list is refused, not dropped")
	err = s.client.SendMessage(ctx, "chat", signalr.Message{Target: "x", Endpoints: []signalr.EndpointInfo{{Name: "e1", EndpointType: signalr.Secondary}}}, nil)
	assert.ErrorIs(t, err, signalr.ErrNoEndpoint, "a list that matches nothing is refused")
	assert.Contains(t, err.Error(), `"e1"`)
}

// TestMultiEndpointSpreadAndFanOut: negotiates spread over two primaries;
// a broadcast, a user send and a group send reach clients on both.
func TestMultiEndpointSpreadAndFanOut(t *testing.T) {
	t.Parallel()
	testMultiSpreadAndFanOut(t, false)
}

// TestMultiEndpointIdentitySpreadAndFanOut is the same with identity
// connection strings, each endpoint trusting its own credential.
func TestMultiEndpointIdentitySpreadAndFanOut(t *testing.T) {
	t.Parallel()
	testMultiSpreadAndFanOut(t, true)
}

func testMultiFailover(t *testing.T, identity bool) {
	s := newMulti(t, []signalr.EndpointType{signalr.Primary, signalr.Primary, signalr.Secondary}, identity, probeInterval)
	ctx := context.Background()
	counts := s.negotiateCounts(t, 40)
	assert.Zero(t, counts[2], "the secondary takes no negotiate while a primary is online: %v", counts)

	c1 := s.connectOn(t, 1, "u")
	c2 := s.connectDirect(t, 2, "u")

	// e0 goes offline: the next probe notices, within one interval.
	start := time.Now()
	s.servers[0].Emulator.SetOffline(true)
	s.waitOnline(t, 0, false)
	t.Logf("e0 seen offline %v after SetOffline (probe interval %v)", time.Since(start), probeInterval)
	st := s.client.Endpoints()[0]
	require.Error(t, st.LastError)
	counts = s.negotiateCounts(t, 20)
	assert.Equal(t, []int{0, 20, 0}, counts, "negotiates move to the other primary")
	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{1}}, nil), "sends to the rest succeed")
	assert.Equal(t, "all:1", c1.next(t))
	assert.Equal(t, "all:1", c2.next(t))

	// Every primary offline: the secondary takes the negotiates.
	s.servers[1].Emulator.SetOffline(true)
	s.waitOnline(t, 1, false)
	counts = s.negotiateCounts(t, 10)
	assert.Equal(t, []int{0, 0, 10}, counts)

	// All offline: ConnectionInfo fails with ErrNoEndpoint and a negotiate
	// handler answers 503 with Retry-After.
	s.servers[2].Emulator.SetOffline(true)
	s.waitOnline(t, 2, false)
	_, err := s.client.ConnectionInfo(ctx, "chat", nil)
	require.ErrorIs(t, err, signalr.ErrNoEndpoint)
	in, err := signalr.ConnectionInfoBinding{HubName: "chat"}.Bind(&signalr.BindOptions{Client: s.client})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	signalr.NegotiateHandler(in).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	err = s.client.SendMessage(ctx, "chat", signalr.Message{Target: "all"}, nil)
	assert.ErrorIs(t, err, signalr.ErrNoEndpoint, "a send with no endpoint online is an error, not a silent drop")

	// Back online: the probes restore them, and negotiates spread again.
	for i := range s.servers {
		s.servers[i].Emulator.SetOffline(false)
	}
	for i := range s.servers {
		s.waitOnline(t, i, true)
	}
	assert.Nil(t, s.client.Endpoints()[0].LastError)
	counts = s.negotiateCounts(t, 60)
	assert.Positive(t, counts[0])
	assert.Positive(t, counts[1])
	assert.Zero(t, counts[2])
}

// TestMultiEndpointFailover: a secondary takes negotiates only when every
// primary is offline; an offline endpoint loses its negotiates within a
// probe interval while sends to the rest succeed; back online, it is
// restored.
func TestMultiEndpointFailover(t *testing.T) {
	t.Parallel()
	testMultiFailover(t, false)
}

// TestMultiEndpointIdentityFailover is the same with identity connection
// strings.
func TestMultiEndpointIdentityFailover(t *testing.T) {
	t.Parallel()
	testMultiFailover(t, true)
}

// TestMultiEndpointFailureNamesEndpoint: without probes, the first request
// to an endpoint that went offline fails with an *EndpointError naming it,
// the other endpoint still gets the message, and the endpoint is then
// offline, so the next send skips it and succeeds.
func TestMultiEndpointFailureNamesEndpoint(t *testing.T) {
	t.Parallel()
	s := newMulti(t, []signalr.EndpointType{signalr.Primary, signalr.Primary}, false, -1)
	ctx := context.Background()
	c1 := s.connectOn(t, 1, "u")
	s.servers[0].Emulator.SetOffline(true)

	err := s.client.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{1}}, nil)
	require.Error(t, err)
	var ee *signalr.EndpointError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "e0", ee.Endpoint)
	var re *signalr.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusServiceUnavailable, re.StatusCode)
	assert.Contains(t, err.Error(), `endpoint "e0"`)
	assert.Equal(t, "all:1", c1.next(t), "the other endpoint got it")
	assert.False(t, s.client.Endpoints()[0].Online, "the failed request took e0 offline")
	st := <-s.changes
	assert.Equal(t, "e0", st.Name)
	assert.False(t, st.Online)

	require.NoError(t, s.client.SendMessage(ctx, "chat", signalr.Message{Target: "all", Arguments: []any{2}}, nil))
	assert.Equal(t, "all:2", c1.next(t))

	// The Collector reports the per-endpoint failure in its DeliveryError.
	s.client = mustSingleOffline(t, s)
	out, err := signalr.NewOutput(s.client, "chat", nil)
	require.NoError(t, err)
	col := out.NewCollector()
	require.NoError(t, col.Add(signalr.Message{Target: "all", Arguments: []any{3}}))
	err = col.Flush(ctx)
	require.Error(t, err)
	var de *signalr.DeliveryError
	require.ErrorAs(t, err, &de)
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "e0", ee.Endpoint)
	assert.Equal(t, "all:3", c1.next(t))
}

// mustSingleOffline returns a fresh probe-less Client over s's endpoints,
// all still believed online.
func mustSingleOffline(t *testing.T, s *multiSetup) *signalr.Client {
	t.Helper()
	var eps []signalr.Endpoint
	for i, srv := range s.servers {
		cs, err := signalr.ParseConnectionString(srv.ConnectionString())
		require.NoError(t, err)
		eps = append(eps, signalr.Endpoint{Name: s.names[i], ConnectionString: cs})
	}
	c, err := signalr.NewMultiEndpointClient(eps, &signalr.MultiEndpointOptions{
		Client: &signalr.ClientOptions{Retry: signalr.RetryOptions{MaxRetries: -1}}, HealthInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestEmulatorOfflineRefusesConnects: while offline, an emulator refuses a
// WebSocket connect even with a valid token, and drops its clients.
func TestEmulatorOfflineRefusesConnects(t *testing.T) {
	t.Parallel()
	s := newMulti(t, []signalr.EndpointType{signalr.Primary}, false, -1)
	info, err := s.client.ConnectionInfo(context.Background(), "chat", nil)
	require.NoError(t, err)
	_, _, r := connect(t, info)
	s.servers[0].Emulator.SetOffline(true)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not dropped")
	}
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(info.URL, "/client/?", "/client/?id=x&", 1), nil)
	req.Header.Set("Authorization", "Bearer "+info.AccessToken)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err := wsHTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	ok, err := s.client.Healthy(context.Background(), nil)
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestMultiEndpointConcurrentSends: many goroutines send through one
// multi-endpoint Client while an endpoint flaps; no send is lost silently
// (each either succeeds or names e0), and the race detector stays quiet.
func TestMultiEndpointConcurrentSends(t *testing.T) {
	t.Parallel()
	s := newMulti(t, []signalr.EndpointType{signalr.Primary, signalr.Primary}, false, 10*time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				errs <- s.client.SendMessage(context.Background(), "chat", signalr.Message{Target: "t"}, nil)
			}
		}()
	}
	for i := 0; i < 5; i++ {
		s.servers[0].Emulator.SetOffline(i%2 == 0)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			continue
		}
		var ee *signalr.EndpointError
		if !errors.As(err, &ee) {
			assert.ErrorIs(t, err, signalr.ErrNoEndpoint)
			continue
		}
		assert.Equal(t, "e0", ee.Endpoint, "only e0 flaps: %v", err)
	}
}

// TestMultiEndpointInputBindings: signalREndpoints lists every endpoint
// with its state and no key; signalRNegotiation gives a token per endpoint
// that its client connects with; a binding that would make its own Client
// while the settings configure several endpoints is refused.
func TestMultiEndpointInputBindings(t *testing.T) {
	t.Parallel()
	s := newMulti(t, []signalr.EndpointType{signalr.Primary, signalr.Secondary}, false, -1)
	eps, err := signalr.EndpointsBinding{HubName: "chat"}.Bind(&signalr.BindOptions{Client: s.client})
	require.NoError(t, err)
	got := eps.Resolve(httptest.NewRequest(http.MethodGet, "/", nil))
	require.Len(t, got, 2)
	assert.Equal(t, signalr.EndpointInfo{EndpointType: signalr.Primary, Name: "e0", Endpoint: srvEndpoint(t, s.servers[0]), Online: true}, got[0])
	assert.Equal(t, signalr.Secondary, got[1].EndpointType)

	neg, err := signalr.NegotiationBinding{HubName: "chat", UserID: "{query.u}"}.Bind(&signalr.BindOptions{Client: s.client})
	require.NoError(t, err)
	nc, err := neg.Resolve(httptest.NewRequest(http.MethodGet, "/?u=zoe", nil))
	require.NoError(t, err)
	require.Len(t, nc.Endpoints, 2)
	for i, e := range nc.Endpoints {
		assert.Equal(t, "e"+string(rune('0'+i)), e.Name)
		assert.Equal(t, i, s.endpointOf(t, e.ConnectionInfo))
		status, body, _ := connect(t, e.ConnectionInfo)
		assert.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, []string{"zoe"}, mapsKeys(s.servers[i].Emulator.Snapshot("chat").Users))
	}

	settings := &signalr.LocalSettings{Values: map[string]string{
		"AzureSignalRConnectionString": s.servers[0].ConnectionString(),
		"Azure:SignalR:Endpoints:west": s.servers[1].ConnectionString()}}
	_, err = signalr.ConnectionInfoBinding{HubName: "chat"}.Bind(&signalr.BindOptions{Settings: settings})
	assert.ErrorIs(t, err, signalr.ErrInvalidBinding)
	assert.Contains(t, err.Error(), "NewClientFromSettings")
	_, err = signalr.OutputBinding{HubName: "chat"}.Bind(&signalr.BindOptions{Settings: settings}, nil)
	assert.ErrorIs(t, err, signalr.ErrInvalidBinding)
}

func mapsKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMultiEndpointUpstreamAcceptsEveryKey: one Upstream bound to a
// multi-endpoint Client accepts requests signed by any endpoint's key, and
// refuses other keys; the same through settings with EndpointsSection.
func TestMultiEndpointUpstreamAcceptsEveryKey(t *testing.T) {
	t.Parallel()
	keys := []string{"key-of-endpoint-zero-0123456789abcdef", "key-of-endpoint-one-0123456789abcdefg"}
	var css []string
	var eps []signalr.Endpoint
	for i, k := range keys {
		srv := signalrtest.NewEmulator(t, &emulator.Options{AccessKey: k})
		css = append(css, srv.ConnectionString())
		cs, err := signalr.ParseConnectionString(srv.ConnectionString())
		require.NoError(t, err)
		eps = append(eps, signalr.Endpoint{Name: "e" + string(rune('0'+i)), ConnectionString: cs})
	}
	client, err := signalr.NewMultiEndpointClient(eps, &signalr.MultiEndpointOptions{HealthInterval: -1})
	require.NoError(t, err)
	defer client.Close()
	settings := &signalr.LocalSettings{Values: map[string]string{
		"AzureSignalRConnectionString": css[0], "Azure:SignalR:Endpoints:west:secondary": css[1]}}
	for name, bind := range map[string]*signalr.BindOptions{"client": {Client: client}, "settings": {Settings: settings}} {
		up, err := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: bind})
		require.NoError(t, err, name)
		require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "echo"},
			func(context.Context, *signalr.InvocationContext) (any, error) { return nil, nil }), name)
		for _, k := range keys {
			rec := httptest.NewRecorder()
			up.ServeHTTP(rec, signalrtest.UpstreamRequests{AccessKeys: []string{k}}.Send("echo"))
			assert.Equal(t, http.StatusOK, rec.Code, "%s: signed by an endpoint's key: %s", name, rec.Body)
		}
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, signalrtest.UpstreamRequests{AccessKeys: []string{"some-other-key-0123456789abcdefghij"}}.Send("echo"))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: another key is refused", name)
	}
}

// TestWithOutputNamesFailedEndpoint: the 502 body WithOutput writes names
// the endpoint that refused the item, and only it.
func TestWithOutputNamesFailedEndpoint(t *testing.T) {
	t.Parallel()
	s := newMulti(t, []signalr.EndpointType{signalr.Primary, signalr.Primary}, false, -1)
	c1 := s.connectOn(t, 1, "u")
	s.servers[0].Emulator.SetOffline(true)
	out, err := signalr.NewOutput(s.client, "chat", nil)
	require.NoError(t, err)
	h := signalr.WithOutput(out, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, signalr.CollectorFromContext(r.Context()).Add(signalr.Message{Target: "all", Arguments: []any{1}}))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	require.Equal(t, http.StatusBadGateway, rec.Code)
	var body struct {
		Failures []struct {
			StatusCode int      `json:"statusCode"`
			Endpoints  []string `json:"endpoints"`
		} `json:"failures"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	require.Len(t, body.Failures, 1)
	assert.Equal(t, []string{"e0"}, body.Failures[0].Endpoints)
	assert.Equal(t, http.StatusServiceUnavailable, body.Failures[0].StatusCode)
	assert.Equal(t, "all:1", c1.next(t), "the other endpoint got it")
}
