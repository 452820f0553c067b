package signalr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// seen is one request as the fake service received it.
type seen struct {
	Method, Path, Query, Body, ContentType string
	Segments                               []string // decoded path segments
	Audience                               string   // verified token aud
	TokenErr                               error
}

// restRecorder is a fake REST service: it records requests in arrival order
// and answers with respond (default: 202 for POST, 200 otherwise).
type restRecorder struct {
	t       *testing.T
	srv     *httptest.Server
	cs      *ConnectionString
	mu      sync.Mutex
	reqs    []seen
	respond func(n int, r *http.Request, w http.ResponseWriter) // n is the 0-based request count
}

func newRestRecorder(t *testing.T, respond func(n int, r *http.Request, w http.ResponseWriter)) *restRecorder {
	t.Helper()
	rr := &restRecorder{t: t, respond: respond}
	rr.srv = httptest.NewServer(http.HandlerFunc(rr.serve))
	t.Cleanup(rr.srv.Close)
	cs, err := ParseConnectionString("Endpoint=" + rr.srv.URL + ";AccessKey=" + testAccessKey + ";Version=1.0;")
	require.NoError(t, err)
	rr.cs = cs
	return rr
}

func (rr *restRecorder) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, query, _ := strings.Cut(r.RequestURI, "?")
	s := seen{Method: r.Method, Path: path, Query: query, Body: string(body), ContentType: r.Header.Get("Content-Type")}
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		d, err := url.PathUnescape(seg)
		if err != nil {
			d = "!bad escape " + seg
		}
		s.Segments = append(s.Segments, d)
	}
	s.Audience, s.TokenErr = verifyToken(r.Header.Get("Authorization"), "http://"+r.Host+path)
	rr.mu.Lock()
	n := len(rr.reqs)
	rr.reqs = append(rr.reqs, s)
	rr.mu.Unlock()
	if rr.respond != nil {
		rr.respond(n, r, w)
		return
	}
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusAccepted)
	}
}

func (rr *restRecorder) requests() []seen {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]seen(nil), rr.reqs...)
}

// verifyToken checks the bearer token with golang-jwt: HS256 with the
// access key, exp present, aud exactly wantAud.
func verifyToken(header, wantAud string) (string, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", errors.New("no bearer token")
	}
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return []byte(testAccessKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithAudience(wantAud))
	if err != nil {
		return "", err
	}
	aud, _ := tok.Claims.GetAudience()
	exp, _ := tok.Claims.GetExpirationTime()
	if exp.After(time.Now().Add(6 * time.Minute)) {
		return "", errors.New("token lives longer than five minutes")
	}
	return strings.Join(aud, ","), nil
}

