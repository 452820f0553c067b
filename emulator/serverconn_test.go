package emulator_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/serviceproto"
)

// serviceClient is a raw app-server side of the service protocol: it
// writes hand-written bytes and reads decoded messages.
type serviceClient struct {
	t      testing.TB
	ws     *websocket.Conn
	reader interface {
		Split([]byte) ([][]byte, error)
	}
	pending []serviceproto.Message
}

// serverToken mints a server token the way the SDK does: aud is the
// /server/ URL with the hub query, without the port.
func serverToken(t testing.TB, s *emulator.Server, hub string) string {
	host := strings.TrimPrefix(s.URL, "http://")
	host = host[:strings.LastIndex(host, ":")]
	return mint(t, testKey, "http://"+host+"/server/?hub="+hub, nil)
}

func dialService(t testing.TB, s *emulator.Server, hub, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/server/?hub="+hub+"&cid=test", &websocket.DialOptions{HTTPHeader: h, HTTPClient: httpClient})
	if ws != nil {
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

// openService dials and sends handshake, the raw bytes of a framed
// HandshakeRequest, returning the client and the decoded response.
func openService(t testing.TB, s *emulator.Server, hub, handshake string) (*serviceClient, serviceproto.Message) {
	t.Helper()
	ws, _, err := dialService(t, s, hub, serverToken(t, s, hub))
	require.NoError(t, err)
	c := &serviceClient{t: t, ws: ws, reader: serviceproto.NewReader(1 << 20)}
	c.writeHex(handshake)
	return c, c.next()
}

func (c *serviceClient) writeHex(h string) {
	c.t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	require.NoError(c.t, err)
	c.write(b)
}

func (c *serviceClient) write(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageBinary, b))
}

func (c *serviceClient) send(m serviceproto.Message) {
	c.t.Helper()
	b, err := serviceproto.Encode(&m)
	require.NoError(c.t, err)
	c.write(b)
}

