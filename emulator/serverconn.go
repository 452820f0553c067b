package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/serviceproto"
	"github.com/funcsignalr/signalr/internal/validate"
)

// The server-connection kinds of Event.
const (
	// EventServerConnected: an app server's service connection (the
	// service protocol at /server/) finished its handshake; Connection is
	// its id, Transport "service".
	EventServerConnected EventKind = "serverConnected"
	// EventServerDisconnected: a service connection ended; Reason says why.
	EventServerDisconnected EventKind = "serverDisconnected"
	// EventService: a message arrived on a service connection. Method
	// names it (BroadcastData, JoinGroupWithAck, …), Route is
	// "server:<service connection id>", Target the hub method of a send,
	// Status the Ack status answered (1 Ok, 2 NotFound) when it has one.
	EventService EventKind = "service"
)

// Timings of service connections, as the SDK expects them: it sends a
// keep-alive after 5s of silence and drops a connection that heard nothing
// for 30s; the handshake must finish within 15s.
var (
	serverKeepAlive        = 5 * time.Second
	serverIdleTimeout      = 30 * time.Second
	serverHandshakeTimeout = 15 * time.Second
	serverWriteTimeout     = 10 * time.Second
)

// serverQueueLength bounds the messages (Acks, completions, pings) waiting
// to be written to one service connection: an app that stops reading is
// disconnected rather than buffered for.
const serverQueueLength = 4096

// serverConns is the emulator's registry of service connections, for the
// state API and Shutdown.
type serverConns struct {
	mu   sync.Mutex
	byID map[string]*serverConn
	next atomic.Uint64
}

// serverConn is one app server's service connection. The handler's
// goroutine reads and dispatches; writeLoop is its only writer.
type serverConn struct {
	e        *Emulator
	ws       *websocket.Conn
	id       string
	hubName  string
	serverID string
	since    time.Time
	connType int

	out  chan []byte
	done chan struct{} // closed when the connection ends
	stop sync.Once
	why  atomic.Pointer[string]

	invocations sync.WaitGroup
	messagesIn  atomic.Int64
	bytesIn     atomic.Int64
	messagesOut atomic.Int64
	bytesOut    atomic.Int64
	acks        atomic.Int64
}

// ServerConnectionInfo describes one service connection (an app server's
// connection over the service protocol, /server/?hub=) for the state API:
// Emulator.ServerConnections, the control API's GET /_emulator/api/servers
// and /hubs/{hub}/servers, and the dashboard.
type ServerConnectionInfo struct {
	// ID is the service connection's id, the one its HandshakeResponse
	// carried and its feed events name (Connection, Route "server:<id>").
	ID string `json:"id"`
	// Hub is the hub the connection serves (lowercased).
	Hub string `json:"hub"`
	// ServerID is the app server's id (X-ASRS-Server-Id), if it sent one.
	ServerID string `json:"serverId,omitempty"`
	// Kind is "weak" (send-only, the Management SDK's persistent mode),
	// "default" or "ondemand", as its HandshakeRequest said.
	Kind string `json:"kind"`
	// Since is when its handshake finished.
	Since time.Time `json:"connectedSince"`
	// MessagesIn and BytesIn count the service-protocol messages and the
	// bytes the app server sent on it after the handshake, pings included.
	MessagesIn int64 `json:"messagesIn"`
	BytesIn    int64 `json:"bytesIn"`
	// MessagesOut and BytesOut count what the emulator wrote to it: Acks,
	// client-result completions and keep-alive pings (not the handshake
	// reply).
	MessagesOut int64 `json:"messagesOut"`
	BytesOut    int64 `json:"bytesOut"`
	// Acks counts the Acks among MessagesOut.
	Acks int64 `json:"acks"`
}