func fastRetry() RetryOptions {
	return RetryOptions{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

func TestClientRoutes(t *testing.T) {
	t.Parallel()
	ttl := 90 * time.Second
	type call func(ctx context.Context, c *Client) error
	tests := []struct {
		name         string
		call         call
		method       string
		path, v1Path string // v1Path "" means unsupported in v1
		query        string // extra query, after api-version
		body         string
	}{
		{"broadcast", func(ctx context.Context, c *Client) error {
			return c.SendMessage(ctx, "Chat", Message{Target: "newMessage", Arguments: []any{"hi", 2}}, nil)
		}, "POST", "/api/hubs/chat/:send", "/api/v1/hubs/chat", "", `{"target":"newMessage","arguments":["hi",2]}`},
		{"broadcast excluded", func(ctx context.Context, c *Client) error {
			return c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, Excluded: []string{"c1", "c 2"}}, nil)
		}, "POST", "/api/hubs/chat/:send", "/api/v1/hubs/chat", "excluded=c1&excluded=c%202", `{"target":"t","arguments":[]}`},
		{"send to user", func(ctx context.Context, c *Client) error {
			return c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: []any{nil}, UserID: "u1"}, nil)
		}, "POST", "/api/hubs/chat/users/u1/:send", "/api/v1/hubs/chat/users/u1", "", `{"target":"t","arguments":[null]}`},
		{"send to group", func(ctx context.Context, c *Client) error {
			return c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: []any{}, GroupName: "g1", Excluded: []string{"c1"}}, nil)
		}, "POST", "/api/hubs/chat/groups/g1/:send", "/api/v1/hubs/chat/groups/g1", "excluded=c1", `{"target":"t","arguments":[]}`},
		{"send to connection", func(ctx context.Context, c *Client) error {
			return c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: []any{map[string]int{"a": 1}}, ConnectionID: "c1"}, nil)
		}, "POST", "/api/hubs/chat/connections/c1/:send", "/api/v1/hubs/chat/connections/c1", "", `{"target":"t","arguments":[{"a":1}]}`},
		{"send message to group", func(ctx context.Context, c *Client) error {
			return c.SendMessage(ctx, "chat", Message{Target: "t", GroupName: "g1", Excluded: []string{"x"}}, nil)
		}, "POST", "/api/hubs/chat/groups/g1/:send", "/api/v1/hubs/chat/groups/g1", "excluded=x", `{"target":"t","arguments":[]}`},
		{"close all", func(ctx context.Context, c *Client) error {
			return c.CloseAllConnections(ctx, "chat", &BulkCloseOptions{Excluded: []string{"c1"}, Reason: "bye now"})
		}, "POST", "/api/hubs/chat/:closeConnections", "", "excluded=c1&reason=bye%20now", ""},
		{"close group", func(ctx context.Context, c *Client) error {
			return c.CloseGroupConnections(ctx, "chat", "g1", nil)
		}, "POST", "/api/hubs/chat/groups/g1/:closeConnections", "", "", ""},
		{"close user", func(ctx context.Context, c *Client) error {
			return c.CloseUserConnections(ctx, "chat", "u1", &BulkCloseOptions{Reason: "r"})
		}, "POST", "/api/hubs/chat/users/u1/:closeConnections", "", "reason=r", ""},
		{"close connection", func(ctx context.Context, c *Client) error {
			return c.CloseConnection(ctx, "chat", "c1", &CloseConnectionOptions{Reason: "kicked"})
		}, "DELETE", "/api/hubs/chat/connections/c1", "/api/v1/hubs/chat/connections/c1", "reason=kicked", ""},
		{"connection exists", func(ctx context.Context, c *Client) error {
			return exists(c.ConnectionExists(ctx, "chat", "c1", nil))
		}, "HEAD", "/api/hubs/chat/connections/c1", "/api/v1/hubs/chat/connections/c1", "", ""},
		{"group exists", func(ctx context.Context, c *Client) error {
			return exists(c.GroupExists(ctx, "chat", "g1", nil))
		}, "HEAD", "/api/hubs/chat/groups/g1", "/api/v1/hubs/chat/groups/g1", "", ""},
		{"user exists", func(ctx context.Context, c *Client) error {
			return exists(c.UserExists(ctx, "chat", "u1", nil))
		}, "HEAD", "/api/hubs/chat/users/u1", "/api/v1/hubs/chat/users/u1", "", ""},
		{"user in group", func(ctx context.Context, c *Client) error {
			return exists(c.UserInGroup(ctx, "chat", "g1", "u1", nil))
		}, "HEAD", "/api/hubs/chat/users/u1/groups/g1", "/api/v1/hubs/chat/groups/g1/users/u1", "", ""},
		{"add connection to group", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, ConnectionID: "c1", GroupName: "g1"}, nil)
		}, "PUT", "/api/hubs/chat/groups/g1/connections/c1", "/api/v1/hubs/chat/groups/g1/connections/c1", "", ""},
		{"remove connection from group", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, ConnectionID: "c1", GroupName: "g1"}, nil)
		}, "DELETE", "/api/hubs/chat/groups/g1/connections/c1", "/api/v1/hubs/chat/groups/g1/connections/c1", "", ""},
		{"remove connection from all groups", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, ConnectionID: "c1"}, nil)
		}, "DELETE", "/api/hubs/chat/connections/c1/groups", "", "", ""},
		{"add user to group", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u1", GroupName: "g1"}, nil)
		}, "PUT", "/api/hubs/chat/users/u1/groups/g1", "/api/v1/hubs/chat/groups/g1/users/u1", "", ""},
		{"add user to group with ttl", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u1", GroupName: "g1", TTL: ttl}, nil)
		}, "PUT", "/api/hubs/chat/users/u1/groups/g1", "/api/v1/hubs/chat/groups/g1/users/u1", "ttl=90", ""},
		{"remove user from group", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, UserID: "u1", GroupName: "g1"}, nil)
		}, "DELETE", "/api/hubs/chat/users/u1/groups/g1", "/api/v1/hubs/chat/groups/g1/users/u1", "", ""},
		{"remove user from all groups", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, UserID: "u1"}, nil)
		}, "DELETE", "/api/hubs/chat/users/u1/groups", "/api/v1/hubs/chat/users/u1/groups", "", ""},
		{"group action add user ttl", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u1", GroupName: "g1", TTL: time.Minute}, nil)
		}, "PUT", "/api/hubs/chat/users/u1/groups/g1", "/api/v1/hubs/chat/groups/g1/users/u1", "ttl=60", ""},
		{"group action add connection", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: "ADD", ConnectionID: "c1", GroupName: "g1"}, nil)
		}, "PUT", "/api/hubs/chat/groups/g1/connections/c1", "/api/v1/hubs/chat/groups/g1/connections/c1", "", ""},
		{"group action remove user", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, UserID: "u1", GroupName: "g1"}, nil)
		}, "DELETE", "/api/hubs/chat/users/u1/groups/g1", "/api/v1/hubs/chat/groups/g1/users/u1", "", ""},
		{"group action remove connection", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, ConnectionID: "c1", GroupName: "g1"}, nil)
		}, "DELETE", "/api/hubs/chat/groups/g1/connections/c1", "/api/v1/hubs/chat/groups/g1/connections/c1", "", ""},
		{"group action removeAll user", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, UserID: "u1"}, nil)
		}, "DELETE", "/api/hubs/chat/users/u1/groups", "/api/v1/hubs/chat/users/u1/groups", "", ""},
		{"group action removeAll connection", func(ctx context.Context, c *Client) error {
			return c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, ConnectionID: "c1"}, nil)
		}, "DELETE", "/api/hubs/chat/connections/c1/groups", "", "", ""},
		{"health", func(ctx context.Context, c *Client) error {
			ok, err := c.Healthy(ctx, nil)
			if err == nil && !ok {
				err = errors.New("not healthy")
			}
			return err
		}, "HEAD", "/api/health", "/api/v1/health", "", ""},
	}
	for _, version := range []APIVersion{APIVersion20220601, APIVersionV1} {
		for _, tt := range tests {
			t.Run(string(version)+"/"+tt.name, func(t *testing.T) {
				rr := newRestRecorder(t, nil)
				c := mustClient(t, rr.cs, &ClientOptions{APIVersion: version})
				defer c.CloseIdleConnections()
				err := tt.call(context.Background(), c)
				wantPath, wantQuery := tt.path, tt.query
				if version == APIVersionV1 {
					wantPath = tt.v1Path
					if wantPath == "" {
						require.ErrorIs(t, err, ErrUnsupportedOperation)
						assert.Empty(t, rr.requests(), "nothing may be sent")
						return
					}
				} else {
					wantQuery = "api-version=2022-06-01"
					if tt.query != "" {
						wantQuery += "&" + tt.query
					}
				}
				require.NoError(t, err)
				reqs := rr.requests()
				require.Len(t, reqs, 1)
				got := reqs[0]
				assert.Equal(t, tt.method, got.Method)
				assert.Equal(t, wantPath, got.Path)
				assert.Equal(t, wantQuery, got.Query)
				assert.Equal(t, tt.body, got.Body)
				if tt.body != "" {
					assert.Equal(t, "application/json; charset=utf-8", got.ContentType)
				}
				require.NoError(t, got.TokenErr)
				assert.Equal(t, rr.srv.URL+wantPath, got.Audience, "aud is the request URL without query")
			})
		}
	}
}

