package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/restapi"
	"github.com/funcsignalr/signalr/internal/serviceproto"
)

// Transport selects how a Client reaches the service for sends, group
// actions, closes, existence checks and client invocations. The values are
// those of the Functions setting AzureSignalRServiceTransportType.
type Transport string

const (
	// TransportREST makes one REST call per operation ("Transient", the
	// default).
	TransportREST Transport = "Transient"
	// TransportPersistent sends operations over a small pool of
	// persistent WebSocket connections per hub (the Azure SignalR service
	// protocol at /server/, as the Management SDK's persistent mode).
	// See PersistentOptions.
	TransportPersistent Transport = "Persistent"
)

// ParseTransport reads an AzureSignalRServiceTransportType value:
// "Transient" or "Persistent", in any case; "" means TransportREST.
func ParseTransport(s string) (Transport, error) {
	switch {
	case s == "" || strings.EqualFold(s, string(TransportREST)):
		return TransportREST, nil
	case strings.EqualFold(s, string(TransportPersistent)):
		return TransportPersistent, nil
	}
	return "", outErrorf(ErrInvalidArgument, "AzureSignalRServiceTransportType %q is unknown; use Transient or Persistent", s)
}

// Defaults of PersistentOptions.
const (
	// DefaultPersistentConnections is the service connections per hub
	// when PersistentOptions.Connections is zero, as the Functions
	// extension opens.
	DefaultPersistentConnections = 3
	// DefaultAckTimeout bounds the wait for the service's Ack when
	// PersistentOptions.AckTimeout is zero, as in the service SDK.
	DefaultAckTimeout = 10 * time.Second
)

// PersistentOptions tune TransportPersistent. The nil value means the
// defaults.
//
// Per hub (and endpoint), the Client opens Connections send-only ("weak")
// service connections at the hub's first operation, keeps them alive with
// pings, and reopens a lost one after 0.2s, then twice as long each time
// up to 30s (with jitter). An operation takes the next open connection in
// turn and waits at most ClientOptions.AttemptTimeout (or until ctx ends)
// for one to open; if none does, it fails without having been sent.
//
// Every operation waits for the service to confirm it: the Ack of group
// actions, closes by user or group and existence checks, and for sends and
// CloseConnection, which the protocol does not acknowledge, the Ack of a
// check written after them on the same connection, which the service
// answers once it has read them. An operation written but not confirmed
// within AckTimeout, or whose connection was lost after the write, fails
// with an error wrapping ErrMaybeApplied and is never sent again; one
// that was never written is sent on another connection.
type PersistentOptions struct {
	// Connections is the service connections per hub and endpoint; zero
	// means DefaultPersistentConnections.
	Connections int
	// AckTimeout bounds the wait for a confirmation once an operation is
	// written, and each write; zero means DefaultAckTimeout.
	AckTimeout time.Duration
	// MessagePack adds a MessagePack payload to every send, encoded once,
	// for clients of the MessagePack hub protocol, as the Management SDK
	// does when the app registers that protocol. False sends JSON only
	// (the SDK's default); the emulator then converts for MessagePack
	// clients, which the service's documentation does not promise.
	MessagePack bool
	// FallbackToREST sends an operation over REST when no service
	// connection could take it (none opened within the wait, or the
	// service refused the handshake). It never resends an operation that
	// was written. False means such operations fail.
	FallbackToREST bool
}

// errNotSent marks an operation that certainly did not leave the Client.
var errNotSent = errors.New("signalr: no service connection took the operation")

// errPersistClosed is the cause of operations after Close.
var errPersistClosed = errors.New("signalr: the Client is closed")

// persistent is the pool of every hub's service connections.
type persistent struct {
	c           *Client
	count       int
	ackTimeout  time.Duration
	messagePack bool
	fallback    bool
	serverID    string

	ctx    context.Context // ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	pools  map[poolKey]*hubPool
	closed bool

	hc *http.Client // for the WebSocket upgrades; see dialClient

	ackIDs atomic.Int32
	invIDs atomic.Uint64
}

// poolKey names one pool: an endpoint and a hub.
type poolKey struct{ base, hub string }