// ServerConnections lists the service connections of hub (every hub when
// hub is ""), by id.
func (e *Emulator) ServerConnections(hubName string) []ServerConnectionInfo {
	hubName = strings.ToLower(hubName)
	e.servers.mu.Lock()
	out := make([]ServerConnectionInfo, 0, len(e.servers.byID))
	for _, sc := range e.servers.byID {
		if hubName != "" && sc.hubName != hubName {
			continue
		}
		out = append(out, ServerConnectionInfo{ID: sc.id, Hub: sc.hubName, ServerID: sc.serverID, Kind: connKindName(sc.connType),
			Since: sc.since, MessagesIn: sc.messagesIn.Load(), BytesIn: sc.bytesIn.Load(),
			MessagesOut: sc.messagesOut.Load(), BytesOut: sc.bytesOut.Load(), Acks: sc.acks.Load()})
	}
	e.servers.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func connKindName(t int) string {
	switch t {
	case serviceproto.ConnectionDefault:
		return "default"
	case serviceproto.ConnectionOnDemand:
		return "ondemand"
	}
	return "weak"
}

// serverAudience accepts the aud the SDKs mint for a service connection:
// <scheme://host>/server/?hub=<hub>, the port dropped (or kept); the query
// is not compared beyond the path, as the service is lenient about it.
func serverAudience(r *http.Request) func(string) bool {
	withPort, withoutPort := requestBases(r)
	return func(aud string) bool {
		base, _, _ := strings.Cut(aud, "?")
		base = strings.TrimSuffix(base, "/")
		return strings.EqualFold(base, withPort+"/server") || strings.EqualFold(base, withoutPort+"/server")
	}
}

// serveServer serves GET /server/?hub=<hub>: the service protocol's
// WebSocket, for send-only (weak) connections of the Management SDK in
// persistent mode and of this module's persistent transport.
func (e *Emulator) serveServer(w http.ResponseWriter, r *http.Request) {
	if e.shuttingDown() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the emulator is shutting down", http.StatusServiceUnavailable)
		return
	}
	hubName := strings.ToLower(r.URL.Query().Get("hub"))
	if err := checkServerHub(hubName); err != nil {
		http.Error(w, "hub: "+err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := e.verifyToken(bearerToken(r, false), serverAudience(r)); err != nil {
		http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	e.liveMu.Lock()
	if e.closed {
		e.liveMu.Unlock()
		http.Error(w, "the emulator is shutting down", http.StatusServiceUnavailable)
		return
	}
	e.conns.Add(1)
	e.liveMu.Unlock()
	defer e.conns.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(-1) // serviceproto.NewReader bounds each message instead
	sc := &serverConn{
		e: e, ws: ws, hubName: hubName, serverID: r.Header.Get("X-ASRS-Server-Id"), since: time.Now(),
		id:   "sc-" + strconv.FormatUint(e.servers.next.Add(1), 10) + "-" + randomID(6),
		out:  make(chan []byte, serverQueueLength),
		done: make(chan struct{}),
	}
	sc.run()
}

// checkServerHub validates the hub query: a hub name, or
// <application>_<hub>.
func checkServerHub(name string) error {
	if err := validate.HubName(name); err == nil {
		return nil
	}
	app, hub, ok := strings.Cut(name, "_")
	if ok {
		if err := validate.HubName(app); err == nil {
			return validate.HubName(hub)
		}
	}
	return validate.HubName(name)
}

// serverLimit bounds one service protocol message: its payloads hold one
// hub message per client protocol, plus ids.
func (e *Emulator) serverLimit() int {
	return int(min(4*e.opts.maxMessageSize+64<<10, 1<<30))
}

// run does the handshake, then reads and dispatches until the connection
// ends; it returns when every goroutine of the connection has ended.
func (sc *serverConn) run() {
	e := sc.e
	reader := serviceproto.NewReader(e.serverLimit())
	rest, ok := sc.handshake(reader)
	unregister := func() {
		e.servers.mu.Lock()
		delete(e.servers.byID, sc.id)
		e.servers.mu.Unlock()
	}
	if !ok {
		unregister()
		return
	}
	if e.bus.on() {
		e.bus.publish(Event{Kind: EventServerConnected, Hub: sc.hubName, Connection: sc.id, Transport: "service", Protocol: "service/1"})
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		sc.writeLoop()
	}()
	reason := sc.dispatchAll(rest)
	if reason == "" {
		reason = sc.readLoop(reader)
	}
	sc.end(reason)
	<-writerDone
	sc.invocations.Wait()
	// Gone from the state API before the feed says so, so that a viewer
	// refreshing on the event no longer lists it.
	unregister()
	if e.bus.on() {
		e.bus.publish(Event{Kind: EventServerDisconnected, Hub: sc.hubName, Connection: sc.id, Transport: "service", Reason: *sc.why.Load()})
	}
	e.opts.logger.Info("server connection ended", "hub", sc.hubName, "id", sc.id, "reason", *sc.why.Load())
}

// end stops the connection once, remembering why.
func (sc *serverConn) end(reason string) {
	sc.stop.Do(func() {
		sc.why.Store(&reason)
		close(sc.done)
	})
}

// handshake reads the HandshakeRequest and answers it. Only weak (send-only)
// connections of version 1 are accepted: the emulator does not host
// Default-mode hubs over service connections yet.
func (sc *serverConn) handshake(reader hubproto.Reader) (rest [][]byte, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), serverHandshakeTimeout)
	defer cancel()
	var bodies [][]byte
	for len(bodies) == 0 {
		_, frame, err := sc.ws.Read(ctx)
		if err != nil {
			_ = sc.ws.CloseNow()
			return nil, false
		}
		if bodies, err = reader.Split(frame); err != nil {
			sc.refuse(ctx, "the handshake is not a service protocol message: "+err.Error())
			return nil, false
		}
	}
	m, err := serviceproto.Decode(bodies[0])
	switch {
	case err != nil || m.Type != serviceproto.TypeHandshakeRequest:
		sc.refuse(ctx, "the first message must be a HandshakeRequest (type 1)")
		return nil, false
	case m.Version != serviceproto.Version:
		sc.refuse(ctx, "Protocol version not supported: "+strconv.Itoa(m.Version)+"; the emulator speaks service protocol version 1")
		return nil, false
	case m.ConnectionType != serviceproto.ConnectionWeak:
		sc.refuse(ctx, "the emulator accepts only weak (send-only, connection type 2) server connections, as the Management SDK opens in persistent mode; Default-mode app servers (connection type "+
			strconv.Itoa(m.ConnectionType)+") are not supported yet")
		return nil, false
	}
	sc.connType = m.ConnectionType
	// Listed before the reply, so an app that saw the reply sees it too.
	sc.e.servers.mu.Lock()
	if sc.e.servers.byID == nil {
		sc.e.servers.byID = make(map[string]*serverConn)
	}
	sc.e.servers.byID[sc.id] = sc
	sc.e.servers.mu.Unlock()
	reply, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypeHandshakeResponse, ConnectionID: sc.id})
	wctx, wcancel := context.WithTimeout(context.Background(), serverWriteTimeout)
	defer wcancel()
	if err := sc.ws.Write(wctx, websocket.MessageBinary, reply); err != nil {
		_ = sc.ws.CloseNow()
		return nil, false
	}
	// The bodies alias the reader's buffer, valid until its next Split:
	// they are dispatched before the next read.
	return bodies[1:], true
}

