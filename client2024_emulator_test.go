package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// hubConn is a minimal Go SignalR client (JSON protocol over WebSocket):
// it negotiates with a token from the library, completes the handshake,
// and, when answer is set, answers every Invocation that carries an
// invocation id with answer(target, arguments).
type hubConn struct {
	id   string
	ws   *websocket.Conn
	done chan struct{}
}

type answerFunc func(target string, args []json.RawMessage) (result any, errText string)

var wsHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func dialHub(tb testing.TB, cs *signalr.ConnectionString, hub, user string, answer answerFunc) *hubConn {
	tb.Helper()
	c, err := signalr.NewClient(cs, nil)
	require.NoError(tb, err)
	defer c.CloseIdleConnections()
	info, err := c.ConnectionInfo(context.Background(), hub, &signalr.ClientTokenOptions{UserID: user})
	require.NoError(tb, err)
	return dialWithInfo(tb, info, answer)
}

func dialWithInfo(tb testing.TB, info signalr.ConnectionInfo, answer answerFunc) *hubConn {
	tb.Helper()
	base, query, _ := strings.Cut(info.URL, "?")
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/negotiate?"+query+"&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+info.AccessToken)
	resp, err := wsHTTP.Do(req)
	require.NoError(tb, err)
	var n struct{ ConnectionID, ConnectionToken string }
	require.Equal(tb, 200, resp.StatusCode)
	require.NoError(tb, json.NewDecoder(resp.Body).Decode(&n))
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + info.AccessToken}}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(info.URL, "http")+"&id="+url.QueryEscape(n.ConnectionToken), &websocket.DialOptions{HTTPHeader: h, HTTPClient: wsHTTP})
	require.NoError(tb, err)
	require.NoError(tb, ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")))
	_, data, err := ws.Read(ctx)
	require.NoError(tb, err)
	require.Equal(tb, "{}\x1e", string(data))
	c := &hubConn{id: n.ConnectionID, ws: ws, done: make(chan struct{})}
	go c.serve(answer)
	tb.Cleanup(func() {
		_ = ws.CloseNow()
		<-c.done
	})
	return c
}

func (c *hubConn) serve(answer answerFunc) {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		for _, rec := range bytes.Split(bytes.TrimSuffix(data, []byte{0x1e}), []byte{0x1e}) {
			var m struct {
				Type         int
				InvocationID string
				Target       string
				Arguments    []json.RawMessage
			}
			if answer == nil || json.Unmarshal(rec, &m) != nil || m.Type != 1 || m.InvocationID == "" {
				continue
			}
			result, errText := answer(m.Target, m.Arguments)
			completion := map[string]any{"type": 3, "invocationId": m.InvocationID}
			if errText != "" {
				completion["error"] = errText
			} else {
				completion["result"] = result
			}
			out, _ := json.Marshal(completion)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.ws.Write(ctx, websocket.MessageText, append(out, 0x1e))
			cancel()
		}
	}
}

func emulatorClient(t *testing.T, opts *emulator.Options, copts *signalr.ClientOptions) (*emulator.Server, *signalr.ConnectionString, *signalr.Client) {
	t.Helper()
	emu := signalrtest.NewEmulator(t, opts)
	cs, err := signalr.ParseConnectionString(emu.ConnectionString())
	require.NoError(t, err)
	c, err := signalr.NewClient(cs, copts)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return emu, cs, c
}

// TestInvokeThroughEmulator: a Go client's handler answers through the
// emulator; its result, its error, its going away and its silence each come
// back as the documented result or typed error, whatever APIVersion the
// Client is set to.
func TestInvokeThroughEmulator(t *testing.T) {
	t.Parallel()
	_, cs, c := emulatorClient(t, &emulator.Options{InvokeTimeout: 300 * time.Millisecond}, &signalr.ClientOptions{APIVersion: signalr.APIVersion20220601})
	ctx := context.Background()
	conn := dialHub(t, cs, "chat", "u1", func(target string, args []json.RawMessage) (any, string) {
		switch target {
		case "getAnswer":
			return 42, ""
		case "echo":
			var s string
			_ = json.Unmarshal(args[0], &s)
			return map[string]string{"echo": s}, ""
		}
		return nil, "no handler for " + target
	})
	raw, err := c.Invoke(ctx, "chat", conn.id, "getAnswer", nil, nil)
	require.NoError(t, err)
	assert.JSONEq(t, "42", string(raw))
	got, err := signalr.InvokeAs[map[string]string](ctx, c, "chat", conn.id, "echo", []any{"hi 'there'"}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"echo": "hi 'there'"}, got)

	_, err = c.Invoke(ctx, "chat", conn.id, "explode", nil, nil)
	var ie *signalr.InvokeError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, signalr.InvokeClientError, ie.Failure)
	assert.Equal(t, "no handler for explode", ie.Message)

	// Many in flight on one connection, each matched to its own answer.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := signalr.InvokeAs[map[string]string](ctx, c, "chat", conn.id, "echo", []any{fmt.Sprint(i)}, nil)
			assert.NoError(t, err)
			assert.Equal(t, fmt.Sprint(i), got["echo"])
		}()
	}
	wg.Wait()

	silent := dialHub(t, cs, "chat", "u2", nil)
	_, err = c.Invoke(ctx, "chat", silent.id, "getAnswer", nil, nil)
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, signalr.InvokeTimeout, ie.Failure)

	_, err = c.Invoke(ctx, "chat", "nobody", "getAnswer", nil, nil)
	var re *signalr.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 404, re.StatusCode)
	assert.False(t, errors.As(err, &ie))
}