func exists(ok bool, err error) error {
	if err == nil && !ok {
		return errors.New("exists returned false on 200")
	}
	return err
}

func TestEscapeSegmentLikeEscapeDataString(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"plain-._~AZaz09": "plain-._~AZaz09",
		"a/../b?c#d%":     "a%2F..%2Fb%3Fc%23d%25",
		"with space":      "with%20space",
		"a+b":             "a%2Bb",
		"!$&'()*,;=:@":    "%21%24%26%27%28%29%2A%2C%3B%3D%3A%40",
		"ünï":             "%C3%BC%6E%C3%AF"[0:6] + "n%C3%AF",
		"😀":               "%F0%9F%98%80",
		"[]{}|\\^`\"<>":   "%5B%5D%7B%7D%7C%5C%5E%60%22%3C%3E",
		"..":              "%2E%2E",
		".":               "%2E",
		"...":             "...",
		"":                "",
	}
	for in, want := range tests {
		assert.Equal(t, want, string(appendSegment(nil, in)), "escape %q", in)
	}
}

func TestClientHostileIDs(t *testing.T) {
	t.Parallel()
	ids := []string{
		"a/../b?c#d%", "with space", "a+b", "ünïcødé", "😀 emoji", "..", ".", "%2F", "semi;colon=eq&amp",
		"tab\there", "日本語のユーザー", "Ω≈ç√", "back\\slash", "q?x=1#frag",
	}
	rr := newRestRecorder(t, nil)
	c := mustClient(t, rr.cs, nil)
	defer c.CloseIdleConnections()
	ctx := context.Background()
	for _, id := range ids {
		require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, UserID: id}, nil), id)
		require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, GroupName: id}, nil), id)
		require.NoError(t, c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: id, GroupName: id}, nil), id)
		require.NoError(t, c.CloseConnection(ctx, "chat", id, &CloseConnectionOptions{Reason: id}), id)
	}
	reqs := rr.requests()
	require.Len(t, reqs, 4*len(ids))
	for i, id := range ids {
		r := reqs[4*i : 4*i+4]
		assert.Equal(t, []string{"api", "hubs", "chat", "users", id, ":send"}, r[0].Segments, "send to user %q", id)
		assert.Equal(t, []string{"api", "hubs", "chat", "groups", id, ":send"}, r[1].Segments, "send to group %q", id)
		assert.Equal(t, []string{"api", "hubs", "chat", "users", id, "groups", id}, r[2].Segments, "add user to group %q", id)
		assert.Equal(t, []string{"api", "hubs", "chat", "connections", id}, r[3].Segments, "close connection %q", id)
		q, err := url.ParseQuery(r[3].Query)
		require.NoError(t, err)
		assert.Equal(t, id, q.Get("reason"))
		for _, s := range r {
			assert.NoError(t, s.TokenErr, "token for %q", id)
		}
	}
}