func newPersistent(c *Client, o *PersistentOptions) (*persistent, error) {
	var opts PersistentOptions
	if o != nil {
		opts = *o
	}
	if opts.Connections < 0 || opts.Connections > 64 {
		return nil, outErrorf(ErrInvalidArgument, "PersistentOptions.Connections is %d; use 1 to 64, or zero for %d", opts.Connections, DefaultPersistentConnections)
	}
	if opts.AckTimeout < 0 {
		return nil, outErrorf(ErrInvalidArgument, "PersistentOptions.AckTimeout is %v; use a positive limit, or zero for %v", opts.AckTimeout, DefaultAckTimeout)
	}
	p := &persistent{c: c, count: opts.Connections, ackTimeout: opts.AckTimeout, messagePack: opts.MessagePack,
		fallback: opts.FallbackToREST, serverID: "go-" + randomHex(8), pools: make(map[poolKey]*hubPool)}
	if p.count == 0 {
		p.count = DefaultPersistentConnections
	}
	if p.ackTimeout == 0 {
		p.ackTimeout = DefaultAckTimeout
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

func (p *persistent) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	pools := p.pools
	p.mu.Unlock()
	p.cancel()
	for _, hp := range pools {
		for _, sc := range hp.conns {
			sc.kill()
		}
	}
	p.wg.Wait()
}

// pool returns hub's pool at base, starting its connections the first time.
func (p *persistent) pool(base, hub string) (*hubPool, error) {
	key := poolKey{base, hub}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPersistClosed
	}
	if hp := p.pools[key]; hp != nil {
		return hp, nil
	}
	hp := newHubPool(p, base, hub)
	p.pools[key] = hp
	return hp, nil
}

// supported reports whether op has a service protocol message.
func persistentOp(op restapi.Op) bool {
	switch op {
	case restapi.Broadcast, restapi.SendToConnection, restapi.SendToUser, restapi.SendToGroup,
		restapi.AddConnectionToGroup, restapi.RemoveConnectionFromGroup, restapi.RemoveConnectionFromAllGroups,
		restapi.AddUserToGroup, restapi.RemoveUserFromGroup, restapi.RemoveUserFromAllGroups,
		restapi.CloseConnection, restapi.CloseUser, restapi.CloseGroup,
		restapi.ConnectionExists, restapi.GroupExists, restapi.UserExists, restapi.UserInGroup,
		restapi.InvokeConnection:
		return true
	}
	return false
}

// do runs op over a service connection. handled is false when op has no
// service protocol message, or when no connection took it and the user
// asked for the REST fallback: the caller then uses REST. The status is
// what the REST call would have answered: 200, or 404 for a NotFound Ack
// where the route expects one.
func (p *persistent) do(ctx context.Context, op restapi.Op, a *routeArgs, body []byte, o callOpts) (status int, err error, handled bool) {
	if !persistentOp(op) {
		return 0, nil, false
	}
	if err := validateHub(a.hub); err != nil {
		return 0, err, true
	}
	hub := strings.ToLower(a.hub)
	m, err := p.message(op, a, body)
	if err != nil {
		return 0, err, true
	}
	hp, err := p.pool(p.c.base, hub)
	if err != nil {
		if p.fallback {
			return 0, nil, false
		}
		return 0, err, true
	}
	timeout := p.ackTimeout
	if op == restapi.InvokeConnection {
		timeout = o.timeout
		if timeout <= 0 {
			timeout = DefaultInvokeTimeout
		}
	}
	res, err := hp.run(ctx, m, timeout)
	if err != nil {
		if errors.Is(err, errNotSent) && p.fallback && ctx.Err() == nil {
			return 0, nil, false
		}
		return 0, p.opError(op, hp, err), true
	}
	if op == restapi.InvokeConnection {
		return p.invokeResult(hp, res, o)
	}
	switch res.status {
	case serviceproto.AckOk:
		return http.StatusOK, nil, true
	case serviceproto.AckNotFound:
		if restapi.Routes[op].NotFound != "" {
			return http.StatusNotFound, nil, true
		}
		return http.StatusOK, nil, true
	}
	text := res.text
	if text == "" {
		text = "ack status " + fmt.Sprint(res.status)
	}
	// Timeout and InternalServerError: the service may have applied it.
	return 0, maybeAppliedError{fmt.Errorf("signalr: %s over the service connection: the service answered %s", restapi.Routes[op].Name, text)}, true
}

