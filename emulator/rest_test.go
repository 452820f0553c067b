package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRESTRoutesAnswerWithTheSpecStatusCodes calls every route of swagger
// V20220601.json (under /api) and v1.json (under /api/v1) against a hub
// where user alice has one connection, {conn}, which is in group members.
func TestRESTRoutesAnswerWithTheSpecStatusCodes(t *testing.T) {
	t.Parallel()
	body := sendBody("newMessage", "hi")
	type routeCase struct {
		method, path, body string
		status             int
		code               string
	}
	v2022 := []routeCase{
		{"HEAD", "/api/health", "", 200, ""},
		{"GET", "/api/health?api-version=2022-06-01", "", 200, ""},
		{"POST", "/api/hubs/chat/:send?api-version=2022-06-01", body, 202, ""},
		{"POST", "/api/hubs/chat/:send?excluded={conn}&excluded=other", body, 202, ""},
		{"POST", "/api/hubs/chat/users/alice/:send", body, 202, ""},
		{"POST", "/api/hubs/chat/users/nobody/:send", body, 202, ""},
		{"POST", "/api/hubs/chat/connections/{conn}/:send", body, 202, ""},
		{"POST", "/api/hubs/chat/groups/members/:send?excluded=x", body, 202, ""},
		{"POST", "/api/hubs/chat/:closeConnections?excluded={conn}&reason=bye", "", 204, ""},
		{"POST", "/api/hubs/chat/groups/members/:closeConnections", "", 204, ""},
		{"POST", "/api/hubs/chat/users/alice/:closeConnections?reason=bye", "", 204, ""},
		{"DELETE", "/api/hubs/chat/connections/{conn}?reason=bye", "", 200, ""},
		{"HEAD", "/api/hubs/chat/connections/{conn}", "", 200, ""},
		{"HEAD", "/api/hubs/chat/connections/unknown", "", 404, "Warning.Connection.NotExisted"},
		{"GET", "/api/hubs/chat/connections/unknown", "", 404, "Warning.Connection.NotExisted"},
		{"HEAD", "/api/hubs/chat/groups/members", "", 200, ""},
		{"HEAD", "/api/hubs/chat/groups/empty", "", 404, "Warning.Group.NotExisted"},
		{"HEAD", "/api/hubs/chat/users/alice", "", 200, ""},
		{"GET", "/api/hubs/chat/users/bob", "", 404, "Warning.User.NotExisted"},
		{"HEAD", "/api/hubs/chat/users/alice/groups/members", "", 200, ""},
		{"GET", "/api/hubs/chat/users/alice/groups/members", "", 200, ""},
		{"HEAD", "/api/hubs/chat/users/alice/groups/other", "", 404, "Info.User.NotInGroup"},
		{"PUT", "/api/hubs/chat/groups/other/connections/{conn}", "", 200, ""},
		{"PUT", "/api/hubs/chat/groups/other/connections/unknown", "", 404, "Error.Connection.NotExisted"},
		{"DELETE", "/api/hubs/chat/groups/members/connections/{conn}", "", 200, ""},
		{"DELETE", "/api/hubs/chat/groups/other/connections/{conn}", "", 200, ""},
		{"DELETE", "/api/hubs/chat/groups/members/connections/unknown", "", 404, "Error.Connection.NotExisted"},
		{"DELETE", "/api/hubs/chat/connections/{conn}/groups", "", 200, ""},
		{"PUT", "/api/hubs/chat/users/alice/groups/other", "", 200, ""},
		{"PUT", "/api/hubs/chat/users/alice/groups/other?ttl=60", "", 200, ""},
		{"PUT", "/api/hubs/chat/users/offline/groups/other?ttl=0", "", 200, ""},
		{"DELETE", "/api/hubs/chat/users/alice/groups/members", "", 204, ""},
		{"DELETE", "/api/hubs/chat/users/alice/groups", "", 204, ""},
		// Routes the Azure emulator also accepts.
		{"POST", "/api/hubs/chat", body, 202, ""},
		{"PUT", "/api/hubs/chat/connections/{conn}/groups/other", "", 200, ""},
		{"HEAD", "/api/hubs/chat/groups/members/users/alice", "", 200, ""},
		{"POST", "/api/hubs/chat/:send?application=app", body, 202, ""},
	}
	v1 := []routeCase{
		{"HEAD", "/api/v1/health", "", 200, ""},
		{"GET", "/api/v1/health", "", 200, ""},
		{"POST", "/api/v1/hubs/chat", body, 202, ""},
		{"POST", "/api/v1/hubs/chat?excluded={conn}", body, 202, ""},
		{"POST", "/api/v1/hubs/chat/users/alice", body, 202, ""},
		{"POST", "/api/v1/hubs/chat/connections/{conn}", body, 202, ""},
		{"GET", "/api/v1/hubs/chat/connections/{conn}", "", 200, ""},
		{"HEAD", "/api/v1/hubs/chat/connections/unknown", "", 404, "Warning.Connection.NotExisted"},
		{"DELETE", "/api/v1/hubs/chat/connections/{conn}?reason=bye", "", 202, ""},
		{"POST", "/api/v1/hubs/chat/groups/members", body, 202, ""},
		{"GET", "/api/v1/hubs/chat/groups/members", "", 200, ""},
		{"HEAD", "/api/v1/hubs/chat/groups/empty", "", 404, "Warning.Group.NotExisted"},
		{"GET", "/api/v1/hubs/chat/users/alice", "", 200, ""},
		{"HEAD", "/api/v1/hubs/chat/users/bob", "", 404, "Warning.User.NotExisted"},
		{"PUT", "/api/v1/hubs/chat/groups/other/connections/{conn}", "", 200, ""},
		{"PUT", "/api/v1/hubs/chat/groups/other/connections/unknown", "", 404, "Error.Connection.NotExisted"},
		{"DELETE", "/api/v1/hubs/chat/groups/members/connections/{conn}", "", 200, ""},
		{"DELETE", "/api/v1/hubs/chat/groups/other/connections/{conn}", "", 200, ""},
		{"GET", "/api/v1/hubs/chat/groups/members/users/alice", "", 200, ""},
		{"HEAD", "/api/v1/hubs/chat/groups/other/users/alice", "", 404, "Info.User.NotInGroup"},
		{"PUT", "/api/v1/hubs/chat/groups/other/users/alice?ttl=5", "", 202, ""},
		{"DELETE", "/api/v1/hubs/chat/groups/members/users/alice", "", 202, ""},
		{"DELETE", "/api/v1/hubs/chat/users/alice/groups", "", 200, ""},
	}
	errors := []routeCase{
		{"POST", "/api/hubs/chat/:send", `{"arguments":[1]}`, 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/chat/:send", `{"target":""}`, 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/chat/:send", `{"target":"x","arguments":{"a":1}}`, 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/chat/:send", `not json`, 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/chat/:send", ``, 400, "Error.InvalidArgument"},
		{"POST", "/api/v1/hubs/chat", `{}`, 400, "Error.InvalidArgument"},
		{"PUT", "/api/v1/hubs/chat/groups/%20/connections/{conn}", "", 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/1chat/:send", body, 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/ch%24t/:send", body, 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/chat/:send?application=_app", body, 400, "Error.InvalidArgument"},
		{"PUT", "/api/hubs/chat/groups/%20%20/connections/{conn}", "", 400, "Error.InvalidArgument"},
		{"PUT", "/api/hubs/chat/users/alice/groups/other?ttl=-1", "", 400, "Error.InvalidArgument"},
		{"PUT", "/api/hubs/chat/users/alice/groups/other?ttl=soon", "", 400, "Error.InvalidArgument"},
		{"POST", "/api/hubs/chat/users//:send", body, 400, "Error.InvalidArgument"},
		{"GET", "/api/hubs/chat/nothing/here", "", 404, "Error.NotFound"},
		{"PATCH", "/api/hubs/chat/users/alice", "", 405, "Error.MethodNotAllowed"},
		{"POST", "/api/health", "", 405, "Error.MethodNotAllowed"},
	}
	run := func(t *testing.T, cases []routeCase) {
		for _, tc := range cases {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				s := newServer(t, nil)
				alice := connect(t, s, "chat", "alice")
				wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/groups/members/connections/"+alice.id, ""), 200, "")
				path := strings.ReplaceAll(tc.path, "{conn}", url.PathEscape(alice.id))
				resp := rest(t, s, tc.method, path, tc.body)
				wantStatus(t, resp, tc.status, tc.code)
				if tc.status >= 400 {
					wantErrorBody(t, resp, tc.code)
				}
			})
		}
	}
	t.Run("2022-06-01", func(t *testing.T) { run(t, v2022) })
	t.Run("v1", func(t *testing.T) { run(t, v1) })
	t.Run("errors", func(t *testing.T) { run(t, errors) })
}

