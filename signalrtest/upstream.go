package signalrtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/upstreamwire"
)

// UpstreamRequests builds the signed requests SignalR Service sends to an
// upstream endpoint, so trigger handlers can be unit-tested with httptest:
//
//	up, _ := signalr.NewUpstream(&signalr.UpstreamOptions{Bind: &signalr.BindOptions{ConnectionString: cs}})
//	// ... up.HandleFunc(...)
//	rec := httptest.NewRecorder()
//	up.ServeHTTP(rec, signalrtest.UpstreamRequests{Hub: "chat"}.Invoke("1", "echo", "hi"))
//	c, _ := signalrtest.ReadCompletion(rec.Body.Bytes())
//
// The zero value is usable: hub "chat", connection "conn-1", anonymous,
// JSON, signed with emulator.DefaultAccessKey.
type UpstreamRequests struct {
	// Hub is the X-ASRS-Hub header; default "chat".
	Hub string
	// ConnectionID is the X-ASRS-Connection-Id header; default "conn-1".
	ConnectionID string
	// UserID is the X-ASRS-User-Id header; empty leaves it out.
	UserID string
	// Claims become X-ASRS-User-Claims ("type: value, ..." sorted by type).
	Claims map[string]string
	// Query is the X-ASRS-Client-Query header, such as "?hub=chat".
	Query string
	// AccessKeys sign the request, one sha256= value each; nil means
	// emulator.DefaultAccessKey. Use []string{} for an unsigned request.
	AccessKeys []string
	// MessagePack makes invocations application/x-msgpack bodies, as from a
	// MessagePack client. Connection events are always JSON.
	MessagePack bool
	// Path is the request path; default signalr.DefaultUpstreamPath.
	Path string
}

// Signature returns the X-ASRS-Signature value for connectionID under keys:
// "sha256=<HEX>" per key, comma-joined, upper-case hex as the service
// writes it.
func Signature(connectionID string, keys ...string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		mac := hmac.New(sha256.New, []byte(k))
		mac.Write([]byte(connectionID))
		parts[i] = "sha256=" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, ",")
}

func (u UpstreamRequests) request(category, event, contentType string, body []byte) *http.Request {
	path := u.Path
	if path == "" {
		path = signalr.DefaultUpstreamPath
	}
	hub := u.Hub
	if hub == "" {
		hub = "chat"
	}
	id := u.ConnectionID
	if id == "" {
		id = "conn-1"
	}
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set(upstreamwire.HeaderConnectionID, id)
	r.Header.Set(upstreamwire.HeaderHub, hub)
	r.Header.Set(upstreamwire.HeaderCategory, category)
	r.Header.Set(upstreamwire.HeaderEvent, event)
	if u.UserID != "" {
		r.Header.Set(upstreamwire.HeaderUserID, u.UserID)
	}
	if len(u.Claims) > 0 {
		types := make([]string, 0, len(u.Claims))
		for t := range u.Claims {
			types = append(types, t)
		}
		sort.Strings(types)
		for i, t := range types {
			types[i] = t + ": " + u.Claims[t]
		}
		r.Header.Set(upstreamwire.HeaderUserClaims, strings.Join(types, ", "))
	}
	if u.Query != "" {
		r.Header.Set(upstreamwire.HeaderClientQuery, u.Query)
	}
	keys := u.AccessKeys
	if keys == nil {
		keys = []string{emulator.DefaultAccessKey}
	}
	if len(keys) > 0 {
		r.Header.Set(upstreamwire.HeaderSignature, Signature(id, keys...))
	}
	return r
}

// Connected returns the request announcing that the connection opened.
func (u UpstreamRequests) Connected() *http.Request {
	return u.request(signalr.CategoryConnections, signalr.EventConnected, hubproto.ContentTypeJSON, hubproto.OpenConnectionBody())
}

// Disconnected returns the request announcing that the connection closed,
// with errText as the error ("" for a clean close).
func (u UpstreamRequests) Disconnected(errText string) *http.Request {
	return u.request(signalr.CategoryConnections, signalr.EventDisconnected, hubproto.ContentTypeJSON, hubproto.CloseConnectionBody(errText))
}

// Invoke returns the request of a blocking invocation (the client called
// invoke) of target with args; the response is a framed Completion.
// Arguments are encoded with encoding/json, or with MessagePack (json tags
// honoured) when MessagePack is set.
func (u UpstreamRequests) Invoke(invocationID, target string, args ...any) *http.Request {
	return u.invocation(&invocationID, target, args)
}

// Send returns the request of a non-blocking invocation (the client called
// send) of target with args.
func (u UpstreamRequests) Send(target string, args ...any) *http.Request {
	return u.invocation(nil, target, args)
}

func (u UpstreamRequests) invocation(id *string, target string, args []any) *http.Request {
	if u.MessagePack {
		return u.request(signalr.CategoryMessages, target, hubproto.ContentTypeMessagePack, MessagePackInvocation(id, target, args...))
	}
	return u.request(signalr.CategoryMessages, target, hubproto.ContentTypeJSON, invocationBody(hubproto.JSON, id, target, args))
}

// MessagePackInvocation returns the MessagePack upstream body of an
// invocation: [1, {}, invocationId|nil, target, [args...]] without a length
// prefix (an empty id is written as nil). It panics if an argument cannot
// be encoded.
func MessagePackInvocation(invocationID *string, target string, args ...any) []byte {
	return invocationBody(hubproto.MessagePack, invocationID, target, args)
}

// invocationBody is the upstream body of an Invocation in p: the message
// without its framing, as the service sends it.
func invocationBody(p hubproto.Protocol, invocationID *string, target string, args []any) []byte {
	id := ""
	if invocationID != nil {
		id = *invocationID
	}
	framed, err := p.InvocationValues(id, target, args)
	if err != nil {
		panic(fmt.Sprintf("signalrtest: arguments of %s cannot be encoded as %s: %v", target, p, err))
	}
	body, _ := p.Unframe(framed) // what p frames, it unframes
	return body
}

// Completion is a hub protocol Completion message read back from an
// upstream response.
type Completion struct {
	// InvocationID is the invocation it completes.
	InvocationID string
	// Error is the error the client sees; empty on success.
	Error string
	// HasResult reports whether a result was sent (a nil result sends
	// none).
	HasResult bool
	// Result is the result; Decode it into a Go value.
	Result signalr.Argument
}

// ReadCompletion parses one framed Completion: JSON ending in the 0x1E
// record separator, or a VarInt length-prefixed MessagePack message.
func ReadCompletion(body []byte) (Completion, error) {
	if len(body) == 0 {
		return Completion{}, errors.New("signalrtest: empty body, not a Completion")
	}
	p := hubproto.MessagePack
	if body[0] == '{' {
		p = hubproto.JSON
	}
	msg, err := p.Unframe(body)
	if err != nil {
		return Completion{}, fmt.Errorf("signalrtest: %w", err)
	}
	m, err := p.ParseCompletion(msg)
	if err != nil {
		return Completion{}, fmt.Errorf("signalrtest: %s Completion: %w", p, err)
	}
	c := Completion{InvocationID: m.InvocationID, HasResult: m.Result != nil}
	if m.Error != nil {
		c.Error = *m.Error
	}
	if p == hubproto.MessagePack {
		c.Result = signalr.MessagePackArgument(m.Result)
	} else {
		c.Result = signalr.JSONArgument(m.Result)
	}
	return c, nil
}