// refuse answers the handshake with an error, which makes the SDK stop
// without reconnecting, and closes.
func (sc *serverConn) refuse(ctx context.Context, problem string) {
	reply, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypeHandshakeResponse, Error: problem})
	_ = sc.ws.Write(ctx, websocket.MessageBinary, reply)
	sc.e.opts.logger.Warn("server connection refused", "hub", sc.hubName, "problem", problem)
	_ = sc.ws.Close(websocket.StatusPolicyViolation, "handshake refused")
}

// readLoop reads frames until the connection ends. Silence of
// serverIdleTimeout ends it: the SDK pings every 5s.
func (sc *serverConn) readLoop(reader hubproto.Reader) string {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sc.done:
		case <-sc.e.closing:
		}
		cancel()
	}()
	for {
		ctx, cancelRead := context.WithTimeout(base, serverIdleTimeout)
		typ, frame, err := sc.ws.Read(ctx)
		cancelRead()
		if err != nil {
			switch {
			case sc.e.shuttingDown():
				return "the emulator is shutting down"
			case base.Err() != nil:
				return "" // ended by end(), whose reason stands
			case errors.Is(err, context.DeadlineExceeded):
				return "nothing received for " + serverIdleTimeout.String()
			case websocket.CloseStatus(err) != -1:
				return "the app server closed the connection"
			}
			return "the connection failed: " + err.Error()
		}
		if typ != websocket.MessageBinary {
			return "a text frame: the service protocol is binary"
		}
		sc.bytesIn.Add(int64(len(frame)))
		bodies, err := reader.Split(frame)
		if err != nil {
			return "unreadable stream: " + err.Error()
		}
		if reason := sc.dispatchAll(bodies); reason != "" {
			return reason
		}
	}
}

