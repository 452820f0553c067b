package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/funcsignalr/signalr"
)

// The hub: a class-based hub whose methods SignalR Service triggers in
// serverless mode. The service POSTs connection events and the clients'
// hub-method invocations to the upstream endpoint
// (signalr.DefaultUpstreamPath); a blocking invocation's result or error
// goes back to the client as its Completion.

// presenceTarget is the client method the connected and disconnected
// functions invoke; the page handles it with connection.on("presence", ...).
// Presence is its own target, not a newMessage from "system", so that a
// client can tell a user named "system" from the chat itself.
const presenceTarget = "presence"

// maxTextLength bounds a message's text, in characters (the page's input
// takes 2000).
const maxTextLength = 2000

// chatMessage is the argument of the newMessage the hub methods send: the
// body the page's HTTP sends carry, built by the server. The sender is the
// connection's user id, from its access token, so a client cannot write in
// another user's name.
type chatMessage struct {
	From   string    `json:"from"`
	Text   string    `json:"text"`
	To     *audience `json:"to,omitempty"`
	SentAt time.Time `json:"sentAt"`
}

// audience says whom a direct or group message was for.
type audience struct {
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// presence is the argument of the presence message: a user came online or
// went offline (their last connection closed).
type presence struct {
	User   string `json:"user"`
	Online bool   `json:"online"`
}

// chatHub is the hub, written as a class-based hub (signalr.NewHub): each
// exported method is a hub method clients call with
// connection.invoke("<method>", args...), its name matched
// case-insensitively, and OnConnected and OnDisconnected handle the
// connection events. What a method sends goes through the Clients and
// Groups of its signalr.HubCall, which the hub delivers through its Output
// once the method returns; a delivery the service refuses fails the call.
type chatHub struct {
	// presence tells whether a user is online; nil skips the checks
	// (direct messages to offline users are then sent, and every
	// disconnect is announced).
	presence userPresence
	// now stamps messages; nil means time.Now.
	now func() time.Time
}

// The client methods the hub calls, declared once with their argument
// types: a misspelt target or a wrong argument is a compile error.
var (
	newMessage     = signalr.ClientMethod[chatMessage](messageTarget)
	presenceChange = signalr.ClientMethod[presence](presenceTarget)
)

// hubFunction is one function of the hub in the Functions layout: its
// folder under functions/ (whose function.json declares its trigger), the
// hub method it is, and whether it sends (then its function.json declares
// the hub's signalR output binding).
type hubFunction struct {
	function string
	method   string
	output   bool
}

// The hub's functions; each name is a folder under functions/.
const (
	fnOnConnected    = "on-connected"
	fnOnDisconnected = "on-disconnected"
	fnBroadcast      = "broadcast"
	fnSendToUser     = "send-to-user"
	fnSendToGroup    = "send-to-group"
	fnJoinGroup      = "join-group"
	fnLeaveGroup     = "leave-group"
	fnEcho           = "echo"
	fnWhoAmI         = "who-am-i"
)

// hubFunctions lists the hub's functions, in the order start-up prints them.
var hubFunctions = []hubFunction{
	{fnOnConnected, "OnConnected", true},
	{fnOnDisconnected, "OnDisconnected", true},
	{fnBroadcast, "Broadcast", true},
	{fnSendToUser, "SendToUser", true},
	{fnSendToGroup, "SendToGroup", true},
	{fnJoinGroup, "JoinGroup", true},
	{fnLeaveGroup, "LeaveGroup", true},
	{fnEcho, "Echo", false},
	{fnWhoAmI, "WhoAmI", false},
}

// newUpstream registers the class-based hub h on an Upstream, sending
// through out, after checking that the function.json files in b declare
// exactly its methods and events (the Functions layout of the same hub).
// opts tell the Upstream which access keys sign the service's requests;
// logger gets the failures no client sees.
func newUpstream(b bindings, out *signalr.Output, h *chatHub, logger *slog.Logger, opts *signalr.UpstreamOptions) (*signalr.Upstream, error) {
	hub, err := signalr.NewHub(h, &signalr.HubOptions{
		Name:    hubName,
		Output:  out,
		Filters: []signalr.HubFilter{logFailures(logger)},
		Logger:  logger,
	})
	if err != nil {
		return nil, err
	}
	if err := checkLayout(b, hub); err != nil {
		return nil, err
	}
	up, err := signalr.NewUpstream(opts)
	if err != nil {
		return nil, err
	}
	if err := up.HandleHub(hub); err != nil {
		return nil, err
	}
	return up, nil
}

// checkLayout checks that the hub's function.json triggers are the hub's
// methods and events: one function per method, with the event the method
// name maps to.
func checkLayout(b bindings, hub *signalr.Hub) error {
	declared := map[string]string{} // category/event (lower case) -> function
	for _, fn := range hubFunctions {
		hb, ok := b.Hub[fn.function]
		if !ok {
			return fmt.Errorf("%s: no signalRTrigger binding declared", fn.function)
		}
		if fn.output && hb.Output == nil {
			return fmt.Errorf("%s: needs a signalR output binding", fn.function)
		}
		declared[strings.ToLower(hb.Trigger.Category+"/"+hb.Trigger.Event)] = fn.function
	}
	for _, tb := range hub.Bindings() {
		key := strings.ToLower(tb.Category + "/" + tb.Event)
		if _, ok := declared[key]; !ok {
			return fmt.Errorf("hub method %s (%s/%s) has no function.json", tb.Name, tb.Category, tb.Event)
		}
		delete(declared, key)
	}
	for key, fn := range declared {
		return fmt.Errorf("%s: its trigger %s is not a method of the hub", fn, key)
	}
	return nil
}

// logFailures is a hub filter: it logs every failed call, naming the method
// (not the user or the arguments) and, for a delivery the service refused,
// its statuses and reasons.
func logFailures(logger *slog.Logger) signalr.HubFilter {
	return func(next signalr.TriggerHandler) signalr.TriggerHandler {
		return signalr.TriggerHandlerFunc(func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
			result, err := next.ServeTrigger(ctx, inv)
			var de *signalr.HubDeliveryError
			if errors.As(err, &de) {
				logHubUndelivered(logger, inv.Event, de.Err)
				if inv.Event == signalr.EventConnected {
					// The presence announcement failed; the
					// connection itself is fine.
					return nil, nil
				}
				return nil, undelivered(de.Err)
			}
			return result, err
		})
	}
}

