package customhandler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/funcsignalr/signalr"
)

// invocation is one call of a function by the host: the values of its
// bindings and the output items its handler adds.
type invocation struct {
	fn       *function
	data     map[string]json.RawMessage // by lower-case binding name
	connInfo map[string]connInfo        // decoded signalRConnectionInfo inputs

	mu       sync.Mutex
	outputs  map[string][]json.RawMessage // by declared binding name
	finished bool
}

type connInfo struct {
	info signalr.ConnectionInfo
	ok   bool // false: the host passed null
}

type invocationKey struct{}

func invocationFrom(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}

// finish ends the invocation: items added after it are refused.
func (inv *invocation) finish() {
	inv.mu.Lock()
	inv.finished = true
	inv.mu.Unlock()
}

// takeOutputs returns the items added so far, by binding.
func (inv *invocation) takeOutputs() map[string][]json.RawMessage {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := inv.outputs
	inv.outputs = map[string][]json.RawMessage{}
	return out
}

// add appends an encoded item to the binding's output.
func (inv *invocation) add(binding string, item json.RawMessage) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.finished {
		return fmt.Errorf("customhandler: function %q already answered the host; add output items before the handler returns", inv.fn.name)
	}
	inv.outputs[binding] = append(inv.outputs[binding], item)
	return nil
}

// ConnectionInfo returns an Input for the function's signalRConnectionInfo
// binding called binding: its Resolve returns the connection info the host
// resolved for the invocation (so the app mints nothing and needs no
// connection string), and NegotiateHandler serves it as in a plain server.
// The Input only works in the requests of that function's invocations; in
// any other request Resolve is an error.
func (s *Server) ConnectionInfo(functionName, binding string) (*signalr.Input, error) {
	fn, err := s.function(functionName)
	if err != nil {
		return nil, err
	}
	b, err := fn.json.ConnectionInfoBinding(binding)
	if err != nil {
		return nil, fmt.Errorf("customhandler: function %q: %w", fn.name, err)
	}
	key := strings.ToLower(b.Name)
	name := fn.name
	return signalr.NewInputFunc(func(r *http.Request) (signalr.ConnectionInfo, error) {
		inv := invocationFrom(r.Context())
		if inv == nil {
			return signalr.ConnectionInfo{}, fmt.Errorf("customhandler: the Input of function %q, binding %q, resolves only in that function's invocations by the Functions host", name, b.Name)
		}
		if inv.fn != fn {
			return signalr.ConnectionInfo{}, fmt.Errorf("customhandler: the Input of function %q, binding %q, was used by function %q; get that function's own Input", name, b.Name, inv.fn.name)
		}
		ci, ok := inv.connInfo[key]
		if !ok {
			return signalr.ConnectionInfo{}, fmt.Errorf("customhandler: function %q, binding %q: the host passed no value", name, b.Name)
		}
		if !ci.ok {
			return signalr.ConnectionInfo{}, fmt.Errorf("customhandler: function %q, binding %q: %w", name, b.Name, errNoConnectionInfo)
		}
		return ci.info, nil
	}), nil
}

// Output returns an Output for the function's signalR output binding called
// binding. A Collector of it, flushed in one of the function's invocations
// (WithOutput flushes when the handler returns; a trigger handler calls
// Flush), adds its messages and group actions to the binding's entry of the
// response's Outputs, as the array of JSON objects the host hands the
// SignalR extension one by one, in the order added. Sending them is then
// the host's job: the Flush succeeds once the item is in the response, and
// a delivery the service refuses fails the invocation on the host's side.
//
// Items the extension cannot carry are refused, not dropped: a Message with
// Excluded, a GroupAction with TTL, and removeAll with a ConnectionID (which
// the extension ignores).
func (s *Server) Output(functionName, binding string, opts *signalr.OutputOptions) (*signalr.Output, error) {
	fn, err := s.function(functionName)
	if err != nil {
		return nil, err
	}
	b, err := fn.json.OutputBinding(binding)
	if err != nil {
		return nil, fmt.Errorf("customhandler: function %q: %w", fn.name, err)
	}
	var o signalr.OutputOptions
	if opts != nil {
		o = *opts
	}
	// One at a time, so the items reach the response in the order added.
	o.MaxConcurrency = 1
	hub, err := expandSettings(b.HubName, s.settings)
	if err != nil {
		return nil, fmt.Errorf("customhandler: function %q, binding %q: hubName: %w", fn.name, b.Name, err)
	}
	out, err := signalr.NewOutput(&outputSender{fn: fn, binding: b.Name}, hub, &o)
	if err != nil {
		return nil, fmt.Errorf("customhandler: function %q, binding %q: %w", fn.name, b.Name, err)
	}
	return out, nil
}