func (sc *serverConn) dispatchAll(bodies [][]byte) string {
	for _, b := range bodies {
		sc.messagesIn.Add(1)
		m, err := serviceproto.Decode(b)
		if errors.Is(err, serviceproto.ErrUnknownType) {
			continue // ignored, as the C# reader ignores them
		}
		if err != nil {
			return "a malformed message: " + err.Error()
		}
		if reason := sc.dispatch(&m); reason != "" {
			return reason
		}
	}
	return ""
}

// writeLoop writes queued messages and keep-alives until the connection
// ends, each write bounded by serverWriteTimeout, then closes the socket.
func (sc *serverConn) writeLoop() {
	ping, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypePing})
	ticker := time.NewTicker(serverKeepAlive)
	defer ticker.Stop()
	var batch []byte
	for {
		select {
		case <-sc.done:
			sc.close(websocket.StatusNormalClosure, "closing")
			return
		case <-sc.e.closing:
			sc.end("the emulator is shutting down")
			sc.close(websocket.StatusGoingAway, "the emulator is shutting down")
			return
		case msg := <-sc.out:
			batch = append(batch[:0], msg...)
		drain:
			for len(batch) < maxBatchBytes {
				select {
				case more := <-sc.out:
					batch = append(batch, more...)
				default:
					break drain
				}
			}
			if !sc.write(batch) {
				return
			}
		case <-ticker.C:
			sc.messagesOut.Add(1)
			if !sc.write(ping) {
				return
			}
		}
	}
}

func (sc *serverConn) write(frame []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), serverWriteTimeout)
	defer cancel()
	if err := sc.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
		sc.end("a write failed or took longer than " + serverWriteTimeout.String())
		_ = sc.ws.CloseNow()
		return false
	}
	sc.bytesOut.Add(int64(len(frame)))
	return true
}

// close ends the socket with a close handshake bounded by the emulator's
// close timeout.
func (sc *serverConn) close(code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		_ = sc.ws.Close(code, reason)
		close(done)
	}()
	t := time.NewTimer(sc.e.opts.closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = sc.ws.CloseNow()
		<-done
	}
}

// send queues a framed message for writeLoop. A full queue means the app
// stopped reading: the connection is ended rather than waited on.
func (sc *serverConn) send(m *serviceproto.Message) {
	b, err := serviceproto.Encode(m)
	if err != nil {
		return
	}
	// Counted before it is queued: the writer may send it, and the app
	// read it, before this goroutine runs again.
	sc.messagesOut.Add(1)
	select {
	case sc.out <- b:
	default:
		sc.messagesOut.Add(-1)
		sc.end("its send queue is full: the app server stopped reading")
	}
}

func (sc *serverConn) ack(id, status int32) {
	sc.acks.Add(1)
	sc.send(&serviceproto.Message{Type: serviceproto.TypeAck, AckID: id, Status: status})
}