func TestSendsReachExactlyTheirTargets(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	alice := connect(t, s, "Chat", "alice")
	bob := connect(t, s, "chat", "bob")
	bob2 := connect(t, s, "CHAT", "bob")
	anon := connect(t, s, "chat", "")
	all := []*client{alice, bob, bob2, anon}

	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/groups/g/connections/"+alice.id, ""), 200, "")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/groups/g/connections/"+bob.id, ""), 200, "")

	// Each step sends one message to some clients, then a marker to all;
	// a client not targeted must see the marker next.
	steps := []struct {
		path string
		want []*client
	}{
		{"/api/hubs/chat/:send", all},
		{"/api/hubs/chat/:send?excluded=" + bob.id + "&excluded=" + anon.id, []*client{alice, bob2}},
		{"/api/hubs/chat/users/bob/:send", []*client{bob, bob2}},
		{"/api/hubs/chat/users/Bob/:send", nil}, // user ids are case-sensitive
		{"/api/hubs/chat/connections/" + anon.id + "/:send", []*client{anon}},
		{"/api/hubs/chat/groups/g/:send", []*client{alice, bob}},
		{"/api/hubs/chat/groups/G/:send", nil}, // group names are case-sensitive
		{"/api/hubs/chat/groups/g/:send?excluded=" + alice.id, []*client{bob}},
		{"/api/hubs/other/:send", nil},
		{"/api/v1/hubs/CHAT/groups/g", []*client{alice, bob}},
	}
	for i, step := range steps {
		wantStatus(t, rest(t, s, "POST", step.path, sendBody("step", step.path)), 202, "")
		wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("marker", itoa(i))), 202, "")
		for _, c := range all {
			if slices.Contains(step.want, c) {
				c.wantInvocation("step", step.path)
			}
			c.wantInvocation("marker", itoa(i))
		}
	}
}

