package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/funcsignalr/signalr/internal/textutil"
)

// HubClients addresses the client connections of a hub, the Go form of the
// ServerlessHub's Clients: each method returns a ClientProxy whose Send
// queues a Message into a Collector, so the items go out on its Flush with
// the Collector's ordering and delivery reports. Inside a hub method get it
// from HubCall.Clients (then Caller and Others know the calling
// connection); elsewhere NewHubClients wraps any Collector.
type HubClients struct {
	col    *Collector
	caller string
}

// NewHubClients returns the HubClients of c's hub; Caller and Others are
// unusable on it, as there is no calling connection.
func NewHubClients(c *Collector) HubClients { return HubClients{col: c} }

// All addresses every connection of the hub.
func (h HubClients) All() ClientProxy { return ClientProxy{col: h.col} }

// AllExcept addresses every connection of the hub but the ones listed.
func (h HubClients) AllExcept(connectionIDs ...string) ClientProxy {
	return ClientProxy{col: h.col, msg: Message{Excluded: slices.Clone(connectionIDs)}}
}

// Caller addresses the calling connection.
func (h HubClients) Caller() ClientProxy {
	if h.caller == "" {
		return ClientProxy{col: h.col, err: fmt.Errorf("%w: Caller: there is no calling connection outside a hub method", ErrInvalidArgument)}
	}
	return h.Client(h.caller)
}

// Others addresses every connection of the hub but the caller's.
func (h HubClients) Others() ClientProxy {
	if h.caller == "" {
		return ClientProxy{col: h.col, err: fmt.Errorf("%w: Others: there is no calling connection outside a hub method", ErrInvalidArgument)}
	}
	return h.AllExcept(h.caller)
}

// Client addresses one connection.
func (h HubClients) Client(connectionID string) ClientProxy {
	return h.audience("connection id", connectionID, Message{ConnectionID: connectionID})
}

// User addresses every connection of one user.
func (h HubClients) User(userID string) ClientProxy {
	return h.audience("user id", userID, Message{UserID: userID})
}

// Group addresses the connections in one group.
func (h HubClients) Group(group string) ClientProxy {
	return h.audience("group name", group, Message{GroupName: group})
}

// GroupExcept addresses the connections in one group but the ones listed.
func (h HubClients) GroupExcept(group string, connectionIDs ...string) ClientProxy {
	return h.audience("group name", group, Message{GroupName: group, Excluded: slices.Clone(connectionIDs)})
}

// OthersInGroup addresses the connections in one group but the caller's.
func (h HubClients) OthersInGroup(group string) ClientProxy {
	if h.caller == "" {
		return ClientProxy{col: h.col, err: fmt.Errorf("%w: OthersInGroup: there is no calling connection outside a hub method", ErrInvalidArgument)}
	}
	return h.GroupExcept(group, h.caller)
}

func (h HubClients) audience(what, id string, m Message) ClientProxy {
	p := ClientProxy{col: h.col, msg: m}
	if id == "" {
		p.err = fmt.Errorf("%w: %s is empty", ErrInvalidArgument, what)
	}
	return p
}

// ClientProxy is an audience of client connections (see HubClients).
type ClientProxy struct {
	col *Collector
	msg Message // the audience: every field but Target and Arguments
	err error   // why the audience is unusable
}

// Send queues an invocation of the client method target with args for the
// audience. The error wraps ErrInvalidMessage for a bad message, or
// ErrInvalidHub when there is no Collector (the hub has no Output); nothing
// is queued then.
func (p ClientProxy) Send(target string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	if p.col == nil {
		return errNoHubOutput
	}
	m := p.msg
	m.Target, m.Arguments = target, args
	return p.col.AddMessage(m)
}

// HubGroups changes group membership through a Collector, the Go form of
// the ServerlessHub's Groups and UserGroups. Inside a hub method get it from
// HubCall.Groups; elsewhere NewHubGroups wraps any Collector.
type HubGroups struct{ col *Collector }

// NewHubGroups returns the HubGroups of c's hub.
func NewHubGroups(c *Collector) HubGroups { return HubGroups{col: c} }

func (g HubGroups) add(a GroupAction) error {
	if g.col == nil {
		return errNoHubOutput
	}
	return g.col.AddGroupAction(a)
}

// AddConnection adds one connection to group.
func (g HubGroups) AddConnection(connectionID, group string) error {
	return g.add(GroupAction{Action: GroupActionAdd, ConnectionID: connectionID, GroupName: group})
}

// RemoveConnection removes one connection from group.
func (g HubGroups) RemoveConnection(connectionID, group string) error {
	return g.add(GroupAction{Action: GroupActionRemove, ConnectionID: connectionID, GroupName: group})
}

