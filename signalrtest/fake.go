package signalrtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/funcsignalr/signalr"
)

// Call is one delivery a FakeSender recorded: a message or a group action
// for a hub. Exactly one of Message and GroupAction is set.
type Call struct {
	Hub         string
	Message     *signalr.Message
	GroupAction *signalr.GroupAction
}

// String describes the call, for test failure messages.
func (c Call) String() string {
	switch {
	case c.Message != nil:
		m := c.Message
		to := "everyone"
		switch {
		case m.ConnectionID != "":
			to = fmt.Sprintf("connection %q", m.ConnectionID)
		case m.UserID != "":
			to = fmt.Sprintf("user %q", m.UserID)
		case m.GroupName != "":
			to = fmt.Sprintf("group %q", m.GroupName)
		}
		return fmt.Sprintf("%s: message %q to %s with %d argument(s)", c.Hub, m.Target, to, len(m.Arguments))
	case c.GroupAction != nil:
		a := c.GroupAction
		who := fmt.Sprintf("user %q", a.UserID)
		if a.ConnectionID != "" {
			who = fmt.Sprintf("connection %q", a.ConnectionID)
		}
		return fmt.Sprintf("%s: %s %s group %q", c.Hub, a.Action, who, a.GroupName)
	}
	return "empty call"
}

// FakeSender is a signalr.Sender that records what it is asked to deliver
// instead of calling SignalR Service, so handler tests can assert on it. It
// validates every item as the REST client does (an invalid one is an error
// and is not recorded), honours a done context, and can be told to fail.
// It is safe for concurrent use; the zero value is ready to use.
type FakeSender struct {
	mu       sync.Mutex
	calls    []Call
	failNext []error
	failWhen func(Call) error
}

var _ signalr.Sender = (*FakeSender)(nil)

// NewFakeSender returns an empty FakeSender.
func NewFakeSender() *FakeSender { return &FakeSender{} }

// NewOutput returns an Output for hub that sends through a new
// FakeSender, and the FakeSender, for testing a handler wrapped with
// signalr.WithOutput. Like httptest.NewServer, it panics on failure: when
// hub is not a valid hub name.
func NewOutput(hub string) (*signalr.Output, *FakeSender) {
	f := NewFakeSender()
	out, err := signalr.NewOutput(f, hub, nil)
	if err != nil {
		panic("signalrtest.NewOutput: " + err.Error())
	}
	return out, f
}

// SendMessage validates m and records it, or returns an injected failure.
// It records what the service would receive: each argument is encoded as
// JSON, as the Client encodes it (one that cannot be is an error wrapping
// signalr.ErrInvalidMessage), and recorded decoded, as json.Decoder with
// UseNumber decodes it: a string, json.Number, bool, nil, []any or
// map[string]any. So a struct argument is recorded as a map of its JSON
// fields, and 2 as json.Number("2"), whether the message came through a
// Collector (which hands over arguments already encoded) or not.
func (f *FakeSender) SendMessage(ctx context.Context, hub string, m signalr.Message, _ *signalr.SendMessageOptions) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Arguments != nil {
		args := make([]any, len(m.Arguments))
		for i, a := range m.Arguments {
			v, err := wireValue(a)
			if err != nil {
				return fmt.Errorf("%w: arguments[%d] of %q cannot be encoded as JSON: %v", signalr.ErrInvalidMessage, i, m.Target, err)
			}
			args[i] = v
		}
		m.Arguments = args
	}
	m.Excluded = slices.Clone(m.Excluded)
	return f.record(ctx, Call{Hub: hub, Message: &m})
}

// wireValue returns a as the service would receive it: encoded as JSON and
// decoded with UseNumber.
func wireValue(a any) (any, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// ApplyGroupAction validates a and records it (with its action in
// canonical case), or returns an injected failure.
func (f *FakeSender) ApplyGroupAction(ctx context.Context, hub string, a signalr.GroupAction, _ *signalr.ApplyGroupActionOptions) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a.Action, _ = signalr.ParseGroupActionType(string(a.Action))
	return f.record(ctx, Call{Hub: hub, GroupAction: &a})
}

func (f *FakeSender) record(ctx context.Context, c Call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failNext) > 0 {
		err := f.failNext[0]
		f.failNext = f.failNext[1:]
		return err
	}
	if f.failWhen != nil {
		if err := f.failWhen(c); err != nil {
			return err
		}
	}
	f.calls = append(f.calls, c)
	return nil
}

// FailNext makes the next delivery fail with err instead of being
// recorded. Calls queue up: FailNext(a); FailNext(b) fails the next two.
// FailNext(nil) does nothing.
func (f *FakeSender) FailNext(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	f.failNext = append(f.failNext, err)
	f.mu.Unlock()
}

// FailWhen makes every delivery for which fn returns an error fail with
// that error instead of being recorded; nil removes the rule. fn is called
// with the FakeSender's lock held, so it must not call the FakeSender.
func (f *FakeSender) FailWhen(fn func(Call) error) {
	f.mu.Lock()
	f.failWhen = fn
	f.mu.Unlock()
}

// Reset forgets the recorded calls and the injected failures.
func (f *FakeSender) Reset() {
	f.mu.Lock()
	f.calls, f.failNext, f.failWhen = nil, nil, nil
	f.mu.Unlock()
}

// Calls returns every recorded delivery in the order it happened.
func (f *FakeSender) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Messages returns every recorded message, in order.
func (f *FakeSender) Messages() []signalr.Message {
	return f.messages(func(*signalr.Message) bool { return true })
}

// GroupActions returns every recorded group action, in order.
func (f *FakeSender) GroupActions() []signalr.GroupAction {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []signalr.GroupAction
	for _, c := range f.calls {
		if c.GroupAction != nil {
			out = append(out, *c.GroupAction)
		}
	}
	return out
}

// Broadcasts returns the recorded messages sent to every connection.
func (f *FakeSender) Broadcasts() []signalr.Message {
	return f.messages(func(m *signalr.Message) bool {
		return m.UserID == "" && m.GroupName == "" && m.ConnectionID == ""
	})
}

// MessagesToUser returns the recorded messages sent to user.
func (f *FakeSender) MessagesToUser(user string) []signalr.Message {
	return f.messages(func(m *signalr.Message) bool { return m.UserID == user })
}

// MessagesToGroup returns the recorded messages sent to group.
func (f *FakeSender) MessagesToGroup(group string) []signalr.Message {
	return f.messages(func(m *signalr.Message) bool { return m.GroupName == group })
}

// MessagesToConnection returns the recorded messages sent to one
// connection.
func (f *FakeSender) MessagesToConnection(connectionID string) []signalr.Message {
	return f.messages(func(m *signalr.Message) bool { return m.ConnectionID == connectionID })
}

// MessagesWithTarget returns the recorded messages that invoke target.
func (f *FakeSender) MessagesWithTarget(target string) []signalr.Message {
	return f.messages(func(m *signalr.Message) bool { return m.Target == target })
}

func (f *FakeSender) messages(keep func(*signalr.Message) bool) []signalr.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []signalr.Message
	for _, c := range f.calls {
		if c.Message != nil && keep(c.Message) {
			out = append(out, *c.Message)
		}
	}
	return out
}