func TestSendBodyPropertyNamesAreCaseInsensitive(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connect(t, s, "chat", "")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", `{"Target":"newMessage","Arguments":["pascal"]}`), 202, "")
	c.wantInvocation("newMessage", "pascal")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", `{"target":"noArgs"}`), 202, "")
	m := c.nextMessage()
	assert.Equal(t, "noArgs", m.Target)
	assert.NotNil(t, m.Arguments, "an empty arguments array, not none")
	assert.Empty(t, m.Arguments)
}

func TestUserGroupMembershipAppliesToLaterConnections(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/carol/groups/vip", ""), 200, "")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/dave/groups/vip?ttl=0", ""), 200, "")
	carol := connect(t, s, "chat", "carol")
	dave := connect(t, s, "chat", "dave")

	snap := s.Emulator.Snapshot("chat")
	assert.Equal(t, []string{carol.id}, snap.Groups["vip"], "only carol's connection (ttl=0 applies only to connected users)")
	assert.Equal(t, []string{"vip"}, snap.UserGroups["carol"])
	wantStatus(t, rest(t, s, "HEAD", "/api/hubs/chat/users/carol/groups/vip", ""), 200, "")
	wantStatus(t, rest(t, s, "HEAD", "/api/hubs/chat/users/dave/groups/vip", ""), 404, "Info.User.NotInGroup")

	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/groups/vip/:send", sendBody("m", "vip")), 202, "")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "all")), 202, "")
	carol.wantInvocation("m", "vip")
	carol.wantInvocation("m", "all")
	dave.wantInvocation("m", "all")

	// ttl=0 with dave connected adds his current connection.
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/dave/groups/vip?ttl=0", ""), 200, "")
	assert.Len(t, s.Emulator.Snapshot("chat").Groups["vip"], 2, "carol and dave")
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/users/carol/groups/vip", ""), 204, "")
	snap = s.Emulator.Snapshot("chat")
	assert.Equal(t, []string{dave.id}, snap.Groups["vip"], "after removing carol")
	assert.Empty(t, snap.UserGroups, "after removing carol")
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/users/dave/groups", ""), 204, "")
	assert.Empty(t, s.Emulator.Snapshot("chat").Groups, "groups after removing dave from all")
}

func TestUserGroupMembershipExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	erin := connect(t, s, "chat", "erin")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/erin/groups/brief?ttl=1", ""), 200, "")
	require.Equal(t, []string{erin.id}, s.Emulator.Snapshot("chat").Groups["brief"])
	eventually(t, "the ttl=1 membership expires", func() bool {
		return len(s.Emulator.Snapshot("chat").Groups["brief"]) == 0
	})
	wantStatus(t, rest(t, s, "HEAD", "/api/hubs/chat/groups/brief", ""), 404, "Warning.Group.NotExisted")
	wantStatus(t, rest(t, s, "HEAD", "/api/hubs/chat/users/erin/groups/brief", ""), 404, "Info.User.NotInGroup")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/groups/brief/:send", sendBody("m", "late")), 202, "")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "all")), 202, "")
	erin.wantInvocation("m", "all")
	// A later connection of erin does not join an expired group either.
	connect(t, s, "chat", "erin")
	assert.Empty(t, s.Emulator.Snapshot("chat").Groups["brief"], "members after expiry")
}

