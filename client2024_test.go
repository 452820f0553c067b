package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterRendering(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, ""},
		{Eq(FilterUserID, "o'neil"), "userId eq 'o''neil'"},
		{Ne(FilterConnectionID, "c1"), "connectionId ne 'c1'"},
		{In(FilterUserID, "a", "b'"), "userId in ('a', 'b''')"},
		{InGroup("it's"), "'it''s' in groups"},
		{StartsWith(FilterUserID, "listener-"), "startswith(userId, 'listener-')"},
		{And(Eq(FilterUserID, "a"), Or(InGroup("g1"), InGroup("g2"))), "userId eq 'a' and ('g1' in groups or 'g2' in groups)"},
		{Not(Or(InGroup("g1"), Eq(FilterUserID, "a"))), "not ('g1' in groups or userId eq 'a')"},
		{And(Filter{}, Or(InGroup("g"), InGroup("h"))), "'g' in groups or 'h' in groups"},
		{Or(RawFilter("userId eq 'x' and connectionId eq 'y'"), InGroup("g")), "(userId eq 'x' and connectionId eq 'y') or 'g' in groups"},
	} {
		require.NoError(t, tt.f.Err())
		assert.Equal(t, tt.want, tt.f.String())
	}
	for _, bad := range []Filter{Eq("groups", "x"), In(FilterUserID), Not(Filter{}), And(InGroup("g"), StartsWith("nope", "p")),
		Eq(FilterUserID, "a\xff"), InGroup("\xfe"), In(FilterConnectionID, "ok", "\xff"), RawFilter("userId eq '\xff'")} {
		assert.ErrorIs(t, bad.Err(), ErrInvalidArgument, "%q", bad.String())
	}
}

func TestNewOperationsNeedADatedVersion(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, nil)
	c := mustClient(t, rr.cs, &ClientOptions{APIVersion: APIVersionV1})
	ctx := context.Background()
	_, err := c.Invoke(ctx, "chat", "c", "t", nil, nil)
	assert.ErrorIs(t, err, ErrUnsupportedOperation)
	assert.ErrorContains(t, err, "2024-12-01")
	err = c.Execute(ctx, "chat", Filter{}, []Command{JoinGroupCommand{"g"}}, nil)
	assert.ErrorIs(t, err, ErrUnsupportedOperation)
	_, err = c.generateClientToken(ctx, "chat", "", 0)
	assert.ErrorIs(t, err, ErrUnsupportedOperation)
	assert.Empty(t, rr.requests())
}

func TestExecuteBody(t *testing.T) {
	t.Parallel()
	rr := newRestRecorder(t, nil)
	c := mustClient(t, rr.cs, nil)
	err := c.Execute(context.Background(), "Chat", StartsWith(FilterUserID, "a b"), []Command{
		JoinGroupCommand{"g1"}, SendMessageCommand{Target: "notify", Arguments: []any{"hi"}}, LeaveGroupCommand{"g0"}, CloseConnectionCommand{"done"}, CloseConnectionCommand{},
	}, nil)
	require.NoError(t, err)
	reqs := rr.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/api/hubs/chat/:execute", reqs[0].Path)
	assert.Equal(t, "api-version=2023-07-01&filter=startswith%28userId%2C%20%27a%20b%27%29", reqs[0].Query)
	assert.JSONEq(t, `[{"type":"JoinGroup","group":"g1"},{"type":"SendMessage","message":{"target":"notify","arguments":["hi"]}},
		{"type":"LeaveGroup","group":"g0"},{"type":"CloseConnection","reason":"done"},{"type":"CloseConnection"}]`, reqs[0].Body)
	require.NoError(t, reqs[0].TokenErr)

	assert.ErrorIs(t, c.Execute(context.Background(), "chat", Filter{}, nil, nil), ErrInvalidArgument)
	assert.ErrorIs(t, c.Execute(context.Background(), "chat", Filter{}, []Command{JoinGroupCommand{""}}, nil), ErrInvalidGroupName)
	assert.ErrorIs(t, c.Execute(context.Background(), "chat", Filter{}, []Command{SendMessageCommand{}}, nil), ErrInvalidArgument)
	assert.Len(t, rr.requests(), 1, "invalid calls send nothing")
}