func TestClientArgumentErrors(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, nil)
	c := mustClient(t, rr.cs, nil)
	defer c.CloseIdleConnections()
	ctx := context.Background()
	neg := -time.Second
	halfSecond := 500 * time.Millisecond
	tests := []struct {
		name     string
		err      error
		sentinel error
		field    string
	}{
		{"bad hub", c.SendMessage(ctx, "1chat", Message{Target: "t", Arguments: nil}, nil), ErrInvalidHubName, "hub name"},
		{"empty target", c.SendMessage(ctx, "chat", Message{Target: "", Arguments: nil}, nil), ErrInvalidMessage, "target"},
		{"empty user", c.CloseUserConnections(ctx, "chat", "", nil), ErrInvalidArgument, "user id"},
		{"empty connection", c.CloseConnection(ctx, "chat", "", nil), ErrInvalidArgument, "connection id"},
		{"blank group", c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, GroupName: " "}, nil), ErrInvalidGroupName, "group name"},
		{"unencodable args", c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: []any{make(chan int)}}, nil), ErrInvalidMessage, "arguments"},
		{"empty excluded", c.CloseAllConnections(ctx, "chat", &BulkCloseOptions{Excluded: []string{""}}), ErrInvalidArgument, "excluded[0]"},
		{"negative ttl", c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: neg}, nil), ErrInvalidGroupAction, "ttl"},
		{"sub-second ttl", c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: halfSecond}, nil), ErrInvalidGroupAction, "less than one second"},
		{"group action", c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u"}, nil), ErrInvalidGroupAction, "groupName"},
		{"bad message", c.SendMessage(ctx, "chat", Message{Target: "t", UserID: "u", ConnectionID: "c"}, nil), ErrInvalidMessage, "userId and connectionId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.err, tt.sentinel)
			assert.Contains(t, tt.err.Error(), tt.field)
		})
	}
	assert.Empty(t, rr.requests(), "invalid calls must not reach the service")
}