// messageNames names the types for the feed.
var messageNames = map[serviceproto.Type]string{
	serviceproto.TypePing: "Ping", serviceproto.TypeCloseConnection: "CloseConnection",
	serviceproto.TypeMultiConnectionData: "MultiConnectionData", serviceproto.TypeUserData: "UserData",
	serviceproto.TypeMultiUserData: "MultiUserData", serviceproto.TypeBroadcastData: "BroadcastData",
	serviceproto.TypeJoinGroup: "JoinGroup", serviceproto.TypeLeaveGroup: "LeaveGroup",
	serviceproto.TypeGroupBroadcastData: "GroupBroadcastData", serviceproto.TypeMultiGroupBroadcastData: "MultiGroupBroadcastData",
	serviceproto.TypeUserJoinGroup: "UserJoinGroup", serviceproto.TypeUserLeaveGroup: "UserLeaveGroup",
	serviceproto.TypeJoinGroupWithAck: "JoinGroupWithAck", serviceproto.TypeLeaveGroupWithAck: "LeaveGroupWithAck",
	serviceproto.TypeCheckUserInGroupWithAck: "CheckUserInGroupWithAck", serviceproto.TypeCheckGroupExistenceWithAck: "CheckGroupExistenceWithAck",
	serviceproto.TypeCheckConnectionExistenceWithAck: "CheckConnectionExistenceWithAck", serviceproto.TypeCheckUserExistenceWithAck: "CheckUserExistenceWithAck",
	serviceproto.TypeUserJoinGroupWithAck: "UserJoinGroupWithAck", serviceproto.TypeUserLeaveGroupWithAck: "UserLeaveGroupWithAck",
	serviceproto.TypeCloseUserConnectionsWithAck: "CloseUserConnectionsWithAck", serviceproto.TypeCloseGroupConnectionsWithAck: "CloseGroupConnectionsWithAck",
	serviceproto.TypeClientInvocation: "ClientInvocation", serviceproto.TypeHandshakeRequest: "HandshakeRequest",
}

// dispatch applies one message; a non-empty result ends the connection.
func (sc *serverConn) dispatch(m *serviceproto.Message) string {
	e := sc.e
	h := e.hub(sc.hubName, false)
	if h == nil {
		h = newHub(sc.hubName)
	}
	status := int32(0)
	var msg *outMessage
	if len(m.Payloads) > 0 || isSend(m.Type) {
		var problem string
		if msg, problem = payloadMessage(m.Payloads, e.bus.on()); problem != "" {
			return "a " + messageNames[m.Type] + " with unusable payloads: " + problem
		}
	}
	switch m.Type {
	case serviceproto.TypePing:
		if len(m.Ping) >= 1 && m.Ping[0] == "status" && len(m.Ping) == 1 {
			active := "0"
			if h.activeCount() > 0 {
				active = "1"
			}
			sc.send(&serviceproto.Message{Type: serviceproto.TypePing, Ping: []string{"status", active}})
		}
		return "" // not on the feed: one every few seconds
	case serviceproto.TypeHandshakeRequest:
		return "a second HandshakeRequest"
	case serviceproto.TypeBroadcastData:
		h.sendAll(msg, toSet(m.IDs))
	case serviceproto.TypeMultiConnectionData:
		h.sendEach(msg, func(add func(*connection)) {
			for _, id := range m.IDs {
				if c := h.conns[id]; c != nil {
					add(c)
				}
			}
		})
	case serviceproto.TypeUserData:
		h.sendUser(m.UserID, msg, nil)
	case serviceproto.TypeMultiUserData:
		h.sendEach(msg, func(add func(*connection)) {
			for _, u := range m.IDs {
				for _, c := range h.users[u] {
					add(c)
				}
			}
		})
	case serviceproto.TypeGroupBroadcastData:
		excluded := toSet(m.IDs)
		if len(m.ExcludedUsers) > 0 {
			if excluded == nil {
				excluded = excludedSet{}
			}
			h.mu.RLock()
			for _, u := range m.ExcludedUsers {
				for id := range h.users[u] {
					excluded[id] = struct{}{}
				}
			}
			h.mu.RUnlock()
		}
		h.sendGroup(m.Group, msg, excluded)
	case serviceproto.TypeMultiGroupBroadcastData:
		now := time.Now()
		h.sendEach(msg, func(add func(*connection)) {
			for _, g := range m.IDs {
				for _, c := range h.groups[g] {
					if !expired(c.groups[g], now) {
						add(c)
					}
				}
			}
		})
	case serviceproto.TypeJoinGroup:
		if checkGroup(m.Group) {
			h.addConnectionToGroup(m.ConnectionID, m.Group)
		}
	case serviceproto.TypeLeaveGroup:
		h.removeConnectionFromGroup(m.ConnectionID, m.Group)
	case serviceproto.TypeUserJoinGroup, serviceproto.TypeUserJoinGroupWithAck:
		status = serviceproto.AckOk
		if !checkGroup(m.Group) || m.UserID == "" {
			status = serviceproto.AckNotFound
		} else {
			var ttl *time.Duration
			if m.Ext.HasTTL && m.Ext.TTL >= 0 {
				d := time.Duration(m.Ext.TTL) * time.Second
				ttl = &d
			}
			e.withLiveHub(sc.hubName, func(h *hub) bool { return h.addUserToGroup(m.UserID, m.Group, ttl) })
		}
	case serviceproto.TypeUserLeaveGroup, serviceproto.TypeUserLeaveGroupWithAck:
		status = serviceproto.AckOk
		if m.AllGroups {
			h.removeUserFromAllGroups(m.UserID)
		} else {
			h.removeUserFromGroup(m.UserID, m.Group)
		}
		e.dropIfEmpty(h, time.Now())
	case serviceproto.TypeJoinGroupWithAck:
		status = serviceproto.AckNotFound
		if checkGroup(m.Group) && h.addConnectionToGroup(m.ConnectionID, m.Group) {
			status = serviceproto.AckOk
		}
	case serviceproto.TypeLeaveGroupWithAck:
		found := false
		if m.AllGroups {
			found = h.removeConnectionFromAllGroups(m.ConnectionID)
		} else {
			found = h.removeConnectionFromGroup(m.ConnectionID, m.Group)
		}
		status = ackStatus(found)
	case serviceproto.TypeCheckUserInGroupWithAck:
		status = ackStatus(h.userInGroup(m.UserID, m.Group))
	case serviceproto.TypeCheckGroupExistenceWithAck:
		status = ackStatus(h.hasGroup(m.Group))
	case serviceproto.TypeCheckConnectionExistenceWithAck:
		status = ackStatus(h.hasConnection(m.ConnectionID))
	case serviceproto.TypeCheckUserExistenceWithAck:
		status = ackStatus(h.hasUser(m.UserID))
	case serviceproto.TypeCloseConnection:
		h.closeConnection(m.ConnectionID, m.Error)
	case serviceproto.TypeCloseUserConnectionsWithAck:
		h.closeConnections(m.UserID, "", toSet(m.IDs), m.Error)
		status = serviceproto.AckOk
	case serviceproto.TypeCloseGroupConnectionsWithAck:
		h.closeConnections("", m.Group, toSet(m.IDs), m.Error)
		status = serviceproto.AckOk
	case serviceproto.TypeClientInvocation:
		sc.invoke(h, m, msg)
	default:
		return "" // a message a weak connection does not send: ignored
	}
	if hasAck(m.Type) {
		sc.ack(m.AckID, status)
	}
	if e.bus.on() {
		ev := Event{Kind: EventService, Hub: sc.hubName, Method: messageNames[m.Type], Route: "server:" + sc.id,
			Connection: m.ConnectionID, User: m.UserID, Group: m.Group, InvocationID: m.InvocationID, Status: int(status)}
		if msg != nil {
			ev.Target = msg.target
		}
		e.bus.publish(ev)
	}
	return ""
}