// outputSender is the Sender of an Output: it adds each item to the
// invocation in its context.
type outputSender struct {
	fn      *function
	binding string
}

// errNotInvocation is the error of an item flushed outside an invocation.
var errNotInvocation = errors.New("customhandler: this Output adds to the response of a Functions host invocation; flush it with the context of a handler the Server runs")

func (o *outputSender) invocation(ctx context.Context) (*invocation, error) {
	inv := invocationFrom(ctx)
	if inv == nil {
		return nil, errNotInvocation
	}
	if inv.fn != o.fn {
		return nil, fmt.Errorf("customhandler: the Output of function %q, binding %q, was flushed by function %q; get that function's own Output", o.fn.name, o.binding, inv.fn.name)
	}
	return inv, nil
}

// outMessage is a message in the shape the extension reads
// (SignalRMessage, camelCase).
type outMessage struct {
	Target       string `json:"target"`
	Arguments    []any  `json:"arguments"`
	UserID       string `json:"userId,omitempty"`
	GroupName    string `json:"groupName,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
}

// outGroupAction is a group action in the shape the extension reads
// (SignalRGroupAction).
type outGroupAction struct {
	Action       string `json:"action"`
	UserID       string `json:"userId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	GroupName    string `json:"groupName,omitempty"`
}

// SendMessage adds m to the invocation's output.
func (o *outputSender) SendMessage(ctx context.Context, _ string, m signalr.Message, _ *signalr.SendMessageOptions) error {
	inv, err := o.invocation(ctx)
	if err != nil {
		return err
	}
	if len(m.Excluded) > 0 {
		return fmt.Errorf("%w: function %q, binding %q: the Functions SignalR output binding has no excluded list; send to a group without those connections", signalr.ErrInvalidMessage, o.fn.name, o.binding)
	}
	args := m.Arguments
	if args == nil {
		args = []any{}
	}
	item, err := json.Marshal(outMessage{Target: m.Target, Arguments: args, UserID: m.UserID, GroupName: m.GroupName, ConnectionID: m.ConnectionID})
	if err != nil {
		return fmt.Errorf("%w: function %q, binding %q: %v", signalr.ErrInvalidMessage, o.fn.name, o.binding, err)
	}
	return inv.add(o.binding, item)
}

// ApplyGroupAction adds a to the invocation's output.
func (o *outputSender) ApplyGroupAction(ctx context.Context, _ string, a signalr.GroupAction, _ *signalr.ApplyGroupActionOptions) error {
	inv, err := o.invocation(ctx)
	if err != nil {
		return err
	}
	switch {
	case a.TTL != 0:
		return fmt.Errorf("%w: function %q, binding %q: the Functions SignalR output binding has no ttl; add the user without TTL, or call the REST API with a signalr.Client", signalr.ErrInvalidGroupAction, o.fn.name, o.binding)
	case a.Action == signalr.GroupActionRemoveAll && a.ConnectionID != "":
		return fmt.Errorf("%w: function %q, binding %q: the Functions SignalR extension ignores removeAll for a connectionId; remove the connection from each group, or call the REST API with a signalr.Client", signalr.ErrInvalidGroupAction, o.fn.name, o.binding)
	}
	item, err := json.Marshal(outGroupAction{Action: string(a.Action), UserID: a.UserID, ConnectionID: a.ConnectionID, GroupName: a.GroupName})
	if err != nil {
		return err
	}
	return inv.add(o.binding, item)
}

// expandSettings replaces each %NAME% in s with the app setting NAME, as the
// host does in a binding's properties. The host sends to the hub it
// resolved itself; the Output's hub only has to name the same one.
func expandSettings(s string, settings signalr.Settings) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return "", errors.New("a '%' has no closing '%'; write %SETTING_NAME% to use an app setting")
		}
		name := s[i+1 : i+1+j]
		v, ok := "", false
		if name != "" {
			v, ok = settings.LookupSetting(name)
		}
		if !ok {
			return "", fmt.Errorf("the app setting %%%s%% is not set", name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+2:]
	}
}