// TestGroupMembersPagingYieldsEachOnce: a group of 100 connections, listed
// 7 per page (15 pages, the last one short), yields each member exactly
// once.
func TestGroupMembersPagingYieldsEachOnce(t *testing.T) {
	t.Parallel()
	emu, cs, c := emulatorClient(t, nil, nil)
	ctx := context.Background()
	want := map[string]string{}
	const members = 100
	for i := range members {
		conn := dialHub(t, cs, "chat", fmt.Sprintf("user%04d", i), nil)
		want[conn.id] = fmt.Sprintf("user%04d", i)
		require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: conn.id, GroupName: "big"}, nil))
	}
	require.Len(t, emu.Emulator.Snapshot("chat").Groups["big"], members)
	seen := map[string]int{}
	for m, err := range c.GroupMembers(ctx, "chat", "big", &signalr.GroupMembersOptions{MaxPageSize: 7}) {
		require.NoError(t, err)
		seen[m.ConnectionID]++
		assert.Equal(t, want[m.ConnectionID], m.UserID)
	}
	assert.Len(t, seen, members)
	for id, n := range seen {
		assert.Equal(t, 1, n, "member %s", id)
	}
	var top []signalr.GroupMember
	for m, err := range c.GroupMembers(ctx, "chat", "big", &signalr.GroupMembersOptions{MaxPageSize: 7, Top: 20}) {
		require.NoError(t, err)
		top = append(top, m)
	}
	assert.Len(t, top, 20)
}

func TestExecuteAndTokensThroughEmulator(t *testing.T) {
	t.Parallel()
	emu, cs, c := emulatorClient(t, nil, nil)
	ctx := context.Background()

	// ClientTokensFromService: the service's token opens a connection.
	minting, err := signalr.NewClient(cs, &signalr.ClientOptions{ClientTokensFromService: true})
	require.NoError(t, err)
	t.Cleanup(minting.CloseIdleConnections)
	info, err := minting.ConnectionInfo(ctx, "Chat", &signalr.ClientTokenOptions{UserID: "o'neil", Lifetime: 90 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, cs.ClientEndpoint()+"/client/?hub=chat", info.URL)
	conn := dialWithInfo(t, info, nil)
	assert.Equal(t, []string{conn.id}, emu.Emulator.Snapshot("chat").Users["o'neil"])

	other := dialHub(t, cs, "chat", "bob", nil)
	require.NoError(t, c.Execute(ctx, "chat", signalr.Or(signalr.Eq(signalr.FilterUserID, "o'neil"), signalr.StartsWith(signalr.FilterUserID, "nobody")),
		[]signalr.Command{signalr.JoinGroupCommand{Group: "quoted"}}, nil))
	snap := emu.Emulator.Snapshot("chat")
	assert.Equal(t, []string{conn.id}, snap.Groups["quoted"])
	require.NoError(t, c.Execute(ctx, "chat", signalr.Not(signalr.InGroup("quoted")), []signalr.Command{signalr.JoinGroupCommand{Group: "rest"}}, nil))
	assert.Equal(t, []string{other.id}, emu.Emulator.Snapshot("chat").Groups["rest"])

	err = c.Execute(ctx, "chat", signalr.RawFilter("userId eq"), []signalr.Command{signalr.JoinGroupCommand{Group: "x"}}, nil)
	var re *signalr.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 400, re.StatusCode)
	assert.Contains(t, re.Message, "at character 10")

	require.NoError(t, c.SendStreamItem(ctx, "chat", conn.id, "1", 5, nil))
	require.NoError(t, c.CompleteStream(ctx, "chat", conn.id, "1", nil))
	err = c.CompleteStream(ctx, "chat", "gone", "1", nil)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 404, re.StatusCode)
}