// OnConnected announces to everyone that the connection's user is online.
// A failed announcement is logged, not returned: the connection is fine.
func (h *chatHub) OnConnected(ctx context.Context) error {
	call := signalr.HubCallFromContext(ctx)
	if call.UserID == "" {
		return nil // nobody to announce
	}
	return presenceChange.Send(call.Clients().All(), presence{User: call.UserID, Online: true})
}

// OnDisconnected announces to everyone that the connection's user went
// offline, unless the user still has another connection (another tab).
func (h *chatHub) OnDisconnected(ctx context.Context) error {
	call := signalr.HubCallFromContext(ctx)
	if call.UserID == "" {
		return nil
	}
	if h.presence != nil {
		if online, err := h.presence.UserExists(ctx, call.Hub, call.UserID, nil); err == nil && online {
			return nil
		}
	}
	return presenceChange.Send(call.Clients().All(), presence{User: call.UserID, Online: false})
}

// Broadcast(text) sends newMessage to everyone.
func (h *chatHub) Broadcast(ctx context.Context, text string) error {
	call := signalr.HubCallFromContext(ctx)
	msg, err := h.message(call, "text", text, nil)
	if err != nil {
		return err
	}
	return newMessage.Send(call.Clients().All(), msg)
}

// SendToUser(user, text) sends newMessage to every connection of user. A
// user with no connection gets nothing: the invocation fails with "nobody
// named <user> is online" (when the check itself fails, the message is sent
// anyway).
func (h *chatHub) SendToUser(ctx context.Context, user, text string) error {
	call := signalr.HubCallFromContext(ctx)
	if err := nonEmpty(call, "user", user); err != nil {
		return err
	}
	msg, err := h.message(call, "text", text, &audience{User: user})
	if err != nil {
		return err
	}
	if h.presence != nil {
		if online, err := h.presence.UserExists(ctx, call.Hub, user, nil); err == nil && !online {
			return fmt.Errorf("nobody named %s is online", user)
		}
	}
	return newMessage.Send(call.Clients().User(user), msg)
}

// SendToGroup(group, text) sends newMessage to the connections in group.
// The caller need not be a member.
func (h *chatHub) SendToGroup(ctx context.Context, group, text string) error {
	call := signalr.HubCallFromContext(ctx)
	if err := nonEmpty(call, "group", group); err != nil {
		return err
	}
	msg, err := h.message(call, "text", text, &audience{Group: group})
	if err != nil {
		return err
	}
	return newMessage.Send(call.Clients().Group(group), msg)
}