// opError names the operation in err.
func (p *persistent) opError(op restapi.Op, hp *hubPool, err error) error {
	e := fmt.Errorf("signalr: %s over the service connection to %s: %w", restapi.Routes[op].Name, hp.display, err)
	if errors.Is(err, ErrMaybeApplied) {
		return maybeAppliedError{e}
	}
	return e
}

// message builds op's service protocol message. Sends carry the
// Invocation encoded once per protocol (internal/hubproto).
func (p *persistent) message(op restapi.Op, a *routeArgs, body []byte) (*serviceproto.Message, error) {
	m := &serviceproto.Message{}
	switch op {
	case restapi.Broadcast, restapi.SendToConnection, restapi.SendToUser, restapi.SendToGroup, restapi.InvokeConnection:
		invocationID := ""
		if op == restapi.InvokeConnection {
			invocationID = p.serverID + "-" + fmt.Sprint(p.invIDs.Add(1))
		}
		payloads, err := p.payloads(invocationID, body)
		if err != nil {
			return nil, err
		}
		m.Payloads = payloads
		switch op {
		case restapi.Broadcast:
			m.Type, m.IDs = serviceproto.TypeBroadcastData, a.excluded
		case restapi.SendToConnection:
			m.Type, m.IDs = serviceproto.TypeMultiConnectionData, []string{a.connection}
		case restapi.SendToUser:
			m.Type, m.UserID = serviceproto.TypeUserData, a.user
		case restapi.SendToGroup:
			m.Type, m.Group, m.IDs = serviceproto.TypeGroupBroadcastData, a.group, a.excluded
		case restapi.InvokeConnection:
			m.Type, m.InvocationID, m.ConnectionID, m.CallerServerID = serviceproto.TypeClientInvocation, invocationID, a.connection, p.serverID
		}
	case restapi.AddConnectionToGroup:
		m.Type, m.ConnectionID, m.Group = serviceproto.TypeJoinGroupWithAck, a.connection, a.group
	case restapi.RemoveConnectionFromGroup:
		m.Type, m.ConnectionID, m.Group = serviceproto.TypeLeaveGroupWithAck, a.connection, a.group
	case restapi.RemoveConnectionFromAllGroups:
		m.Type, m.ConnectionID, m.AllGroups = serviceproto.TypeLeaveGroupWithAck, a.connection, true
	case restapi.AddUserToGroup:
		m.Type, m.UserID, m.Group = serviceproto.TypeUserJoinGroupWithAck, a.user, a.group
		if a.hasTTL {
			m.Ext.TTL, m.Ext.HasTTL = int32(min(a.ttl, 1<<31-1)), true
		}
	case restapi.RemoveUserFromGroup:
		m.Type, m.UserID, m.Group = serviceproto.TypeUserLeaveGroupWithAck, a.user, a.group
	case restapi.RemoveUserFromAllGroups:
		m.Type, m.UserID, m.AllGroups = serviceproto.TypeUserLeaveGroupWithAck, a.user, true
	case restapi.CloseConnection:
		m.Type, m.ConnectionID, m.Error = serviceproto.TypeCloseConnection, a.connection, a.reason
	case restapi.CloseUser:
		m.Type, m.UserID, m.Error, m.IDs = serviceproto.TypeCloseUserConnectionsWithAck, a.user, a.reason, a.excluded
	case restapi.CloseGroup:
		m.Type, m.Group, m.Error, m.IDs = serviceproto.TypeCloseGroupConnectionsWithAck, a.group, a.reason, a.excluded
	case restapi.ConnectionExists:
		m.Type, m.ConnectionID = serviceproto.TypeCheckConnectionExistenceWithAck, a.connection
	case restapi.GroupExists:
		m.Type, m.Group = serviceproto.TypeCheckGroupExistenceWithAck, a.group
	case restapi.UserExists:
		m.Type, m.UserID = serviceproto.TypeCheckUserExistenceWithAck, a.user
	case restapi.UserInGroup:
		m.Type, m.UserID, m.Group = serviceproto.TypeCheckUserInGroupWithAck, a.user, a.group
	}
	return m, nil
}

