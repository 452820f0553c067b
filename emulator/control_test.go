package emulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// nextEvent returns the next event of ch that is not of a kind in skip.
func nextEvent(t *testing.T, ch <-chan emulator.Event, skip ...emulator.EventKind) emulator.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "the feed closed")
			skipped := false
			for _, k := range skip {
				skipped = skipped || ev.Kind == k
			}
			if !skipped {
				return ev
			}
		case <-time.After(5 * time.Second):
			require.FailNow(t, "no event within 5s")
		}
	}
}

func TestEventsReportTheTrafficOfAConnection(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := s.Emulator.Events(ctx, &emulator.EventFilter{Hub: "Chat"})

	c := connect(t, s, "chat", "alice")
	ev := nextEvent(t, feed, emulator.EventNegotiate)
	require.Equal(t, emulator.EventConnected, ev.Kind)
	require.Equal(t, c.id, ev.Connection)
	require.Equal(t, "alice", ev.User)
	require.Equal(t, "WebSockets", ev.Transport)
	require.Equal(t, "json", ev.Protocol)

	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/groups/room/connections/"+c.id, ""), http.StatusOK, "")
	ev = nextEvent(t, feed)
	require.Equal(t, emulator.EventREST, ev.Kind)
	require.Equal(t, "PUT", ev.Method)
	require.Equal(t, "room", ev.Group)
	require.Equal(t, c.id, ev.Connection)
	require.Equal(t, http.StatusOK, ev.Status)
	require.Positive(t, ev.Duration)

	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/groups/room/:send", sendBody("newMessage", "hi")), http.StatusAccepted, "")
	ev = nextEvent(t, feed)
	require.Equal(t, emulator.EventREST, ev.Kind)
	require.Equal(t, "newMessage", ev.Target)
	require.Equal(t, http.StatusAccepted, ev.Status)
	c.wantInvocation("newMessage", "hi")

	c.send(`{"type":1,"invocationId":"7","target":"echo","arguments":[]}`)
	ev = nextEvent(t, feed)
	require.Equal(t, emulator.EventInvocation, ev.Kind)
	require.Equal(t, "echo", ev.Target)
	require.Equal(t, "7", ev.InvocationID)
	c.send(`{"type":3,"invocationId":"99","result":1}`)
	ev = nextEvent(t, feed)
	require.Equal(t, emulator.EventCompletion, ev.Kind)
	require.Equal(t, "99", ev.InvocationID)

	require.NoError(t, c.ws.CloseNow())
	ev = nextEvent(t, feed)
	require.Equal(t, emulator.EventDisconnected, ev.Kind)
	require.Equal(t, c.id, ev.Connection)
	require.NotEmpty(t, ev.Reason)
	require.Greater(t, ev.Seq, uint64(1))

	cancel()
	for range feed {
	}
}

// A REST event names the send's target whether the handler read the body
// or a fault answered before it; a refused body names none.
func TestRESTEventNamesTheTarget(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := s.Emulator.Events(ctx, &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventREST}})

	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("served", "x")), http.StatusAccepted, "")
	ev := nextEvent(t, feed)
	require.Equal(t, "served", ev.Target)
	require.Equal(t, http.StatusAccepted, ev.Status)

	_, err := s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Status: 503, Count: 1})
	require.NoError(t, err)
	resp := rest(t, s, "POST", "/api/hubs/chat/users/u/:send", sendBody("faulted", "x"))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	ev = nextEvent(t, feed)
	require.Equal(t, "faulted", ev.Target, "the body a fault answered is read for the target")
	require.Equal(t, "u", ev.User)
	require.Equal(t, http.StatusServiceUnavailable, ev.Status)

	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", `{"arguments":[1]}`), http.StatusBadRequest, "Error.InvalidArgument")
	ev = nextEvent(t, feed)
	require.Empty(t, ev.Target)
	require.Equal(t, http.StatusBadRequest, ev.Status)
}