func isSend(t serviceproto.Type) bool {
	switch t {
	case serviceproto.TypeBroadcastData, serviceproto.TypeMultiConnectionData, serviceproto.TypeUserData,
		serviceproto.TypeMultiUserData, serviceproto.TypeGroupBroadcastData, serviceproto.TypeMultiGroupBroadcastData,
		serviceproto.TypeClientInvocation:
		return true
	}
	return false
}

func hasAck(t serviceproto.Type) bool {
	switch t {
	case serviceproto.TypeJoinGroupWithAck, serviceproto.TypeLeaveGroupWithAck, serviceproto.TypeCheckUserInGroupWithAck,
		serviceproto.TypeCheckGroupExistenceWithAck, serviceproto.TypeCheckConnectionExistenceWithAck,
		serviceproto.TypeCheckUserExistenceWithAck, serviceproto.TypeUserJoinGroupWithAck, serviceproto.TypeUserLeaveGroupWithAck,
		serviceproto.TypeCloseUserConnectionsWithAck, serviceproto.TypeCloseGroupConnectionsWithAck:
		return true
	}
	return false
}

func ackStatus(ok bool) int32 {
	if ok {
		return serviceproto.AckOk
	}
	return serviceproto.AckNotFound
}

func checkGroup(g string) bool { return validate.GroupName(g) == nil }