func TestHostileIDsMapToExactlyOneRoute(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	hostile := []string{"a/../b?c#d%", "..", ":send", "groups", "sp ace+plus", "ünï/cødé", "%2F"}
	for _, user := range hostile {
		t.Run(user, func(t *testing.T) {
			c := connect(t, s, "chat", user)
			escaped := url.PathEscape(user)
			wantStatus(t, rest(t, s, "HEAD", "/api/hubs/chat/users/"+escaped, ""), 200, "")
			wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/"+escaped+"/groups/"+escaped, ""), 200, "")
			require.Equal(t, []string{c.id}, s.Emulator.Snapshot("chat").Groups[user])
			wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/users/"+escaped+"/:send", sendBody("m", user)), 202, "")
			c.wantInvocation("m", user)
			wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/groups/"+escaped+"/:send", sendBody("g", user)), 202, "")
			c.wantInvocation("g", user)
			wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/users/"+escaped+"/groups", ""), 204, "")
			wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/users/"+escaped+"/:closeConnections", ""), 204, "")
			assert.Equal(t, 7, c.nextMessage().Type, "a Close")
		})
	}
}

func TestCloseConnectionsSendTheReason(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	stay := connect(t, s, "chat", "stay")
	leave := connect(t, s, "chat", "leave")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:closeConnections?excluded="+stay.id+"&reason=maintenance", ""), 204, "")
	m := leave.nextMessage()
	assert.Equal(t, 7, m.Type, "a Close")
	assert.Equal(t, "maintenance", m.Error)
	assert.True(t, m.AllowReconnect)
	_, err := leave.read(5 * time.Second)
	require.Error(t, err, "the socket stayed open after the Close message")
	eventually(t, "the closed connection leaves the hub", func() bool {
		snap := s.Emulator.Snapshot("chat")
		_, gone := snap.Connection(leave.id)
		return !gone && len(snap.Connections) == 1
	})
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/chat/connections/"+stay.id, ""), 200, "")
	m = stay.nextMessage()
	assert.Equal(t, 7, m.Type, "a Close")
	assert.Empty(t, m.Error)
}

func TestRESTErrorsAreJSON(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	resp := rest(t, s, "POST", "/api/hubs/chat/:send", `{"arguments":[]}`)
	wantStatus(t, resp, 400, "Error.InvalidArgument")
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	b, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(b), "target", "the body says what is wrong")
	// The token must not leak into the error.
	token := mint(t, "wrong key", s.URL+"/api/hubs/chat/:send", jwt.MapClaims{})
	resp = restWithToken(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "x"), token)
	b, _ = io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.NotContains(t, string(b), token)
	assert.NotContains(t, string(b), testKey)
}

// wantErrorBody checks an error response's body against the swagger of its
// API version: HEAD and an operation's 404 have none (no schema is listed),
// v1's 400 is text/plain, and the rest are JSON {code, message}.
func wantErrorBody(t *testing.T, resp *http.Response, code string) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	v1 := strings.HasPrefix(resp.Request.URL.Path, "/api/v1/")
	switch {
	case resp.Request.Method == http.MethodHead, resp.StatusCode == http.StatusNotFound && code != "Error.NotFound":
		assert.Empty(t, body, "no schema is listed, so no body")
		assert.Empty(t, resp.Header.Get("Content-Type"))
	case v1 && resp.StatusCode == http.StatusBadRequest:
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.NotEmpty(t, body, "the text says what is wrong")
	default:
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var e struct{ Code, Message string }
		require.NoError(t, json.Unmarshal(body, &e), "body %s", body)
		assert.Equal(t, code, e.Code)
		assert.NotEmpty(t, e.Message)
	}
}

// TestRESTTokenAudiencePathIsExact: scheme and host of a REST token's aud
// compare in any case, the path exactly, because ids are case-sensitive.
func TestRESTTokenAudiencePathIsExact(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, tc := range []struct {
		aud, path string
		status    int
	}{
		{"/api/hubs/chat/users/alice", "/api/hubs/chat/users/ALICE", 401},
		{"/api/hubs/chat/groups/g1", "/api/hubs/chat/groups/G1", 401},
		{"/api/hubs/chat/users/alice", "/api/hubs/chat/users/alice", 404},
	} {
		token := mint(t, testKey, s.URL+tc.aud, nil)
		resp := restWithToken(t, s, "GET", tc.path, "", token)
		assert.Equal(t, tc.status, resp.StatusCode, "token for %s used on %s", tc.aud, tc.path)
	}
	upper := "HTTP://" + strings.ToUpper(strings.TrimPrefix(s.URL, "http://"))
	token := mint(t, testKey, upper+"/api/hubs/chat/users/alice", nil)
	resp := restWithToken(t, s, "GET", "/api/hubs/chat/users/alice", "", token)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "scheme and host compare in any case")
}

