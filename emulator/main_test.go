package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/funcsignalr/signalr/emulator"
)

// TestMain fails the run if any goroutine outlives the tests: every
// connection and server must clean up after itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "test-access-key-0123456789abcdefghijklmnopq"

// httpClient keeps no idle connections, so no client goroutine lingers.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// shortCloseTimeout is the CloseTimeout of the test servers: the clients
// of most tests never answer the close handshake, so a short goodbye keeps
// them from waiting out the 2s default.
const shortCloseTimeout = 250 * time.Millisecond

// newServer starts an emulator with testKey and the given options, closed
// at the end of the test.
func newServer(t testing.TB, opts *emulator.Options) *emulator.Server {
	t.Helper()
	if opts == nil {
		opts = &emulator.Options{}
	}
	if opts.AccessKey == "" {
		opts.AccessKey = testKey
	}
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = shortCloseTimeout
	}
	s := emulator.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// mint signs claims with key (HS256) adding aud and an exp an hour away,
// unless claims set them.
func mint(t testing.TB, key, aud string, claims jwt.MapClaims) string {
	t.Helper()
	all := jwt.MapClaims{"aud": aud, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	for k, v := range claims {
		if v == nil {
			delete(all, k)
		} else {
			all[k] = v
		}
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, all).SignedString([]byte(key))
	require.NoError(t, err)
	return token
}

// clientURL is the URL client tokens are minted for.
func clientURL(s *emulator.Server, hub string) string {
	return s.URL + "/client/?hub=" + strings.ToLower(hub)
}

// rest calls the REST API at escapedPath (below s.URL, optionally with a
// query) with a valid server token whose aud is the URL without the query.
func rest(t testing.TB, s *emulator.Server, method, escapedPath, body string) *http.Response {
	t.Helper()
	base, _, _ := strings.Cut(escapedPath, "?")
	return restWithToken(t, s, method, escapedPath, body, mint(t, testKey, s.URL+base, nil))
}

func restWithToken(t testing.TB, s *emulator.Server, method, escapedPath, body, token string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+escapedPath, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// wantStatus fails the test unless resp has status (and, if code is set,
// that x-ms-error-code).
func wantStatus(t testing.TB, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, status, resp.StatusCode, "%s %s: body %s", resp.Request.Method, resp.Request.URL.Path, body)
	}
	require.Equal(t, code, resp.Header.Get("x-ms-error-code"), "%s %s: x-ms-error-code", resp.Request.Method, resp.Request.URL.Path)
}

// negotiateResponse is what negotiate returns.
type negotiateResponse struct {
	ConnectionID        string `json:"connectionId"`
	ConnectionToken     string `json:"connectionToken"`
	NegotiateVersion    int    `json:"negotiateVersion"`
	AvailableTransports []struct {
		Transport       string   `json:"transport"`
		TransferFormats []string `json:"transferFormats"`
	} `json:"availableTransports"`
}

func negotiate(t testing.TB, s *emulator.Server, hub, token string, version int) negotiateResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub="+hub+"&negotiateVersion="+itoa(version), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, "negotiate: %s", body)
	}
	var n negotiateResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&n))
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }

// client is a raw WebSocket hub protocol client.
type client struct {
	t       testing.TB
	ws      *websocket.Conn
	id      string
	pending [][]byte
}

// dialRaw opens the WebSocket at /client/?hub=hub plus query, without the
// handshake.
func dialRaw(t testing.TB, s *emulator.Server, hub, query, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/client/?hub=" + url.QueryEscape(hub) + query
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: httpClient})
	if ws != nil {
		ws.SetReadLimit(-1)
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

// connect negotiates as user (no user when empty), opens the WebSocket and
// completes the handshake.
func connect(t testing.TB, s *emulator.Server, hub, user string) *client {
	t.Helper()
	claims := jwt.MapClaims{}
	if user != "" {
		claims["asrs.s.uid"] = user
	}
	token := mint(t, testKey, clientURL(s, hub), claims)
	n := negotiate(t, s, hub, token, 1)
	ws, _, err := dialRaw(t, s, hub, "&id="+n.ConnectionToken, token)
	require.NoError(t, err, "dial")
	c := &client{t: t, ws: ws, id: n.ConnectionID}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next(), "handshake response")
	return c
}

// send writes records, each followed by the record separator, in one frame.
func (c *client) send(records ...string) {
	c.t.Helper()
	var b bytes.Buffer
	for _, r := range records {
		b.WriteString(r)
		b.WriteByte(0x1e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, b.Bytes()), "write")
}

// next returns the next record from the server, pings included.
func (c *client) next() string {
	c.t.Helper()
	record, err := c.read(5 * time.Second)
	require.NoError(c.t, err, "read")
	return record
}

// read returns the next record, or the error that ended the connection.
func (c *client) read(timeout time.Duration) (string, error) {
	for len(c.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		typ, data, err := c.ws.Read(ctx)
		cancel()
		if err != nil {
			return "", err
		}
		require.Equal(c.t, websocket.MessageText, typ, "JSON hub protocol frames must be text")
		require.True(c.t, len(data) > 0 && data[len(data)-1] == 0x1e, "frame %q does not end with the record separator", data)
		c.pending = append(c.pending, bytes.Split(data[:len(data)-1], []byte{0x1e})...)
	}
	r := c.pending[0]
	c.pending = c.pending[1:]
	return string(r), nil
}

// message is a decoded server record.
type message struct {
	Type           int               `json:"type"`
	Target         string            `json:"target"`
	Arguments      []json.RawMessage `json:"arguments"`
	InvocationID   string            `json:"invocationId"`
	Error          string            `json:"error"`
	AllowReconnect bool              `json:"allowReconnect"`
}

// nextMessage returns the next record that is not a ping.
func (c *client) nextMessage() message {
	c.t.Helper()
	for {
		r := c.next()
		var m message
		require.NoError(c.t, json.Unmarshal([]byte(r), &m), "record %q", r)
		if m.Type != 6 {
			return m
		}
	}
}

// wantInvocation reads the next message and checks it is target with the
// single string argument arg.
func (c *client) wantInvocation(target, arg string) {
	c.t.Helper()
	m := c.nextMessage()
	want, _ := json.Marshal(arg)
	require.Equal(c.t, 1, m.Type, "got %+v, want an invocation", m)
	require.Equal(c.t, target, m.Target)
	require.Len(c.t, m.Arguments, 1)
	require.JSONEq(c.t, string(want), string(m.Arguments[0]))
}

// sendBody is a REST send body with one string argument.
func sendBody(target, arg string) string {
	b, _ := json.Marshal(map[string]any{"target": target, "arguments": []string{arg}})
	return string(b)
}

// eventually polls cond until it holds or five seconds pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond, "timed out waiting until %s", what)
}

// smallBufferListener shrinks the send buffer of each connection the
// emulator accepts. With loopback autotuning the kernel buffers up to 4 MiB
// between the emulator and a client that stopped reading; with 4 KiB each
// way, a few hundred KiB fill them, so the tests of clients that stop
// reading need a tenth of the data to reach the state they test.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// newSmallBufferServer is newServer on a smallBufferListener.
func newSmallBufferServer(t *testing.T, opts *emulator.Options) *emulator.Server {
	t.Helper()
	opts.AccessKey = testKey
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = shortCloseTimeout
	}
	e, err := emulator.New(opts)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := emulator.Serve(smallBufferListener{l}, e)
	t.Cleanup(s.Close)
	return s
}