// read returns the next message, pings included, or the read's error.
func (c *serviceClient) read(timeout time.Duration) (serviceproto.Message, error) {
	for len(c.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		typ, frame, err := c.ws.Read(ctx)
		cancel()
		if err != nil {
			return serviceproto.Message{}, err
		}
		require.Equal(c.t, websocket.MessageBinary, typ)
		bodies, err := c.reader.Split(frame)
		require.NoError(c.t, err)
		for _, b := range bodies {
			m, err := serviceproto.Decode(b)
			require.NoError(c.t, err)
			c.pending = append(c.pending, m)
		}
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

func (c *serviceClient) next() serviceproto.Message {
	c.t.Helper()
	m, err := c.read(5 * time.Second)
	require.NoError(c.t, err)
	return m
}

// nextNotPing skips keep-alives.
func (c *serviceClient) nextNotPing() serviceproto.Message {
	c.t.Helper()
	for {
		if m := c.next(); m.Type != serviceproto.TypePing || len(m.Ping) > 0 {
			return m
		}
	}
}

// weakHandshake is [1, 1, 2, "", 0, {}], framed, as the Management SDK
// writes it for a weak connection.
const weakHandshake = "07 96 01 01 02 a0 00 80"

// TestServerHandshake: a token is required; a weak version-1 handshake is
// accepted with a connection id and listed as a server connection; other
// versions and Default connections are refused with a message.
func TestServerHandshake(t *testing.T) {
	s := newServer(t, nil)
	_, resp, err := dialService(t, s, "chat", "")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, resp, err = dialService(t, s, "chat", mint(t, "wrong-key-0123456789abcdefghijklmnopqrstuv", "http://127.0.0.1/server/?hub=chat", nil))
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	c, reply := openService(t, s, "chat", weakHandshake)
	require.Equal(t, serviceproto.TypeHandshakeResponse, reply.Type)
	require.Empty(t, reply.Error)
	require.NotEmpty(t, reply.ConnectionID)
	servers := s.Emulator.ServerConnections("chat")
	require.Len(t, servers, 1)
	require.Equal(t, reply.ConnectionID, servers[0].ID)
	require.Equal(t, "weak", servers[0].Kind)
	_ = c

	_, reply = openService(t, s, "chat", "07 96 01 02 02 a0 00 80") // version 2
	require.Contains(t, reply.Error, "Protocol version not supported")
	_, reply = openService(t, s, "chat", "08 97 01 01 00 a0 00 80 c2") // Default, 7 items
	require.Contains(t, reply.Error, "weak")
}

// TestServerSendsAndAcks drives every message the Management SDK sends in
// persistent mode against a JSON client and checks what the client gets,
// the Acks, and the hub's state.
func TestServerSendsAndAcks(t *testing.T) {
	s := newServer(t, nil)
	alice := connect(t, s, "chat", "alice")
	bob := connect(t, s, "chat", "bob")
	c, _ := openService(t, s, "chat", weakHandshake)
	payload := func(target, arg string) []serviceproto.Payload {
		return []serviceproto.Payload{{Protocol: "json", Data: []byte(`{"type":1,"target":"` + target + `","arguments":["` + arg + `"]}` + "\x1e")}}
	}

	// [10, [], {"json": …}, {}] framed by hand: the broadcast reaches both.
	inv := `{"type":1,"target":"t","arguments":["all"]}` + "\x1e"
	body := "940a9081a46a736f6ec4" + hex.EncodeToString([]byte{byte(len(inv))}) + hex.EncodeToString([]byte(inv)) + "80"
	c.writeHex(hex.EncodeToString([]byte{byte(len(body) / 2)}) + body)
	alice.wantInvocation("t", "all")
	bob.wantInvocation("t", "all")

	c.send(serviceproto.Message{Type: serviceproto.TypeBroadcastData, IDs: []string{bob.id}, Payloads: payload("t", "not bob")})
	alice.wantInvocation("t", "not bob")
	c.send(serviceproto.Message{Type: serviceproto.TypeMultiConnectionData, IDs: []string{bob.id, bob.id}, Payloads: payload("t", "bob once")})
	bob.wantInvocation("t", "bob once")
	c.send(serviceproto.Message{Type: serviceproto.TypeUserData, UserID: "alice", Payloads: payload("t", "to alice")})
	alice.wantInvocation("t", "to alice")
	c.send(serviceproto.Message{Type: serviceproto.TypeMultiUserData, IDs: []string{"alice", "bob"}, Payloads: payload("t", "users")})
	alice.wantInvocation("t", "users")
	bob.wantInvocation("t", "users")

	// [18, conn, "g", 5, {}] by hand: Ack [20, 5, 1, …].
	idHex := hex.EncodeToString([]byte(alice.id))
	join := "95 12 " + hex.EncodeToString([]byte{0xa0 | byte(len(alice.id))}) + idHex + " a1 67 05 80"
	join = strings.ReplaceAll(join, " ", "")
	c.writeHex(hex.EncodeToString([]byte{byte(len(join) / 2)}) + join)
	ack := c.nextNotPing()
	require.Equal(t, serviceproto.Message{Type: serviceproto.TypeAck, AckID: 5, Status: serviceproto.AckOk}, ack)
	require.Equal(t, []string{alice.id}, s.Emulator.Snapshot("chat").Groups["g"])

	c.send(serviceproto.Message{Type: serviceproto.TypeJoinGroupWithAck, ConnectionID: "nobody", Group: "g", AckID: 6})
	require.Equal(t, int32(serviceproto.AckNotFound), c.nextNotPing().Status)

	c.send(serviceproto.Message{Type: serviceproto.TypeGroupBroadcastData, Group: "g", Payloads: payload("t", "group")})
	alice.wantInvocation("t", "group")
	c.send(serviceproto.Message{Type: serviceproto.TypeUserJoinGroupWithAck, UserID: "bob", Group: "h", AckID: 7, Ext: serviceproto.Ext{TTL: 60, HasTTL: true}})
	require.Equal(t, serviceproto.Message{Type: serviceproto.TypeAck, AckID: 7, Status: serviceproto.AckOk}, c.nextNotPing())
	c.send(serviceproto.Message{Type: serviceproto.TypeMultiGroupBroadcastData, IDs: []string{"g", "h"}, Payloads: payload("t", "groups")})
	alice.wantInvocation("t", "groups")
	bob.wantInvocation("t", "groups")
	c.send(serviceproto.Message{Type: serviceproto.TypeGroupBroadcastData, Group: "h", ExcludedUsers: []string{"bob"}, Payloads: payload("t", "none")})

	for _, q := range []struct {
		m    serviceproto.Message
		want int32
	}{
		{serviceproto.Message{Type: serviceproto.TypeCheckUserInGroupWithAck, UserID: "bob", Group: "h"}, serviceproto.AckOk},
		{serviceproto.Message{Type: serviceproto.TypeCheckUserInGroupWithAck, UserID: "alice", Group: "h"}, serviceproto.AckNotFound},
		{serviceproto.Message{Type: serviceproto.TypeCheckGroupExistenceWithAck, Group: "g"}, serviceproto.AckOk},
		{serviceproto.Message{Type: serviceproto.TypeCheckGroupExistenceWithAck, Group: "zzz"}, serviceproto.AckNotFound},
		{serviceproto.Message{Type: serviceproto.TypeCheckConnectionExistenceWithAck, ConnectionID: bob.id}, serviceproto.AckOk},
		{serviceproto.Message{Type: serviceproto.TypeCheckConnectionExistenceWithAck, ConnectionID: "nobody"}, serviceproto.AckNotFound},
		{serviceproto.Message{Type: serviceproto.TypeCheckUserExistenceWithAck, UserID: "alice"}, serviceproto.AckOk},
		{serviceproto.Message{Type: serviceproto.TypeCheckUserExistenceWithAck, UserID: "carol"}, serviceproto.AckNotFound},
		{serviceproto.Message{Type: serviceproto.TypeLeaveGroupWithAck, ConnectionID: alice.id, AllGroups: true}, serviceproto.AckOk},
		{serviceproto.Message{Type: serviceproto.TypeUserLeaveGroupWithAck, UserID: "bob", AllGroups: true}, serviceproto.AckOk},
		{serviceproto.Message{Type: serviceproto.TypeCheckGroupExistenceWithAck, Group: "g"}, serviceproto.AckNotFound},
	} {
		q.m.AckID = 100
		c.send(q.m)
		got := c.nextNotPing()
		require.Equal(t, serviceproto.TypeAck, got.Type)
		require.Equal(t, q.want, got.Status, "%+v", q.m)
	}

	// Client results: the app's invocation id reaches the client, whose
	// Completion comes back as a ClientCompletion.
	c.send(serviceproto.Message{Type: serviceproto.TypeClientInvocation, InvocationID: "app-1", ConnectionID: alice.id, CallerServerID: "srv",
		Payloads: []serviceproto.Payload{{Protocol: "json", Data: []byte(`{"type":1,"invocationId":"app-1","target":"ask","arguments":[]}` + "\x1e")}}})
	m := alice.nextMessage()
	require.Equal(t, "ask", m.Target)
	require.Equal(t, "app-1", m.InvocationID)
	alice.send(`{"type":3,"invocationId":"app-1","result":{"answer":42}}`)
	done := c.nextNotPing()
	require.Equal(t, serviceproto.TypeClientCompletion, done.Type)
	require.Equal(t, "app-1", done.InvocationID)
	require.Equal(t, "json", done.Protocol)
	require.JSONEq(t, `{"type":3,"invocationId":"app-1","result":{"answer":42}}`, strings.TrimSuffix(string(done.Payload), "\x1e"))

	c.send(serviceproto.Message{Type: serviceproto.TypeClientInvocation, InvocationID: "app-2", ConnectionID: "nobody", Payloads: payload("ask", "x")})
	require.Equal(t, serviceproto.TypeErrorCompletion, c.nextNotPing().Type)

	// CloseConnection: bob gets a Close and leaves.
	c.send(serviceproto.Message{Type: serviceproto.TypeCloseConnection, ConnectionID: bob.id, Error: "bye"})
	eventually(t, "bob is gone", func() bool { return len(s.Emulator.Snapshot("chat").Connections) == 1 })
}

// TestServerPings: the emulator sends keep-alives, answers a status ping,
// and drops a connection that stays silent past the idle timeout.
func TestServerPings(t *testing.T) {
	defer emulator.SetServerTimings(20*time.Millisecond, 300*time.Millisecond)()
	s := newServer(t, nil)
	connect(t, s, "chat", "")
	c, _ := openService(t, s, "chat", weakHandshake)
	require.Equal(t, serviceproto.Message{Type: serviceproto.TypePing}, c.next())
	c.writeHex("09 92 03 a6 737461747573") // [3, "status"]
	require.Equal(t, []string{"status", "1"}, c.nextNotPing().Ping)
	for {
		if _, err := c.read(5 * time.Second); err != nil {
			break // closed for silence
		}
	}
	eventually(t, "the server connection is gone", func() bool { return len(s.Emulator.ServerConnections("")) == 0 })
}

// TestServerConnectionsState: a service connection is listed by the Go
// state API, the control API (per hub and for every hub, with its
// counters) and the hub list, and its connect and disconnect are on the
// feed; a hub served by service connections alone is listed too.
func TestServerConnectionsState(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := s.Emulator.Events(ctx, &emulator.EventFilter{Kinds: []emulator.EventKind{emulator.EventServerConnected, emulator.EventServerDisconnected}})

	c, reply := openService(t, s, "lonely", weakHandshake)
	id := reply.ConnectionID
	ev := nextEvent(t, feed)
	require.Equal(t, emulator.EventServerConnected, ev.Kind)
	require.Equal(t, id, ev.Connection)
	require.Equal(t, "lonely", ev.Hub)

	// Two Acks out: the counters count them.
	c.send(serviceproto.Message{Type: serviceproto.TypeCheckUserExistenceWithAck, UserID: "nobody", AckID: 1})
	c.send(serviceproto.Message{Type: serviceproto.TypeCheckGroupExistenceWithAck, Group: "none", AckID: 2})
	require.Equal(t, serviceproto.TypeAck, c.nextNotPing().Type)
	require.Equal(t, serviceproto.TypeAck, c.nextNotPing().Type)

	servers := s.Emulator.ServerConnections("LONELY")
	require.Len(t, servers, 1)
	got := servers[0]
	require.Equal(t, id, got.ID)
	require.Equal(t, "lonely", got.Hub)
	require.Equal(t, int64(2), got.MessagesIn, "the two checks")
	require.GreaterOrEqual(t, got.MessagesOut, int64(2))
	require.Equal(t, int64(2), got.Acks)
	require.Positive(t, got.BytesIn)
	// BytesOut counts once the write has returned, which may be just
	// after the app read the Acks.
	eventually(t, "the Acks' bytes are counted", func() bool { return s.Emulator.ServerConnections("lonely")[0].BytesOut > 0 })
	require.False(t, got.Since.IsZero())
	require.Empty(t, s.Emulator.ServerConnections("other"))

	var perHub, all struct {
		Servers []map[string]any `json:"servers"`
	}
	getJSON(t, s, "/_emulator/api/hubs/lonely/servers", &perHub)
	require.Len(t, perHub.Servers, 1)
	require.Equal(t, id, perHub.Servers[0]["id"])
	require.Equal(t, "weak", perHub.Servers[0]["kind"])
	for _, k := range []string{"hub", "connectedSince", "messagesIn", "messagesOut", "bytesIn", "bytesOut", "acks"} {
		require.Contains(t, perHub.Servers[0], k)
	}
	require.EqualValues(t, 2, perHub.Servers[0]["acks"])
	getJSON(t, s, "/_emulator/api/servers", &all)
	require.Len(t, all.Servers, 1)
	var hubs struct {
		Hubs []emulator.HubInfo `json:"hubs"`
	}
	getJSON(t, s, "/_emulator/api/hubs", &hubs)
	require.Contains(t, hubs.Hubs, emulator.HubInfo{Name: "lonely", Servers: 1})

	require.NoError(t, c.ws.Close(websocket.StatusNormalClosure, "bye"))
	ev = nextEvent(t, feed)
	require.Equal(t, emulator.EventServerDisconnected, ev.Kind)
	require.Equal(t, id, ev.Connection)
	require.NotEmpty(t, ev.Reason)
	require.Empty(t, s.Emulator.ServerConnections(""))
}
