package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

const v2024 = "?api-version=2024-12-01"

// invoke posts an :invoke for connection id from a goroutine and returns a
// channel with the response status, error code and body.
type invokeResult struct {
	status int
	code   string
	body   string
}

func invokeAsync(t *testing.T, s *emulator.Server, id, target, arg string) <-chan invokeResult {
	t.Helper()
	path := "/api/hubs/chat/connections/" + url.PathEscape(id) + "/:invoke"
	token := mint(t, testKey, s.URL+path, nil)
	out := make(chan invokeResult, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+path+v2024, strings.NewReader(sendBody(target, arg)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			out <- invokeResult{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		out <- invokeResult{resp.StatusCode, resp.Header.Get("x-ms-error-code"), string(body)}
	}()
	return out
}

func TestInvokeMatchesCompletionsByID(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connect(t, s, "chat", "u1")
	other := connect(t, s, "chat", "u2")
	first := invokeAsync(t, s, c.id, "ask", "one")
	m1 := c.nextMessage()
	second := invokeAsync(t, s, c.id, "ask", "two")
	m2 := c.nextMessage()
	require.Equal(t, 1, m1.Type)
	require.NotEmpty(t, m1.InvocationID)
	require.NotEqual(t, m1.InvocationID, m2.InvocationID)
	assert.JSONEq(t, `"one"`, string(m1.Arguments[0]))
	// A Completion for that id from another connection does not count.
	other.send(`{"type":3,"invocationId":"` + m2.InvocationID + `","result":"forged"}`)
	// Answer out of order.
	c.send(`{"type":3,"invocationId":"`+m2.InvocationID+`","result":{"n":2}}`, `{"type":3,"invocationId":"`+m1.InvocationID+`","result":1}`)
	r2, r1 := <-second, <-first
	assert.Equal(t, invokeResult{200, "", `{"result":{"n":2}}`}, r2)
	assert.Equal(t, invokeResult{200, "", `{"result":1}`}, r1)

	// A Completion without result answers {}.
	third := invokeAsync(t, s, c.id, "ask", "three")
	m3 := c.nextMessage()
	c.send(`{"type":3,"invocationId":"` + m3.InvocationID + `"}`)
	assert.Equal(t, invokeResult{200, "", `{}`}, <-third)
}

func TestInvokeFailures(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{InvokeTimeout: 300 * time.Millisecond})
	t.Run("client error", func(t *testing.T) {
		c := connect(t, s, "chat", "")
		res := invokeAsync(t, s, c.id, "ask", "x")
		m := c.nextMessage()
		c.send(`{"type":3,"invocationId":"` + m.InvocationID + `","error":"handler threw"}`)
		r := <-res
		assert.Equal(t, 500, r.status)
		assert.Equal(t, "Error.Invocation.ClientError", r.code)
		assert.JSONEq(t, `{"code":"Error.Invocation.ClientError","message":"handler threw"}`, r.body)
	})
	t.Run("client closes", func(t *testing.T) {
		c := connect(t, s, "chat", "")
		res := invokeAsync(t, s, c.id, "ask", "x")
		c.nextMessage()
		_ = c.ws.CloseNow()
		r := <-res
		assert.Equal(t, 500, r.status)
		assert.Equal(t, "Error.Invocation.ConnectionClosed", r.code)
	})
	t.Run("timeout", func(t *testing.T) {
		c := connect(t, s, "chat", "")
		res := invokeAsync(t, s, c.id, "ask", "x")
		c.nextMessage()
		r := <-res
		assert.Equal(t, 504, r.status)
		assert.Equal(t, "Error.Invocation.Timeout", r.code)
	})
	t.Run("unknown connection", func(t *testing.T) {
		r := <-invokeAsync(t, s, "nobody", "ask", "x")
		assert.Equal(t, 404, r.status)
		assert.Equal(t, "Error.Connection.NotExisted", r.code)
	})
	t.Run("bad body", func(t *testing.T) {
		wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/connections/x/:invoke"+v2024, `{"arguments":[]}`), 400, "Error.InvalidArgument")
	})
}

// listPage is GroupMemberPagedValues.
type listPage struct {
	Value []struct {
		ConnectionID string `json:"connectionId"`
		UserID       string `json:"userId"`
	} `json:"value"`
	NextLink string `json:"nextLink"`
}

func getPage(t *testing.T, s *emulator.Server, link string) listPage {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	resp := rest(t, s, http.MethodGet, u.RequestURI(), "")
	require.Equal(t, 200, resp.StatusCode)
	var p listPage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	return p
}

// TestGroupPagingUnderConcurrentJoins pages through a group while other
// connections join and leave it: every member that stays is listed exactly
// once, and nextLink is absolute.
func TestGroupPagingUnderConcurrentJoins(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var stable []string
	for i := 0; i < 30; i++ {
		c := connect(t, s, "chat", "u"+strconv.Itoa(i))
		stable = append(stable, c.id)
		wantStatus(t, rest(t, s, http.MethodPut, "/api/hubs/chat/groups/g/connections/"+c.id+v2024, ""), 200, "")
	}
	churn := connect(t, s, "chat", "churn")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		path := "/api/hubs/chat/groups/g/connections/" + churn.id
		token := mint(t, testKey, s.URL+path, nil)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			method := http.MethodPut
			if i%2 == 1 {
				method = http.MethodDelete
			}
			req, _ := http.NewRequest(method, s.URL+path+v2024, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := httpClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	seen := map[string]int{}
	link := s.URL + "/api/hubs/chat/groups/g/connections" + v2024 + "&maxpagesize=4"
	pages := 0
	for link != "" {
		p := getPage(t, s, link)
		pages++
		assert.LessOrEqual(t, len(p.Value), 4)
		for _, m := range p.Value {
			seen[m.ConnectionID]++
		}
		if p.NextLink != "" {
			assert.True(t, strings.HasPrefix(p.NextLink, s.URL+"/api/hubs/chat/groups/g/connections?"), p.NextLink)
		}
		link = p.NextLink
	}
	close(stop)
	wg.Wait()
	for _, id := range stable {
		assert.Equal(t, 1, seen[id], "member %s", id)
	}
	assert.LessOrEqual(t, seen[churn.id], 1)
	assert.GreaterOrEqual(t, pages, 8)

	// top caps the total across pages.
	total := 0
	link = s.URL + "/api/hubs/chat/groups/g/connections" + v2024 + "&maxpagesize=4&top=10"
	for link != "" {
		p := getPage(t, s, link)
		total += len(p.Value)
		link = p.NextLink
	}
	assert.Equal(t, 10, total)

	wantStatus(t, rest(t, s, http.MethodGet, "/api/hubs/chat/groups/g/connections"+v2024+"&maxpagesize=201", ""), 400, "Error.InvalidArgument")
	wantStatus(t, rest(t, s, http.MethodGet, "/api/hubs/chat/groups/g/connections"+v2024+"&continuationToken=%25%25", ""), 400, "Error.InvalidArgument")
	empty := getPage(t, s, s.URL+"/api/hubs/chat/groups/none/connections"+v2024)
	assert.NotNil(t, empty.Value)
	assert.Empty(t, empty.Value)
}

func TestExecute(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	alice := connect(t, s, "chat", "alice")
	bob := connect(t, s, "chat", "bob")
	lst := connect(t, s, "chat", "listener-1")
	path := "/api/hubs/chat/:execute?api-version=2023-07-01&filter="
	wantStatus(t, rest(t, s, http.MethodPost, path+url.QueryEscape("startswith(userId, 'listener-') or userId eq 'alice'"),
		`[{"type":"JoinGroup","group":"g1"},{"type":"SendMessage","message":{"target":"joined","arguments":["g1"]}}]`), 202, "")
	alice.wantInvocation("joined", "g1")
	lst.wantInvocation("joined", "g1")
	// Commands apply in order: the send reaches g1 before the leave.
	wantStatus(t, rest(t, s, http.MethodPost, path+url.QueryEscape("'g1' in groups"),
		`[{"type":"SendMessage","message":{"target":"m","arguments":["in g1"]}},{"type":"LeaveGroup","group":"g1"},{"type":"JoinGroup","group":"g2"}]`), 202, "")
	alice.wantInvocation("m", "in g1")
	lst.wantInvocation("m", "in g1")
	snap := s.Emulator.Snapshot("chat")
	assert.Empty(t, snap.Groups["g1"])
	assert.ElementsMatch(t, []string{alice.id, lst.id}, snap.Groups["g2"])
	// No filter: every connection of the hub.
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:execute?api-version=2023-07-01",
		`[{"type":"SendMessage","message":{"target":"all","arguments":["x"]}}]`), 202, "")
	for _, c := range []*client{alice, bob, lst} {
		c.wantInvocation("all", "x")
	}
	// Close with a reason.
	wantStatus(t, rest(t, s, http.MethodPost, path+url.QueryEscape("userId eq 'bob'"), `[{"type":"CloseConnection","reason":"bye"}]`), 202, "")
	m := bob.nextMessage()
	assert.Equal(t, 7, m.Type)
	assert.Equal(t, "bye", m.Error)

	resp := rest(t, s, http.MethodPost, path+url.QueryEscape("userId eq"), `[{"type":"JoinGroup","group":"g"}]`)
	require.Equal(t, 400, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), "at character 10")
	for _, bad := range []string{`{}`, `[]`, `[{"type":"Dance"}]`, `[{"type":"JoinGroup"}]`, `[{"type":"SendMessage","message":{"arguments":[]}}]`, `[{"type":"CloseConnection","reason":5}]`} {
		wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:execute?api-version=2023-07-01", bad), 400, "Error.InvalidArgument")
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := connect(t, s, "chat", "")
	base := "/api/hubs/chat/connections/" + c.id + "/streams/7/"
	wantStatus(t, rest(t, s, http.MethodPost, base+":send"+v2024, `{"n":1}`), 202, "")
	assert.Equal(t, `{"type":2,"invocationId":"7","item":{"n":1}}`, c.next())
	wantStatus(t, rest(t, s, http.MethodPost, base+":send"+v2024+"&completed=true", `"last"`), 202, "")
	assert.Equal(t, `{"type":2,"invocationId":"7","item":"last"}`, c.next())
	assert.Equal(t, `{"type":3,"invocationId":"7"}`, c.next())
	wantStatus(t, rest(t, s, http.MethodPost, base+":complete"+v2024+"&reason=broke", ""), 202, "")
	assert.Equal(t, `{"type":3,"invocationId":"7","error":"broke"}`, c.next())
	wantStatus(t, rest(t, s, http.MethodPost, base+":send"+v2024, `{not json`), 400, "Error.InvalidArgument")
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/connections/gone/streams/7/:complete"+v2024, ""), 404, "Error.Connection.NotExisted")
	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/connections/"+c.id+"/streams/"+strings.Repeat("x", 101)+"/:complete"+v2024, ""), 400, "Error.InvalidArgument")
}