func TestInvokeErrorsAreTypedAndNotRetried(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status  int
		code    string
		failure InvokeFailure
	}{
		{500, "Error.Invocation.ClientError", InvokeClientError},
		{500, "Error.Invocation.ConnectionClosed", InvokeConnectionClosed},
		{504, "Error.Invocation.Timeout", InvokeTimeout},
		{404, "Error.Connection.NotExisted", ""},
		{503, "Error.ServiceUnavailable", ""},
	} {
		t.Run(tt.code, func(t *testing.T) {
			rr := newRestRecorder(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
				w.Header().Set("x-ms-error-code", tt.code)
				w.WriteHeader(tt.status)
				_, _ = fmt.Fprintf(w, `{"code":%q,"message":"handler said no"}`, tt.code)
			})
			c := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry()})
			_, err := c.Invoke(context.Background(), "chat", "c1", "getAnswer", nil, nil)
			require.Error(t, err)
			assert.Len(t, rr.requests(), 1, "an invocation is never retried")
			var ie *InvokeError
			var re *ResponseError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.status, re.StatusCode)
			if tt.failure == "" {
				assert.False(t, errors.As(err, &ie))
				assert.NotErrorIs(t, err, ErrInvokeFailed)
				return
			}
			require.ErrorAs(t, err, &ie)
			assert.ErrorIs(t, err, ErrInvokeFailed)
			assert.Equal(t, tt.failure, ie.Failure)
			assert.Equal(t, "handler said no", ie.Message)
		})
	}
	t.Run("transport", func(t *testing.T) {
		rr := newRestRecorder(t, nil)
		c := mustClient(t, rr.cs, &ClientOptions{Retry: fastRetry()})
		rr.srv.Close()
		_, err := c.Invoke(context.Background(), "chat", "c1", "getAnswer", nil, nil)
		require.Error(t, err)
		var ie *InvokeError
		var re *ResponseError
		assert.False(t, errors.As(err, &ie))
		assert.False(t, errors.As(err, &re))
	})
	t.Run("result", func(t *testing.T) {
		rr := newRestRecorder(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"result":{"answer":42}}`))
		})
		c := mustClient(t, rr.cs, nil)
		got, err := InvokeAs[struct{ Answer int }](context.Background(), c, "chat", "c1", "getAnswer", []any{"q"}, nil)
		require.NoError(t, err)
		assert.Equal(t, 42, got.Answer)
		reqs := rr.requests()
		assert.Equal(t, "/api/hubs/chat/connections/c1/:invoke", reqs[0].Path)
		assert.Equal(t, "api-version=2024-12-01", reqs[0].Query)
		assert.JSONEq(t, `{"target":"getAnswer","arguments":["q"]}`, reqs[0].Body)
	})
}

// TestGroupMembersFollowsNextLink pages through a fake service and checks
// the Client follows nextLink as given, stops at Top, stops when the loop
// stops, and refuses a nextLink to another host.
func TestGroupMembersFollowsNextLink(t *testing.T) {
	t.Parallel()
	var base string
	rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) {
		start, _ := strconv.Atoi(r.URL.Query().Get("continuationToken"))
		page := groupMembersPage{}
		for i := start; i < start+3 && i < 10; i++ {
			page.Value = append(page.Value, GroupMember{ConnectionID: "c" + strconv.Itoa(i)})
		}
		if start+3 < 10 {
			page.NextLink = base + r.URL.Path + "?api-version=2024-12-01&continuationToken=" + strconv.Itoa(start+3)
		}
		_ = json.NewEncoder(w).Encode(page)
	})
	base = rr.srv.URL
	c := mustClient(t, rr.cs, nil)
	ctx := context.Background()
	all, err := c.listGroupMembers(ctx, "chat", "g", &GroupMembersOptions{MaxPageSize: 3})
	require.NoError(t, err)
	require.Len(t, all, 10)
	assert.Equal(t, "c9", all[9].ConnectionID)
	reqs := rr.requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, "api-version=2024-12-01&maxpagesize=3", reqs[0].Query)
	assert.Equal(t, "api-version=2024-12-01&continuationToken=3", reqs[1].Query)
	for _, r := range reqs {
		assert.NoError(t, r.TokenErr)
	}

	top, err := c.listGroupMembers(ctx, "chat", "g", &GroupMembersOptions{Top: 4})
	require.NoError(t, err)
	assert.Len(t, top, 4)
	assert.Len(t, rr.requests(), 6, "Top 4 needs two pages of 3")

	for range c.GroupMembers(ctx, "chat", "g", nil) {
		break
	}
	assert.Len(t, rr.requests(), 7, "stopping early sends nothing more")

	_, err = c.listGroupMembers(ctx, "chat", "g", &GroupMembersOptions{MaxPageSize: 201})
	assert.ErrorIs(t, err, ErrInvalidArgument)

	for _, other := range []string{"http://other.example", "https://" + strings.TrimPrefix(rr.srv.URL, "http://"), "http://user@" + strings.TrimPrefix(rr.srv.URL, "http://")} {
		base = other
		_, err = c.listGroupMembers(ctx, "chat", "g", nil)
		assert.ErrorContains(t, err, "refusing to send the token elsewhere", other)
	}
	// The same origin written differently is followed.
	base = strings.Replace(rr.srv.URL, "127.0.0.1", "127.0.0.1", 1)
	all, err = c.listGroupMembers(ctx, "chat", "g", nil)
	require.NoError(t, err)
	assert.Len(t, all, 10)

	var nilCmd *JoinGroupCommand
	assert.ErrorIs(t, c.Execute(ctx, "chat", Filter{}, []Command{nilCmd}, nil), ErrInvalidArgument)
}

func TestSameOriginNormalizesDefaultPorts(t *testing.T) {
	t.Parallel()
	cs, err := ParseConnectionString("Endpoint=https://x.service.signalr.net;AccessKey=" + testAccessKey + ";Version=1.0;")
	require.NoError(t, err)
	c := mustClient(t, cs, nil)
	aud, raw, err := c.sameOrigin("https://X.service.signalr.net:443/api/hubs/h/groups/g%2F1/connections?continuationToken=a&api-version=2024-12-01")
	require.NoError(t, err)
	assert.Equal(t, c.base+"/api/hubs/h/groups/g%2F1/connections", aud)
	assert.Equal(t, aud+"?continuationToken=a&api-version=2024-12-01", raw)
	for _, bad := range []string{"http://x.service.signalr.net/api/x", "https://x.service.signalr.net:8443/api/x", "https://evil.net/api/x", "/api/x", "https://x.service.signalr.net/api/x#f"} {
		_, _, err := c.sameOrigin(bad)
		assert.Error(t, err, bad)
	}
}