func toSet(ids []string) excludedSet {
	if len(ids) == 0 {
		return nil
	}
	s := make(excludedSet, len(ids))
	for _, id := range ids {
		s[id] = struct{}{}
	}
	return s
}

// activeCount is how many connections the hub has.
func (h *hub) activeCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// sendEach delivers msg once to every connection pick adds (a connection
// named twice, or in two of the groups, gets it once), under the hub's
// read lock.
func (h *hub) sendEach(msg *outMessage, pick func(add func(*connection))) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := map[*connection]struct{}{}
	pick(func(c *connection) {
		if _, dup := seen[c]; !dup {
			seen[c] = struct{}{}
			deliver(c, msg)
		}
	})
}

// payloadMessage makes the outMessage of a send's payloads, which are hub
// messages already framed per protocol: each is delivered as it is to the
// clients of its protocol. A protocol without a payload gets one converted
// from the other, so no client of the audience is skipped.
func payloadMessage(payloads []serviceproto.Payload, wantTarget bool) (*outMessage, string) {
	var jsonRec, mpRec []byte
	for _, p := range payloads {
		switch p.Protocol {
		case "json":
			if _, err := hubproto.JSON.Unframe(p.Data); err != nil {
				return nil, "the json payload: " + err.Error()
			}
			jsonRec = p.Data
		case "messagepack":
			if _, err := hubproto.MessagePack.Unframe(p.Data); err != nil {
				return nil, "the messagepack payload: " + err.Error()
			}
			mpRec = p.Data
		}
	}
	switch {
	case jsonRec != nil:
		m := &outMessage{json: jsonRec}
		var inv struct {
			Target    string          `json:"target"`
			Arguments json.RawMessage `json:"arguments"`
		}
		body := jsonRec[:len(jsonRec)-1]
		if mpRec != nil {
			m.msgpack = mpRec
			m.msgpackOnce.Do(func() {})
			if wantTarget {
				m.target = jsonTarget(body)
			}
			return m, ""
		}
		if err := hubproto.CheckJSONDepth(body); err != nil {
			return nil, "the json payload: " + err.Error()
		}
		if err := json.Unmarshal(body, &inv); err != nil {
			return nil, "the json payload is not a hub Invocation: " + err.Error()
		}
		m.target, m.arguments = inv.Target, inv.Arguments
		return m, ""
	case mpRec != nil:
		target, args, err := messagePackInvocation(mpRec)
		if err != nil {
			return nil, "the messagepack payload: " + err.Error()
		}
		rec, err := hubproto.JSON.Invocation("", target, args)
		if err != nil {
			return nil, "the messagepack payload: " + err.Error()
		}
		m := &outMessage{target: target, arguments: args, json: rec, msgpack: mpRec}
		m.msgpackOnce.Do(func() {})
		return m, ""
	}
	return nil, `no "json" or "messagepack" payload`
}

// jsonTarget reads an Invocation's target for the feed, "" if it has none.
func jsonTarget(body []byte) string {
	var inv struct {
		Target string `json:"target"`
	}
	if hubproto.CheckJSONDepth(body) == nil {
		_ = json.Unmarshal(body, &inv)
	}
	return inv.Target
}

// messagePackInvocation reads a framed MessagePack Invocation's target and
// its arguments as JSON.
func messagePackInvocation(framed []byte) (string, json.RawMessage, error) {
	body, err := hubproto.MessagePack.Unframe(framed)
	if err != nil {
		return "", nil, err
	}
	if err := hubproto.CheckMessagePackDepth(body); err != nil {
		return "", nil, err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(body))
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 5 {
		return "", nil, errors.New("not a hub Invocation array")
	}
	if t, err := dec.DecodeInt(); err != nil || t != int(hubproto.TypeInvocation) {
		return "", nil, errors.New("not a hub Invocation")
	}
	if err := dec.Skip(); err != nil { // headers
		return "", nil, err
	}
	if err := dec.Skip(); err != nil { // invocation id
		return "", nil, err
	}
	target, err := dec.DecodeString()
	if err != nil {
		return "", nil, err
	}
	raw, err := dec.DecodeRaw()
	if err != nil {
		return "", nil, err
	}
	args, err := hubproto.MessagePackToJSON(raw)
	return target, args, err
}