func TestGenerateTokenIsAcceptedByNegotiate(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	resp := rest(t, s, http.MethodPost, "/api/hubs/Chat/:generateToken?api-version=2023-07-01&userId=carol&minutesToExpire=2", "")
	require.Equal(t, 200, resp.StatusCode)
	var body struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(body.Token, claims, func(*jwt.Token) (any, error) { return []byte(testKey), nil })
	require.NoError(t, err)
	assert.Equal(t, clientURL(s, "chat"), claims["aud"])
	exp, _ := claims.GetExpirationTime()
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), exp.Time, 5*time.Second)
	n := negotiate(t, s, "chat", body.Token, 1)
	ws, _, err := dialRaw(t, s, "chat", "&id="+n.ConnectionToken, body.Token)
	require.NoError(t, err)
	c := &client{t: t, ws: ws, id: n.ConnectionID}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next())
	eventually(t, "carol is connected", func() bool { return len(s.Emulator.Snapshot("chat").Users["carol"]) == 1 })

	wantStatus(t, rest(t, s, http.MethodPost, "/api/hubs/chat/:generateToken?api-version=2023-07-01&minutesToExpire=0", ""), 400, "Error.InvalidArgument")
}

func TestAccessKey(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, path := range []string{"/api/v1/auth/accessKey", "/api/auth/accessKey?api-version=2024-12-01"} {
		wantStatus(t, restWithToken(t, s, http.MethodGet, path, "", ""), 401, "Error.Unauthorized")
		wantStatus(t, restWithToken(t, s, http.MethodGet, path, "", mint(t, "wrong-key-0123456789abcdefghijklmnop", s.URL+strings.Split(path, "?")[0], nil)), 401, "Error.Unauthorized")
	}
	resp := rest(t, s, http.MethodGet, "/api/v1/auth/accessKey", "")
	require.Equal(t, 200, resp.StatusCode)
	var key struct{ KeyId, AccessKey string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&key))
	require.NotEmpty(t, key.KeyId)
	require.NotEmpty(t, key.AccessKey)
	again := rest(t, s, http.MethodGet, "/api/auth/accessKey?api-version=2023-07-01", "")
	var key2 struct{ KeyId, AccessKey string }
	require.NoError(t, json.NewDecoder(again.Body).Decode(&key2))
	assert.Equal(t, key, key2, "both paths hand out the same key")

	sign := func(kid, k string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": clientURL(s, "chat"), "exp": time.Now().Add(time.Hour).Unix(), "asrs.s.uid": "dyn"})
		if kid != "" {
			tok.Header["kid"] = kid
		}
		out, err := tok.SignedString([]byte(k))
		require.NoError(t, err)
		return out
	}
	negotiate(t, s, "chat", sign(key.KeyId, key.AccessKey), 1)
	for _, bad := range []string{sign("", key.AccessKey), sign("other", key.AccessKey), sign(key.KeyId, testKey+"x")} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub=chat&negotiateVersion=1", nil)
		req.Header.Set("Authorization", "Bearer "+bad)
		r, err := httpClient.Do(req)
		require.NoError(t, err)
		r.Body.Close()
		assert.Equal(t, 401, r.StatusCode)
	}
	// REST calls do not take the dynamic key.
	path := "/api/hubs/chat/:send"
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": s.URL + path, "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = key.KeyId
	signed, _ := tok.SignedString([]byte(key.AccessKey))
	wantStatus(t, restWithToken(t, s, http.MethodPost, path+"?api-version=2022-06-01", sendBody("t", "a"), signed), 401, "Error.Unauthorized")
}