// payloads encodes the Invocation of a REST send body once per protocol.
func (p *persistent) payloads(invocationID string, body []byte) ([]serviceproto.Payload, error) {
	target, args, err := splitSendBody(body)
	if err != nil {
		return nil, err
	}
	jsonRec, err := hubproto.JSON.Invocation(invocationID, target, args)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	out := []serviceproto.Payload{{Protocol: "json", Data: jsonRec}}
	if p.messagePack {
		mp, err := hubproto.MessagePack.Invocation(invocationID, target, args)
		if err != nil {
			return nil, fmt.Errorf("%w: arguments of %q cannot be encoded as MessagePack: %w", ErrInvalidMessage, target, err)
		}
		out = append(out, serviceproto.Payload{Protocol: "messagepack", Data: mp})
	}
	return out, nil
}

// splitSendBody returns the target and the arguments array of a body
// encodeSendBody made, {"target":"…","arguments":[…]}, without decoding
// the arguments.
func splitSendBody(body []byte) (string, json.RawMessage, error) {
	if bytes.HasPrefix(body, []byte(sendBodyPrefix)) {
		rest := body[len(sendBodyPrefix):]
		escaped := false
		for i := 0; i < len(rest); i++ {
			switch {
			case escaped:
				escaped = false
			case rest[i] == '\\':
				escaped = true
			case rest[i] == '"':
				lit, tail := body[len(sendBodyPrefix)-1:len(sendBodyPrefix)+i+1], rest[i+1:]
				if !bytes.HasPrefix(tail, []byte(`,"arguments":`)) || !bytes.HasSuffix(tail, []byte("}")) {
					i = len(rest)
					continue
				}
				var target string
				if bytes.IndexByte(lit, '\\') < 0 {
					target = string(lit[1 : len(lit)-1])
				} else if err := json.Unmarshal(lit, &target); err != nil {
					i = len(rest)
					continue
				}
				return target, tail[len(`,"arguments":`) : len(tail)-1], nil
			}
		}
	}
	var raw struct {
		Target    string          `json:"target"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", nil, fmt.Errorf("%w: the send body is not {target, arguments}: %w", ErrInvalidMessage, err)
	}
	return raw.Target, raw.Arguments, nil
}

// invokeResult turns a client's completion into what the REST :invoke
// answers, so that Invoke reads both transports alike: {"result": …}, or
// a *ResponseError with the REST error codes.
func (p *persistent) invokeResult(hp *hubPool, res opResult, o callOpts) (int, error, bool) {
	re := func(status int, code, text string) (int, error, bool) {
		return 0, &ResponseError{Method: "ClientInvocation", URL: hp.display, StatusCode: status, ErrorCode: code, Message: text}, true
	}
	if res.completionErr != nil {
		text := *res.completionErr
		switch {
		case strings.Contains(text, "does not exist"):
			return re(http.StatusNotFound, restapi.CodeConnectionNotExistedError, text)
		case strings.Contains(text, "closed") || strings.Contains(text, "disconnected"):
			return re(http.StatusInternalServerError, restapi.CodeInvocationConnectionClosed, text)
		case strings.Contains(text, "did not answer") || strings.Contains(strings.ToLower(text), "timeout") || strings.Contains(text, "timed out"):
			return re(http.StatusGatewayTimeout, restapi.CodeInvocationTimeout, text)
		}
		return re(http.StatusInternalServerError, restapi.CodeInvocationClientError, text)
	}
	proto := hubproto.JSON
	if res.protocol == "messagepack" {
		proto = hubproto.MessagePack
	}
	body, err := proto.Unframe(res.payload)
	if err != nil {
		return 0, fmt.Errorf("signalr: invoke connection: the client's Completion: %w", err), true
	}
	comp, err := proto.ParseCompletion(body)
	if err != nil {
		return 0, fmt.Errorf("signalr: invoke connection: the client's Completion: %w", err), true
	}
	if comp.Error != nil {
		return re(http.StatusInternalServerError, restapi.CodeInvocationClientError, *comp.Error)
	}
	result := comp.Result
	if result != nil && proto == hubproto.MessagePack {
		if result, err = hubproto.MessagePackToJSON(result); err != nil {
			return 0, fmt.Errorf("signalr: invoke connection: the client's result: %w", err), true
		}
	}
	if o.out != nil {
		if result == nil {
			*o.out = []byte("{}")
		} else {
			*o.out = append(append([]byte(`{"result":`), result...), '}')
		}
	}
	return http.StatusOK, nil, true
}