func TestEventFilterSelectsConnection(t *testing.T) {
	s := newServer(t, nil)
	a := connect(t, s, "chat", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := s.Emulator.Events(ctx, &emulator.EventFilter{Connection: a.id, Kinds: []emulator.EventKind{emulator.EventDisconnected}})
	b := connect(t, s, "chat", "b")
	require.NoError(t, b.ws.CloseNow())
	require.NoError(t, a.ws.CloseNow())
	ev := nextEvent(t, feed)
	require.Equal(t, a.id, ev.Connection, "b's events are filtered out")
	require.Equal(t, emulator.EventDisconnected, ev.Kind)
}

func getJSON(t *testing.T, s *emulator.Server, path string, v any) {
	t.Helper()
	resp, err := httpClient.Get(s.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func postJSON(t *testing.T, s *emulator.Server, path, body string) int {
	t.Helper()
	resp, err := httpClient.Post(s.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestControlAPIPagesConnectionsWithoutRepeatsOrGaps(t *testing.T) {
	s := newServer(t, nil)
	want := map[string]bool{}
	for i := 0; i < 23; i++ {
		c := connect(t, s, "chat", "user"+itoa(i%5))
		want[c.id] = true
	}
	var hubs struct{ Hubs []emulator.HubInfo }
	getJSON(t, s, "/_emulator/api/hubs", &hubs)
	require.Equal(t, []emulator.HubInfo{{Name: "chat", Connections: 23, Users: 5}}, hubs.Hubs)

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var page emulator.ConnectionPage
		getJSON(t, s, "/_emulator/api/hubs/chat/connections?limit=10&cursor="+cursor, &page)
		require.Equal(t, 23, page.Total)
		for _, c := range page.Connections {
			require.False(t, seen[c.ID], "repeated %s", c.ID)
			seen[c.ID] = true
			require.Equal(t, "WebSockets", c.Transport)
			require.False(t, c.Since.IsZero())
			require.Positive(t, c.BytesIn, "the handshake came in")
			require.Positive(t, c.BytesOut, "the handshake response went out")
		}
		pages++
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, want, seen)
	require.Equal(t, 3, pages)

	var users emulator.MemberPage
	getJSON(t, s, "/_emulator/api/hubs/chat/users?limit=2", &users)
	require.Equal(t, 5, users.Total)
	require.Len(t, users.Items, 2)
	require.Equal(t, "user0", users.Items[0].Name)
	require.Len(t, users.Items[0].Connections, 5)

	resp, err := httpClient.Get(s.URL + "/_emulator/api/hubs/chat/connections?limit=5000")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestControlAPIActions(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s, "chat", "alice")
	other := connect(t, s, "chat", "bob")

	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/send", `{"connection":"`+c.id+`","target":"note","arguments":["only you"]}`))
	c.wantInvocation("note", "only you")

	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/groups/room/add", `{"connection":"`+c.id+`"}`))
	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/groups/room/add", `{"user":"bob"}`))
	var groups emulator.MemberPage
	getJSON(t, s, "/_emulator/api/hubs/chat/groups", &groups)
	require.Len(t, groups.Items, 1)
	require.ElementsMatch(t, []string{c.id, other.id}, groups.Items[0].Connections)

	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/send", `{"group":"room","target":"toRoom","arguments":[1]}`))
	require.Equal(t, "toRoom", c.nextMessage().Target)
	require.Equal(t, "toRoom", other.nextMessage().Target)

	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/groups/room/remove", `{"connection":"`+c.id+`"}`))
	var page emulator.ConnectionPage
	getJSON(t, s, "/_emulator/api/hubs/chat/connections?group=room", &page)
	require.Len(t, page.Connections, 1)
	require.Equal(t, other.id, page.Connections[0].ID)

	require.Equal(t, http.StatusBadRequest, postJSON(t, s, "/_emulator/api/hubs/chat/send", `{"user":"a","group":"b","target":"x"}`), "two recipients")
	require.Equal(t, http.StatusNotFound, postJSON(t, s, "/_emulator/api/hubs/chat/connections/nope/close", `{}`))

	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/connections/"+c.id+"/close", `{"reason":"from the dashboard"}`))
	m := c.nextMessage()
	require.Equal(t, 7, m.Type, "a Close message")
	require.Equal(t, "from the dashboard", m.Error)
}

func TestControlAPIStreamsEvents(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/_emulator/api/events?hub=chat&kind=rest", nil)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	require.Equal(t, ": connected", lines.Text())

	wantStatus(t, rest(t, s, "POST", "/api/hubs/other/:send", sendBody("ignored", "x")), http.StatusAccepted, "")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("wanted", "x")), http.StatusAccepted, "")
	var got []string
	for lines.Scan() && len(got) < 3 {
		if lines.Text() != "" {
			got = append(got, lines.Text())
		}
	}
	require.Len(t, got, 3)
	require.True(t, strings.HasPrefix(got[0], "id: "), got[0])
	require.Equal(t, "event: rest", got[1])
	var ev emulator.Event
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(got[2], "data: ")), &ev))
	require.Equal(t, "wanted", ev.Target, "the other hub's send is filtered out")
	require.Equal(t, "chat", ev.Hub)
}