// invoke runs a ClientInvocation: the payload, which carries the app's
// invocation id, goes to the client, and its Completion comes back as a
// ClientCompletion (a JSON Completion) or an ErrorCompletion.
func (sc *serverConn) invoke(h *hub, m *serviceproto.Message, msg *outMessage) {
	fail := func(text string) {
		sc.send(&serviceproto.Message{Type: serviceproto.TypeErrorCompletion, InvocationID: m.InvocationID,
			ConnectionID: m.ConnectionID, CallerServerID: m.CallerServerID, Error: text})
	}
	h.mu.RLock()
	c := h.conns[m.ConnectionID]
	h.mu.RUnlock()
	if c == nil {
		fail("the connection does not exist")
		return
	}
	p, ok := sc.e.invocations.addID(c, m.InvocationID)
	if !ok {
		fail("the invocation id is empty or already in use")
		return
	}
	record := msg.record(c.proto)
	if c.proto == hubproto.MessagePack && !hasPayload(m.Payloads, "messagepack") {
		// A conversion for sends carries no invocation id: this one must.
		record, _ = hubproto.MessagePack.Invocation(m.InvocationID, msg.target, msg.arguments)
	}
	if record == nil || !c.queue.push(record) {
		sc.e.invocations.remove(m.InvocationID)
		fail("the connection is closing (its send queue is full)")
		return
	}
	sc.invocations.Add(1)
	go func() {
		defer sc.invocations.Done()
		defer sc.e.invocations.remove(m.InvocationID)
		timer := time.NewTimer(sc.e.opts.invokeTimeout)
		defer timer.Stop()
		select {
		case a := <-p.answer:
			if a.failed {
				fail(a.errorMsg)
				return
			}
			var rec []byte
			if a.result == nil {
				rec = hubproto.JSON.CompletionVoid(m.InvocationID)
			} else {
				rec, _ = hubproto.JSON.CompletionResult(m.InvocationID, a.result)
			}
			sc.send(&serviceproto.Message{Type: serviceproto.TypeClientCompletion, InvocationID: m.InvocationID,
				ConnectionID: m.ConnectionID, CallerServerID: m.CallerServerID, Protocol: "json", Payload: rec})
		case <-c.done:
			fail("the connection closed before the client answered")
		case <-timer.C:
			fail("the client did not answer within " + sc.e.opts.invokeTimeout.String())
		case <-sc.done:
		case <-sc.e.closing:
		}
	}()
}

// addID registers an invocation for c under the app's id; false if the id
// is empty or taken.
func (t *invocationTable) addID(c *connection, id string) (*pendingInvocation, bool) {
	if id == "" {
		return nil, false
	}
	p := &pendingInvocation{conn: c, answer: make(chan invocationAnswer, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, taken := t.byID[id]; taken {
		return nil, false
	}
	t.byID[id] = p
	return p, true
}

func hasPayload(payloads []serviceproto.Payload, protocol string) bool {
	for _, p := range payloads {
		if p.Protocol == protocol {
			return true
		}
	}
	return false
}

// DropServerConnections cuts the service connections of hub (every hub
// when hub is "") abruptly, without a close handshake, as a network
// failure would, and returns how many it cut. Tests use it to check that
// an app's persistent transport reports or redelivers what was under way.
func (e *Emulator) DropServerConnections(hubName string) int {
	hubName = strings.ToLower(hubName)
	e.servers.mu.Lock()
	var cut []*serverConn
	for _, sc := range e.servers.byID {
		if hubName == "" || sc.hubName == hubName {
			cut = append(cut, sc)
		}
	}
	e.servers.mu.Unlock()
	for _, sc := range cut {
		sc.end("dropped abruptly (DropServerConnections)")
		_ = sc.ws.CloseNow()
	}
	if e.bus.on() && len(cut) > 0 {
		e.bus.publish(Event{Kind: EventFault, Target: "drop server connections", Hub: hubName, Reason: strconv.Itoa(len(cut)) + " server connection(s) dropped"})
	}
	return len(cut)
}