// JoinGroup(group) adds the calling connection to group. Membership belongs
// to the connection: a reconnected client joins again.
func (h *chatHub) JoinGroup(ctx context.Context, group string) error {
	call := signalr.HubCallFromContext(ctx)
	if err := nonEmpty(call, "group", group); err != nil {
		return err
	}
	return call.Groups().AddConnection(call.ConnectionID, group)
}

// LeaveGroup(group) removes the calling connection from group.
func (h *chatHub) LeaveGroup(ctx context.Context, group string) error {
	call := signalr.HubCallFromContext(ctx)
	if err := nonEmpty(call, "group", group); err != nil {
		return err
	}
	return call.Groups().RemoveConnection(call.ConnectionID, group)
}

// Echo(x) returns x as the invocation's result, as it came.
func (h *chatHub) Echo(_ context.Context, x signalr.Argument) (signalr.Argument, error) {
	return x, nil
}

// whoAmI is WhoAmI's result.
type whoAmI struct {
	User         string `json:"user"`
	ConnectionID string `json:"connectionId"`
	Anonymous    bool   `json:"anonymous"`
}

// WhoAmI() returns the caller's user and connection, as the service sees
// them: a typed result.
func (h *chatHub) WhoAmI(ctx context.Context) (whoAmI, error) {
	call := signalr.HubCallFromContext(ctx)
	return whoAmI{User: call.UserID, ConnectionID: call.ConnectionID, Anonymous: call.UserID == ""}, nil
}

// message builds the newMessage argument from text and the caller's user
// id.
func (h *chatHub) message(call *signalr.HubCall, name, text string, to *audience) (chatMessage, error) {
	if call.UserID == "" {
		return chatMessage{}, fmt.Errorf("%s: this connection has no user id, so the message would have no sender; negotiate with ?userId=<name>", call.Event)
	}
	if err := nonEmpty(call, name, text); err != nil {
		return chatMessage{}, err
	}
	if n := utf8.RuneCountInString(text); n > maxTextLength {
		return chatMessage{}, fmt.Errorf("%s: %s has %d characters; the limit is %d", call.Event, name, n, maxTextLength)
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	return chatMessage{From: call.UserID, Text: text, To: to, SentAt: now().UTC()}, nil
}

// nonEmpty requires something other than spaces in the argument name.
func nonEmpty(call *signalr.HubCall, name, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("%s: %s is empty", call.Event, name)
	}
	return nil
}

// undelivered words a failed Flush for the client: what the service
// answered, or why it could not be reached.
func undelivered(err error) error {
	var reasons []string
	for _, de := range deliveryErrors(err) {
		status, reason := describeFailure(de)
		if status == "" {
			reasons = append(reasons, "could not be reached: "+reason)
		} else {
			reasons = append(reasons, "answered "+status+": "+reason)
		}
	}
	return fmt.Errorf("not delivered: SignalR Service %s", strings.Join(reasons, "; "))
}

// logHubUndelivered logs a delivery the service refused, with its statuses
// and reasons, naming the hub method but no user or group.
func logHubUndelivered(logger *slog.Logger, method string, err error) {
	if logger == nil {
		return
	}
	var statuses, reasons []string
	for _, de := range deliveryErrors(err) {
		status, reason := describeFailure(de)
		if status == "" {
			status = "none"
		}
		statuses = append(statuses, status)
		reasons = append(reasons, reason)
	}
	logger.Error("SignalR Service did not take a hub method's output", "method", method,
		"serviceStatus", strings.Join(statuses, "; "), "reason", strings.Join(reasons, "; "))
}

// deliveryErrors are the failures in an error from Flush (err itself when
// it holds no DeliveryError).
func deliveryErrors(err error) []error {
	var errs []error
	for _, de := range signalr.DeliveryErrors(err) {
		errs = append(errs, de.Err)
	}
	if len(errs) == 0 {
		errs = append(errs, err)
	}
	return errs
}

// describeFailure returns the status the service answered ("" when it was
// not reached) and the reason, without the request URL, whose path holds
// user and group names.
func describeFailure(err error) (status, reason string) {
	var re *signalr.ResponseError
	if errors.As(err, &re) {
		status = strconv.Itoa(re.StatusCode) + " " + http.StatusText(re.StatusCode)
		if re.Message == "" {
			return status, "no reason given"
		}
		return status, re.Message
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "", ue.Err.Error()
	}
	return "", err.Error()
}