// A burst of events (written to the stream in batches) reaches the viewer
// whole, in order, each a complete id/event/data record.
func TestControlAPIStreamsABurstInOrder(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/_emulator/api/events?kind=control", nil)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	require.Equal(t, ": connected", lines.Text())

	const n = 2000
	for i := range n {
		s.Emulator.Publish(emulator.Event{Kind: emulator.EventControl, Route: "burst", Target: "t" + strconv.Itoa(i)})
	}
	var record []string
	for i := 0; i < n; {
		require.True(t, lines.Scan(), "the stream ended after %d events", i)
		if lines.Text() != "" {
			record = append(record, lines.Text())
			continue
		}
		if len(record) == 0 {
			continue // the blank line after ": connected"
		}
		require.Len(t, record, 3, "record %d", i)
		require.True(t, strings.HasPrefix(record[0], "id: "), record[0])
		require.Equal(t, "event: control", record[1])
		var ev emulator.Event
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(record[2], "data: ")), &ev))
		require.Equal(t, "t"+strconv.Itoa(i), ev.Target, "event %d in order", i)
		require.Equal(t, record[0], "id: "+strconv.FormatUint(ev.Seq, 10))
		require.Zero(t, ev.Dropped)
		record = record[:0]
		i++
	}
}

// serveFrom serves one request to e as if it came from remote.
func serveFrom(e *emulator.Emulator, remote, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://emu.example:8888"+path, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

func TestControlAPIAnswersLoopbackOnlyUnlessOpened(t *testing.T) {
	closed, err := emulator.New(&emulator.Options{AccessKey: testKey})
	require.NoError(t, err)
	defer closed.Close()
	require.Equal(t, http.StatusOK, serveFrom(closed, "127.0.0.1:5000", "/_emulator/api/hubs", "").Code)
	require.Equal(t, http.StatusOK, serveFrom(closed, "[::1]:5000", "/_emulator/api/hubs", "").Code)
	forbidden := serveFrom(closed, "192.0.2.7:5000", "/_emulator/api/hubs", "")
	require.Equal(t, http.StatusForbidden, forbidden.Code)
	require.Contains(t, forbidden.Body.String(), "-remote-dashboard")

	open, err := emulator.New(&emulator.Options{AccessKey: testKey, RemoteControl: true})
	require.NoError(t, err)
	defer open.Close()
	require.Equal(t, http.StatusUnauthorized, serveFrom(open, "192.0.2.7:5000", "/_emulator/api/hubs", "").Code)
	good := mint(t, testKey, "http://emu.example:8888/_emulator", jwt.MapClaims{})
	require.Equal(t, http.StatusOK, serveFrom(open, "192.0.2.7:5000", "/_emulator/api/hubs", good).Code)
	restAud := mint(t, testKey, "http://emu.example:8888/api/hubs/chat/:send", jwt.MapClaims{})
	require.Equal(t, http.StatusUnauthorized, serveFrom(open, "192.0.2.7:5000", "/_emulator/api/hubs", restAud).Code, "a token for another audience")
	wrongKey := mint(t, "another-key-0123456789abcdefghijklmnopqrstu", "http://emu.example:8888/_emulator", jwt.MapClaims{})
	denied := serveFrom(open, "192.0.2.7:5000", "/_emulator/api/hubs", wrongKey)
	require.Equal(t, http.StatusUnauthorized, denied.Code)
	require.NotContains(t, denied.Body.String(), testKey)
	require.NotContains(t, denied.Body.String(), wrongKey)
}

func TestDashboardIsServedAtTheRootForLoopbackClients(t *testing.T) {
	s := newServer(t, nil)
	for path, want := range map[string]string{
		"/":                               "text/html",
		"/_emulator/static/dashboard.js":  "text/javascript",
		"/_emulator/static/dashboard.css": "text/css",
	} {
		resp, err := httpClient.Get(s.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), want, path)
	}
	resp, err := httpClient.Get(s.URL + "/_emulator/static/nope.js")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	e := s.Emulator
	require.Equal(t, http.StatusForbidden, serveFrom(e, "192.0.2.7:1", "/", "").Code)
	page := serveFrom(e, "127.0.0.1:1", "/", "")
	require.Contains(t, page.Body.String(), "/_emulator/static/dashboard.js")
	require.NotContains(t, page.Body.String(), testKey, "the page holds no key")
}