func TestClientExpected404s(t *testing.T) {
	t.Parallel()
	code := ""
	rr := newRestRecorder(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		if code != "" {
			w.Header().Set("x-ms-error-code", code)
		}
		w.WriteHeader(http.StatusNotFound)
	})
	c := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry()})
	defer c.CloseIdleConnections()
	ctx := context.Background()

	type check struct {
		name string
		code string
		call func() (bool, error)
	}
	for _, tt := range []check{
		{"connection", restapi.CodeConnectionNotExistedWarning, func() (bool, error) { return c.ConnectionExists(ctx, "chat", "c", nil) }},
		{"group", restapi.CodeGroupNotExisted, func() (bool, error) { return c.GroupExists(ctx, "chat", "g", nil) }},
		{"user", restapi.CodeUserNotExisted, func() (bool, error) { return c.UserExists(ctx, "chat", "u", nil) }},
		{"user in group", restapi.CodeUserNotInGroup, func() (bool, error) { return c.UserInGroup(ctx, "chat", "g", "u", nil) }},
	} {
		code = tt.code
		ok, err := tt.call()
		assert.NoError(t, err, tt.name)
		assert.False(t, ok, tt.name)

		code = "Warning.Something.Else"
		_, err = tt.call()
		var re *ResponseError
		require.ErrorAs(t, err, &re, tt.name)
		assert.Equal(t, http.StatusNotFound, re.StatusCode)
		assert.Equal(t, "Warning.Something.Else", re.ErrorCode)
	}

	code = restapi.CodeConnectionNotExistedError
	assert.NoError(t, c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, ConnectionID: "gone", GroupName: "g"}, nil), "adding a vanished connection is not an error")
	code = restapi.CodeConnectionNotExistedWarning
	assert.NoError(t, c.CloseConnection(ctx, "chat", "gone", nil), "closing a vanished connection is not an error")
	code = restapi.CodeConnectionNotExistedError
	assert.NoError(t, c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, ConnectionID: "gone", GroupName: "g"}, nil), "a vanished connection is out of every group already")
	code = restapi.CodeConnectionNotExistedWarning
	assert.Error(t, c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, ConnectionID: "gone", GroupName: "g"}, nil), "a 404 with another code is an error")
	code = ""
	assert.Error(t, c.CloseConnection(ctx, "chat", "gone", nil), "a 404 without a code is an error")
	assert.Error(t, c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: "g"}, nil))
}