// TestRESTRejectsIDsThatAreNotUTF8: a token carries ids as JSON strings,
// which cannot hold such bytes, so the id could never be reached.
func TestRESTRejectsIDsThatAreNotUTF8(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/api/hubs/chat/users/%FF/:send", sendBody("m", "x"), "user id"},
		{"PUT", "/api/hubs/chat/users/%C3%28/groups/g", "", "user id"},
		{"PUT", "/api/hubs/chat/groups/%FF%FE/connections/c", "", "group name"},
		{"POST", "/api/hubs/chat/connections/%80/:send", sendBody("m", "x"), "connection id"},
		{"POST", "/api/hubs/chat/:send?excluded=%FF", sendBody("m", "x"), "excluded"},
		{"POST", "/api/v1/hubs/chat/users/%FF", sendBody("m", "x"), "user id"},
	} {
		resp := rest(t, s, tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, "Error.InvalidArgument", resp.Header.Get("x-ms-error-code"))
		body, _ := io.ReadAll(resp.Body)
		assert.Contains(t, string(body), tc.field)
		assert.Contains(t, string(body), "UTF-8")
	}
	assert.Empty(t, s.Emulator.Snapshot("chat").UserGroups, "nothing was stored")
}

// TestRESTAnswers503OnceShutdownBegins: a send accepted while connections
// close could never be delivered, so the REST API says the service is
// unavailable instead of 202.
func TestRESTAnswers503OnceShutdownBegins(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	alice := connect(t, s, "chat", "alice")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/:send", sendBody("m", "x")), 202, "")
	alice.wantInvocation("m", "x")
	done := make(chan error, 1)
	go func() { done <- s.Emulator.Shutdown(context.Background()) }()
	// alice has her Close message but does not answer the close handshake,
	// so her connection is still closing while the REST calls arrive.
	require.Equal(t, 7, alice.nextMessage().Type)
	assert.True(t, connected(s, alice.id), "alice's connection is still closing")
	for _, path := range []string{"/api/hubs/chat/:send", "/api/v1/hubs/chat/users/alice"} {
		resp := rest(t, s, "POST", path, sendBody("m", "x"))
		wantStatus(t, resp, http.StatusServiceUnavailable, "Error.ServiceUnavailable")
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	}
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	req, err := http.NewRequest("POST", s.URL+"/client/negotiate?hub=chat", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "negotiate during shutdown")
	require.NoError(t, <-done)
}

// TestUserGroupsWithoutTTLKeepTheLatest100: as the service documents, only
// a user's latest 100 memberships without a ttl are kept, which bounds
// what a user who never connects holds.
func TestUserGroupsWithoutTTLKeepTheLatest100(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for i := range 130 {
		wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/ghost/groups/g"+itoa(i), ""), 200, "")
	}
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/ghost/groups/timed?ttl=60", ""), 200, "")
	groups := s.Emulator.Snapshot("chat").UserGroups["ghost"]
	assert.Len(t, groups, 101, "the latest 100 without ttl, and the one with a ttl")
	assert.Contains(t, groups, "g129")
	assert.Contains(t, groups, "g30")
	assert.NotContains(t, groups, "g29")
	assert.Contains(t, groups, "timed")
}

// TestEmptyHubsAreDropped: a hub with no connection, no user membership and
// no pending token is forgotten, so hub names used once do not stay in
// memory for the emulator's lifetime.
func TestEmptyHubsAreDropped(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connect(t, s, "short", "amy")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/lived/users/bo/groups/g", ""), 200, "")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/timed/users/cy/groups/g?ttl=1", ""), 200, "")
	assert.ElementsMatch(t, []string{"short", "lived", "timed"}, s.Emulator.HubNames())

	c.send(`{"type":7}`)
	c.wantClosed()
	wantStatus(t, rest(t, s, "DELETE", "/api/hubs/lived/users/bo/groups", ""), 204, "")
	s.Emulator.SetSweepInterval(0)
	require.Eventually(t, func() bool {
		// Any request may sweep; this one also drops the expired ttl.
		rest(t, s, "GET", "/api/hubs/other/users/x", "")
		return len(s.Emulator.HubNames()) == 0
	}, 5*time.Second, 50*time.Millisecond, "an empty hub was kept")
}