// Every JSON body of the control API is bounded in nesting before it is
// decoded, even in a field the route ignores: a body nested one level past
// MaxNestingDepth is refused naming the limit, and nothing is done.
func TestControlAPIBodiesAreBoundedInDepth(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s, "chat", "alice")
	deep := strings.Repeat("[", 101) + strings.Repeat("]", 101)
	for _, call := range []struct{ path, body string }{
		{"/_emulator/api/hubs/chat/send", `{"target":"note","arguments":[],"x":` + deep + `}`},
		{"/_emulator/api/hubs/chat/groups/room/add", `{"connection":"` + c.id + `","x":` + deep + `}`},
		{"/_emulator/api/hubs/chat/groups/room/remove", `{"connection":"` + c.id + `","x":` + deep + `}`},
		{"/_emulator/api/hubs/chat/connections/" + c.id + "/close", `{"reason":"r","x":` + deep + `}`},
		{"/_emulator/api/faults", `{"kind":"rest","status":503,"x":` + deep + `}`},
		{"/_emulator/api/faults", `{"drop":{"hub":"chat","x":` + deep + `}}`},
	} {
		resp, err := httpClient.Post(s.URL+call.path, "application/json", strings.NewReader(call.body))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", call.path, body)
		require.Contains(t, string(body), "MaxNestingDepth", call.path)
	}
	require.Empty(t, s.Emulator.Faults(), "no fault was armed")
	require.Len(t, s.Emulator.Snapshot("chat").Connections, 1, "nothing was dropped or closed")
	require.Empty(t, s.Emulator.Snapshot("chat").Groups, "nobody was added to a group")
	// 100 deep is within the bound.
	ok := strings.Repeat("[", 99) + strings.Repeat("]", 99)
	require.Equal(t, http.StatusNoContent, postJSON(t, s, "/_emulator/api/hubs/chat/send", `{"target":"note","arguments":["deep enough"],"x":`+ok+`}`))
	c.wantInvocation("note", "deep enough")
}
