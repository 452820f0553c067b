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

// The hub: functions triggered by SignalR Service in serverless mode
// (signalRTrigger bindings). The service POSTs connection events and the
// clients' hub-method invocations to the upstream endpoint
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

// hub holds what the hub functions share.
type hub struct {
	// presence tells whether a user is online; nil skips the checks
	// (direct messages to offline users are then sent, and every
	// disconnect is announced).
	presence userPresence
	// logger gets the deliveries the service refused.
	logger *slog.Logger
	// now stamps messages; nil means time.Now.
	now func() time.Time
}

// hubFunction is one function of the hub: its name (a folder under
// functions/), whether its function.json must declare a signalR output
// binding, and its handler, built from the hub and that output.
type hubFunction struct {
	function string
	output   bool
	handler  func(h *hub, out *signalr.Output) signalr.TriggerHandlerFunc
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
)

// hubFunctions lists the hub's functions, in the order start-up prints them.
var hubFunctions = []hubFunction{
	{fnOnConnected, true, (*hub).onConnected},
	{fnOnDisconnected, true, (*hub).onDisconnected},
	{fnBroadcast, true, (*hub).broadcast},
	{fnSendToUser, true, (*hub).sendToUser},
	{fnSendToGroup, true, (*hub).sendToGroup},
	{fnJoinGroup, true, (*hub).joinGroup},
	{fnLeaveGroup, true, (*hub).leaveGroup},
	{fnEcho, false, (*hub).echo},
}

// newUpstream registers the hub functions declared in b on an Upstream, each
// sending through outputs[function]. opts tell the Upstream which access
// keys sign the service's requests.
func newUpstream(b bindings, outputs map[string]*signalr.Output, h *hub, opts *signalr.UpstreamOptions) (*signalr.Upstream, error) {
	up, err := signalr.NewUpstream(opts)
	if err != nil {
		return nil, err
	}
	for _, fn := range hubFunctions {
		hb, ok := b.Hub[fn.function]
		if !ok {
			return nil, fmt.Errorf("%s: no signalRTrigger binding declared", fn.function)
		}
		out := outputs[fn.function]
		if fn.output && out == nil {
			return nil, fmt.Errorf("%s: needs a signalR output binding", fn.function)
		}
		if err := up.Handle(hb.Trigger, fn.handler(h, out)); err != nil {
			return nil, fmt.Errorf("%s: %w", fn.function, err)
		}
	}
	return up, nil
}

// onConnected announces to everyone that the connection's user is online.
// A failed announcement is logged, not returned: the connection is fine.
func (h *hub) onConnected(out *signalr.Output) signalr.TriggerHandlerFunc {
	return func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		if inv.UserID == "" {
			return nil, nil // nobody to announce
		}
		c := out.NewCollector()
		if err := c.AddMessage(signalr.Message{Target: presenceTarget, Arguments: []any{presence{User: inv.UserID, Online: true}}}); err != nil {
			return nil, err
		}
		if err := c.Flush(ctx); err != nil {
			h.logUndelivered(fnOnConnected, err)
		}
		return nil, nil
	}
}

// onDisconnected announces to everyone that the connection's user went
// offline, unless the user still has another connection (another tab).
func (h *hub) onDisconnected(out *signalr.Output) signalr.TriggerHandlerFunc {
	return func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		if inv.UserID == "" {
			return nil, nil
		}
		if h.presence != nil {
			if online, err := h.presence.UserExists(ctx, inv.Hub, inv.UserID, nil); err == nil && online {
				return nil, nil
			}
		}
		c := out.NewCollector()
		if err := c.AddMessage(signalr.Message{Target: presenceTarget, Arguments: []any{presence{User: inv.UserID, Online: false}}}); err != nil {
			return nil, err
		}
		if err := c.Flush(ctx); err != nil {
			h.logUndelivered(fnOnDisconnected, err)
			return nil, undelivered(err)
		}
		return nil, nil
	}
}

// broadcast(text) sends newMessage to everyone.
func (h *hub) broadcast(out *signalr.Output) signalr.TriggerHandlerFunc {
	return func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		msg, err := h.message(inv, nil)
		if err != nil {
			return nil, err
		}
		return nil, h.send(ctx, out, fnBroadcast, signalr.Message{Target: messageTarget, Arguments: []any{msg}})
	}
}