// RemoveConnectionFromAll removes one connection from every group.
func (g HubGroups) RemoveConnectionFromAll(connectionID string) error {
	return g.add(GroupAction{Action: GroupActionRemoveAll, ConnectionID: connectionID})
}

// AddUser adds every connection of a user, present and future, to group.
func (g HubGroups) AddUser(userID, group string) error {
	return g.add(GroupAction{Action: GroupActionAdd, UserID: userID, GroupName: group})
}

// RemoveUser removes a user from group.
func (g HubGroups) RemoveUser(userID, group string) error {
	return g.add(GroupAction{Action: GroupActionRemove, UserID: userID, GroupName: group})
}

// RemoveUserFromAll removes a user from every group.
func (g HubGroups) RemoveUserFromAll(userID string) error {
	return g.add(GroupAction{Action: GroupActionRemoveAll, UserID: userID})
}

// Typed client methods. Declare each client method once, with its target and
// argument types, and call it through the declaration: a misspelt method is
// then a compile error, and so is an argument of the wrong type.
//
//	var newMessage = signalr.ClientMethod[chatMessage]("newMessage")
//	err := newMessage.Send(call.Clients().All(), msg)

// ClientMethod0 is a client method that takes no argument.
type ClientMethod0 string

// Send queues target() for p's audience.
func (m ClientMethod0) Send(p ClientProxy) error { return p.Send(string(m)) }

// Message returns the message, for a Collector or Client.SendMessage.
func (m ClientMethod0) Message() Message { return Message{Target: string(m)} }

// ClientMethod is a client method that takes one argument of type A.
type ClientMethod[A any] string

// Send queues target(a) for p's audience.
func (m ClientMethod[A]) Send(p ClientProxy, a A) error { return p.Send(string(m), a) }

// Message returns the message for a; set its audience and add it to a
// Collector or send it with Client.SendMessage.
func (m ClientMethod[A]) Message(a A) Message { return Message{Target: string(m), Arguments: []any{a}} }

// ClientMethod2 is a client method that takes two arguments.
type ClientMethod2[A, B any] string

// Send queues target(a, b) for p's audience.
func (m ClientMethod2[A, B]) Send(p ClientProxy, a A, b B) error { return p.Send(string(m), a, b) }

// Message returns the message for (a, b).
func (m ClientMethod2[A, B]) Message(a A, b B) Message {
	return Message{Target: string(m), Arguments: []any{a, b}}
}

// ClientMethod3 is a client method that takes three arguments.
type ClientMethod3[A, B, C any] string

// Send queues target(a, b, c) for p's audience.
func (m ClientMethod3[A, B, C]) Send(p ClientProxy, a A, b B, c C) error {
	return p.Send(string(m), a, b, c)
}

// Message returns the message for (a, b, c).
func (m ClientMethod3[A, B, C]) Message(a A, b B, c C) Message {
	return Message{Target: string(m), Arguments: []any{a, b, c}}
}

// ClientFunc is a client method that takes one argument of type A and
// returns a result of type R, which a server gets with Client.Invoke.
type ClientFunc[A, R any] string

// Invoke asks the client of connectionID to run target(a) and decodes its
// result into an R; see Client.Invoke. A result that does not decode as R is
// an error naming the target and R.
func (f ClientFunc[A, R]) Invoke(ctx context.Context, c *Client, hub, connectionID string, a A, opts *InvokeOptions) (R, error) {
	return InvokeResult[R](ctx, c, hub, connectionID, string(f), []any{a}, opts)
}

// ClientFunc0 is a client method that takes no argument and returns an R.
type ClientFunc0[R any] string

// Invoke asks the client of connectionID to run target() and decodes its
// result into an R; see Client.Invoke.
func (f ClientFunc0[R]) Invoke(ctx context.Context, c *Client, hub, connectionID string, opts *InvokeOptions) (R, error) {
	return InvokeResult[R](ctx, c, hub, connectionID, string(f), nil, opts)
}

// InvokeResult is Client.Invoke with the result decoded into an R. The
// error of a result that is not an R wraps ErrInvalidResult.
func InvokeResult[R any](ctx context.Context, c *Client, hub, connectionID, target string, args []any, opts *InvokeOptions) (R, error) {
	var r R
	raw, err := c.Invoke(ctx, hub, connectionID, target, args, opts)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%w: %s returned %s, which is not a %T: %v", ErrInvalidResult, target, textutil.Truncate(string(raw), maxEchoedChars), r, err)
	}
	return r, nil
}

// ErrInvalidResult is wrapped by the error of a client result that does not
// decode into the type asked for.
var ErrInvalidResult = fmt.Errorf("signalr: invalid client result")
