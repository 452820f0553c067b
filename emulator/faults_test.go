package emulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

func TestRESTFaultAnswersTheNextCallsThenStops(t *testing.T) {
	s := newServer(t, nil)
	feed := s.Emulator.Events(t.Context(), &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventFault}})
	_, err := s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Status: 429, RetryAfter: 3 * time.Second, Count: 2})
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		resp := rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "x"))
		wantStatus(t, resp, http.StatusTooManyRequests, "Error.FaultInjected")
		require.Equal(t, "3", resp.Header.Get("Retry-After"))
		require.Equal(t, emulator.EventFault, nextEvent(t, feed).Kind)
	}
	wantStatus(t, rest(t, s, "POST", "/api/hubs/other/:send", sendBody("m", "x")), http.StatusAccepted, "")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "x")), http.StatusAccepted, "")
	require.Empty(t, s.Emulator.Faults(), "a fault with a count ends")
}

// statuses sends n REST calls and lists the statuses answered.
func statuses(t *testing.T, seed uint64, n int) []int {
	s := newServer(t, &emulator.Options{FaultSeed: seed})
	_, err := s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Status: 500, Fraction: 0.5})
	require.NoError(t, err)
	var out []int
	for i := 0; i < n; i++ {
		out = append(out, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "x")).StatusCode)
	}
	return out
}

func TestFaultFractionIsDeterministicUnderASeed(t *testing.T) {
	a, b := statuses(t, 7, 40), statuses(t, 7, 40)
	require.Equal(t, a, b)
	require.Contains(t, a, 500)
	require.Contains(t, a, 202)
	require.NotEqual(t, a, statuses(t, 8, 40), "another seed strikes other calls")
}

func TestOfflineRefusesEverythingAndDropsClients(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s, "chat", "u")
	s.Emulator.SetOffline(true)
	_, err := c.read(5 * time.Second)
	require.Error(t, err)
	require.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "no close frame: the socket was reset")
	eventually(t, "the client is gone", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 0 })

	resp, err := httpClient.Head(s.URL + "/api/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	req, _ := http.NewRequest("POST", s.URL+"/client/negotiate?hub=chat", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	// A client that skips negotiate and dials the WebSocket straight away
	// is refused too.
	_, resp, err = dialRaw(t, s, "chat", "", token)
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "skipNegotiation while offline")
	require.Empty(t, s.Emulator.Snapshot("chat").Connections)

	s.Emulator.SetOffline(false)
	resp, err = httpClient.Head(s.URL + "/api/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	connect(t, s, "chat", "u")
	ws, _, err := dialRaw(t, s, "chat", "", token)
	require.NoError(t, err, "skipNegotiation once back online")
	_ = ws.CloseNow()
}

func TestDropConnectionsResetsTheSocketsOfAUser(t *testing.T) {
	s := newServer(t, nil)
	feed := s.Emulator.Events(t.Context(), &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventDisconnected}})
	a1, a2, b := connect(t, s, "chat", "ann"), connect(t, s, "chat", "ann"), connect(t, s, "chat", "bob")
	require.Equal(t, 2, s.Emulator.DropConnections("chat", emulator.Recipient{User: "ann"}))
	for _, c := range []*client{a1, a2} {
		_, err := c.read(5 * time.Second)
		require.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "no close frame: %v", err)
		ev := nextEvent(t, feed)
		require.Equal(t, "dropped abruptly (fault injection)", ev.Reason)
	}
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/users/bob/:send", sendBody("still", "here")), http.StatusAccepted, "")
	b.wantInvocation("still", "here")
}

func TestUpstreamFaultsFailAndHang(t *testing.T) {
	up := newFakeUpstream(t, nil)
	s := newServer(t, &emulator.Options{Upstream: everything(up.URL), UpstreamTimeout: 300 * time.Millisecond})
	_, err := s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultUpstream, Route: "fail", Status: 502})
	require.NoError(t, err)
	_, err = s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultUpstream, Route: "stall", Hang: true})
	require.NoError(t, err)
	c := connect(t, s, "chat", "u")
	c.send(`{"type":1,"invocationId":"1","target":"fail","arguments":[]}`)
	done := c.nextCompletion()
	require.NotNil(t, done.Error)
	require.Contains(t, *done.Error, "status code 502")
	c.send(`{"type":1,"invocationId":"2","target":"stall","arguments":[]}`)
	done = c.nextCompletion()
	require.NotNil(t, done.Error)
	require.Contains(t, *done.Error, "did not answer within")
	c.send(`{"type":1,"invocationId":"3","target":"fine","arguments":[]}`)
	done = c.nextCompletion()
	require.Nil(t, done.Error, "without a fault the upstream answers")
	for _, call := range up.snapshot() {
		ev := call.Header.Get("X-ASRS-Event")
		require.NotEqual(t, "fail", ev, "a failed call never reaches the upstream")
		require.NotEqual(t, "stall", ev)
	}
}

func TestDeliveryDelayHoldsMessagesButDeliversThem(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s, "chat", "u")
	feed := s.Emulator.Events(t.Context(), &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventFault}})
	_, err := s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultDelivery, Delay: 50 * time.Millisecond, Count: 1})
	require.NoError(t, err)
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("late", "x")), http.StatusAccepted, "")
	c.wantInvocation("late", "x")
	ev := nextEvent(t, feed)
	require.Equal(t, 50*time.Millisecond, ev.Duration)
}

func TestFaultsThroughTheControlAPIAndTheirErrors(t *testing.T) {
	s := newServer(t, nil)
	require.Equal(t, http.StatusOK, postJSON(t, s, "/_emulator/api/faults", `{"kind":"rest","status":503,"count":1}`))
	var state struct {
		Faults  []emulator.FaultState
		Offline bool
	}
	getJSON(t, s, "/_emulator/api/faults", &state)
	require.Len(t, state.Faults, 1)
	require.Equal(t, 503, state.Faults[0].Status)
	wantStatus(t, rest(t, s, "GET", "/api/health", ""), http.StatusServiceUnavailable, "Error.FaultInjected")
	require.Equal(t, http.StatusOK, postJSON(t, s, "/_emulator/api/faults", `{"offline":true}`))
	getJSON(t, s, "/_emulator/api/faults", &state)
	require.True(t, state.Offline)
	req, _ := http.NewRequest("DELETE", s.URL+"/_emulator/api/faults", nil)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.False(t, s.Emulator.Offline())
	require.Equal(t, http.StatusBadRequest, postJSON(t, s, "/_emulator/api/faults", `{"kind":"rest","status":404}`))

	for in, want := range map[string]string{
		"kind=rest,status=418":            "status 418",
		"kind=sideways,status=500":        "kind",
		"kind=rest,status=503,fraction=2": "fraction",
		"kind=rest":                       "would do nothing",
		"kind=rest,colour=red":            "colour",
		"kind=delivery,delay=x":           "delay",
	} {
		_, err := emulator.ParseFault(in)
		require.ErrorIs(t, err, emulator.ErrBadFault, in)
		require.ErrorContains(t, err, want, in)
	}
	f, err := emulator.ParseFault("kind=upstream,route=connected,hang=true")
	require.NoError(t, err)
	require.Equal(t, emulator.Fault{Kind: emulator.FaultUpstream, Route: "connected", Hang: true}, f)
}