// sendToUser(user, text) sends newMessage to every connection of user. A
// user with no connection gets nothing: the invocation fails with "nobody
// named <user> is online" (when the check itself fails, the message is sent
// anyway).
func (h *hub) sendToUser(out *signalr.Output) signalr.TriggerHandlerFunc {
	return func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		user, err := stringArgument(inv, "user")
		if err != nil {
			return nil, err
		}
		msg, err := h.message(inv, &audience{User: user})
		if err != nil {
			return nil, err
		}
		if h.presence != nil {
			if online, err := h.presence.UserExists(ctx, inv.Hub, user, nil); err == nil && !online {
				return nil, fmt.Errorf("nobody named %s is online", user)
			}
		}
		return nil, h.send(ctx, out, fnSendToUser, signalr.Message{Target: messageTarget, UserID: user, Arguments: []any{msg}})
	}
}

// sendToGroup(group, text) sends newMessage to the connections in group.
// The caller need not be a member.
func (h *hub) sendToGroup(out *signalr.Output) signalr.TriggerHandlerFunc {
	return func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		group, err := stringArgument(inv, "group")
		if err != nil {
			return nil, err
		}
		msg, err := h.message(inv, &audience{Group: group})
		if err != nil {
			return nil, err
		}
		return nil, h.send(ctx, out, fnSendToGroup, signalr.Message{Target: messageTarget, GroupName: group, Arguments: []any{msg}})
	}
}

// joinGroup(group) adds the calling connection to group. Membership belongs
// to the connection: a reconnected client joins again.
func (h *hub) joinGroup(out *signalr.Output) signalr.TriggerHandlerFunc {
	return h.groupAction(out, fnJoinGroup, signalr.GroupActionAdd)
}

// leaveGroup(group) removes the calling connection from group.
func (h *hub) leaveGroup(out *signalr.Output) signalr.TriggerHandlerFunc {
	return h.groupAction(out, fnLeaveGroup, signalr.GroupActionRemove)
}

func (h *hub) groupAction(out *signalr.Output, function string, action signalr.GroupActionType) signalr.TriggerHandlerFunc {
	return func(ctx context.Context, inv *signalr.InvocationContext) (any, error) {
		group, err := stringArgument(inv, "group")
		if err != nil {
			return nil, err
		}
		return nil, h.send(ctx, out, function, signalr.GroupAction{Action: action, ConnectionID: inv.ConnectionID, GroupName: group})
	}
}

// echo(x) returns x as the invocation's result, as it came.
func (h *hub) echo(*signalr.Output) signalr.TriggerHandlerFunc {
	return func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
		x, _ := inv.Argument("x") // the binding's parameterNames guarantee it
		return x, nil
	}
}

// message builds the newMessage argument from the invocation's text and the
// caller's user id.
func (h *hub) message(inv *signalr.InvocationContext, to *audience) (chatMessage, error) {
	if inv.UserID == "" {
		return chatMessage{}, fmt.Errorf("%s: this connection has no user id, so the message would have no sender; negotiate with ?userId=<name>", inv.Event)
	}
	text, err := stringArgument(inv, "text")
	if err != nil {
		return chatMessage{}, err
	}
	if n := utf8.RuneCountInString(text); n > maxTextLength {
		return chatMessage{}, fmt.Errorf("%s: text has %d characters; the limit is %d", inv.Event, n, maxTextLength)
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	return chatMessage{From: inv.UserID, Text: text, To: to, SentAt: now().UTC()}, nil
}

// stringArgument decodes the argument the binding's parameterNames call
// name, which must be a string with something other than spaces in it.
func stringArgument(inv *signalr.InvocationContext, name string) (string, error) {
	arg, ok := inv.Argument(name)
	if !ok {
		return "", fmt.Errorf("%s takes an argument %s", inv.Event, name)
	}
	var s string
	if err := arg.Decode(&s); err != nil {
		return "", fmt.Errorf("%s: %s must be a string, such as \"hi\"", inv.Event, name)
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s: %s is empty", inv.Event, name)
	}
	return s, nil
}

// send delivers one message or group action through out. An item the
// library refuses (such as a group name that is too long) is the caller's
// error; a delivery the service refused is logged and returned, worded for
// the page.
func (h *hub) send(ctx context.Context, out *signalr.Output, function string, item signalr.OutputItem) error {
	c := out.NewCollector()
	if err := c.Add(item); err != nil {
		return err
	}
	if err := c.Flush(ctx); err != nil {
		h.logUndelivered(function, err)
		return undelivered(err)
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

// logUndelivered logs a delivery the service refused, with its statuses and
// reasons, naming the function but no user or group.
func (h *hub) logUndelivered(function string, err error) {
	if h.logger == nil {
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
	h.logger.Error("SignalR Service did not take a hub function's output", "function", function,
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