func TestResponseError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 2000)
	var tokenSeen string
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		switch n {
		case 0:
			w.Header().Set("x-ms-error-code", "Error.Bad.Thing")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"code":"Body.Code","message":"the group is bad"}`)
		case 1:
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"code":"Body.Code","message":"no"}`)
		case 2:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, long)
		default:
			tokenSeen = r.Header.Get("Authorization")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "you sent "+tokenSeen)
		}
	})
	c := mustClient(t, rr.cs, nil)
	defer c.CloseIdleConnections()
	ctx := context.Background()

	var re *ResponseError
	err := c.SendMessage(ctx, "Chat", Message{Target: "t", Arguments: nil, UserID: "u"}, nil)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, &ResponseError{Method: "POST", URL: rr.srv.URL + "/api/hubs/chat/users/u/:send", StatusCode: 400, ErrorCode: "Error.Bad.Thing", Message: "the group is bad"}, re)
	assert.Equal(t, "signalr: POST "+rr.srv.URL+"/api/hubs/chat/users/u/:send: 400 Bad Request (Error.Bad.Thing): the group is bad", err.Error())

	require.ErrorAs(t, c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, UserID: "u"}, nil), &re)
	assert.Equal(t, "Body.Code", re.ErrorCode, "code from the body when there is no header")

	require.ErrorAs(t, c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, UserID: "u"}, nil), &re)
	assert.Len(t, re.Message, maxErrorMessageLength+len("…"))

	err = c.SendMessage(ctx, "chat", Message{Target: "t", Arguments: nil, UserID: "u"}, nil)
	require.ErrorAs(t, err, &re)
	tok := strings.TrimPrefix(tokenSeen, "Bearer ")
	require.NotEmpty(t, tok)
	assert.NotContains(t, err.Error(), tok)
	assert.Contains(t, err.Error(), "[token]")
}

func TestClientPrintsNoSecrets(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, nil)
	c := mustClient(t, rr.cs, nil)
	defer c.CloseIdleConnections()
	require.NoError(t, c.SendMessage(context.Background(), "chat", Message{Target: "t", Arguments: nil}, nil))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, c)
		assert.NotContains(t, out, testAccessKey, format)
		assert.NotContains(t, out, "Bearer", format)
		assert.Contains(t, out, rr.srv.URL, format)
	}
	out, err := NewOutput(c, "chat", nil)
	require.NoError(t, err)
	assert.NotContains(t, fmt.Sprintf("%+v", out), "Bearer")
}

// A token is minted per request URL and reused for it: two sends to one
// user carry the same token, a send to another user another one.
func TestClientReusesTokenPerURL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	cs, err := ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + testAccessKey)
	require.NoError(t, err)
	c := mustClient(t, cs, nil)
	defer c.CloseIdleConnections()
	ctx := context.Background()
	for _, user := range []string{"u1", "u1", "u2"} {
		require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t", UserID: user}, nil))
	}
	require.Len(t, auth, 3)
	assert.Equal(t, auth[0], auth[1], "the token for one URL is reused")
	assert.NotEqual(t, auth[0], auth[2], "another URL gets its own token")
	for _, format := range []string{"%v", "%+v", "%#v"} {
		assert.NotContains(t, fmt.Sprintf(format, c), strings.TrimPrefix(auth[0], "Bearer "))
	}
}

// mustClient is NewClient for tests.
func mustClient(t testing.TB, cs *ConnectionString, opts *ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(cs, opts)
	require.NoError(t, err)
	return c
}

// A ClientTrace the caller put in the context still hears about its own
// request, and only its own: the Client's pooled traces never carry it on.
func TestClientKeepsCallersClientTrace(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, nil)
	c, err := NewClient(rr.cs, nil)
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	var wrote sync.WaitGroup
	var calls atomic.Int32
	wrote.Add(1)
	traced := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			if calls.Add(1) == 1 {
				wrote.Done()
			}
		},
	})
	msg := Message{Target: "t", Arguments: []any{"x"}}
	require.NoError(t, c.SendMessage(traced, "chat", msg, nil))
	wrote.Wait()
	for range 5 {
		require.NoError(t, c.SendMessage(context.Background(), "chat", msg, nil))
	}
	assert.Equal(t, int32(1), calls.Load(), "the caller's trace saw only its request")
	assert.Len(t, rr.requests(), 6)
}
