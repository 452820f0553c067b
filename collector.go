package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Collector gathers the messages and group actions of one function
// invocation and sends them on Flush, like the Functions IAsyncCollector.
// It is safe for concurrent use.
//
// Items are validated and snapshotted when added (a message's arguments
// are encoded as JSON then), so a bad item is an immediate error, nothing
// is queued, and changing an item after adding it changes nothing that is
// sent. Flush sends concurrently, but keeps
// the order of items that touch the same user, group or connection: an
// add-to-group of user U to group G followed by a send to G arrives in that
// order. A broadcast is ordered after everything added before it and before
// everything added after it, and so is a removeAll relative to every group
// operation. Items with nothing in common may arrive in any order, even if
// a client sees both (say, one in group G and user U receiving a send to G
// and one to U); set MaxConcurrency to 1 for strict order.
type Collector struct {
	out     *Output
	mu      sync.Mutex
	pending []pendingItem
	added   int
	flushMu sync.Mutex
}

// pendingItem is a queued Message, held by value so queuing a message
// does not box it, or a GroupAction (action != nil).
type pendingItem struct {
	index  int
	msg    Message
	action *GroupAction
	// body is msg's REST send body, encoded when it was added, or nil
	// when it is to be encoded at Flush (a target that JSON escapes). It
	// is where the snapshot's arguments are kept: one buffer per message
	// rather than one per argument while the message waits.
	body []byte
	// argsAt, when not zero, is where the arguments array starts in
	// body: msg.Arguments are then cut from it, nargs of them, when the
	// message is handed to the Sender (or to a DeliveryError).
	argsAt, nargs int
	// restBody is set when body is byte for byte what Client.SendMessage
	// would encode from the message: a *Client then sends it as it is.
	restBody bool
}

func (p *pendingItem) item() OutputItem {
	if p.action != nil {
		return *p.action
	}
	return p.message()
}

// message returns the queued Message with its arguments, each the
// json.RawMessage of its bytes in body.
func (p *pendingItem) message() Message {
	m := p.msg
	if p.argsAt > 0 {
		m.Arguments = make([]any, p.nargs)
		splitJSONArray(p.body[p.argsAt:len(p.body)-1], m.Arguments)
	}
	return m
}

func (p *pendingItem) keys() itemKeys {
	if p.action != nil {
		return actionKeys(p.action)
	}
	return messageKeys(&p.msg)
}

// AddMessage validates m, encodes its arguments as JSON and queues it.
// What is queued is a snapshot: changing m's arguments, what they point
// to, or its Excluded list after AddMessage returns changes nothing that
// is sent, whatever the Sender. The error wraps ErrInvalidMessage.
func (c *Collector) AddMessage(m Message) error {
	p, err := snapshotItem(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	p.index = c.added
	c.pending = append(c.pending, p)
	c.added++
	c.mu.Unlock()
	return nil
}

// AddGroupAction validates a and queues it. The error wraps
// ErrInvalidGroupAction.
func (c *Collector) AddGroupAction(a GroupAction) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a.Action, _ = ParseGroupActionType(string(a.Action))
	c.mu.Lock()
	c.pending = append(c.pending, pendingItem{index: c.added, action: &a})
	c.added++
	c.mu.Unlock()
	return nil
}

// Add queues a Message or GroupAction (or a pointer to one).
func (c *Collector) Add(item OutputItem) error {
	switch it := item.(type) {
	case Message:
		return c.AddMessage(it)
	case *Message:
		if it != nil {
			return c.AddMessage(*it)
		}
	case *GroupAction:
		if it != nil {
			return c.AddGroupAction(*it)
		}
	case GroupAction:
		return c.AddGroupAction(it)
	}
	return outErrorf(ErrInvalidOutputItem, "cannot add %T; add a Message or a GroupAction", item)
}

// AddJSON queues what a JavaScript or Python function would assign to its
// output binding: see ParseOutput. Either every item is queued or, on
// error, none.
func (c *Collector) AddJSON(data []byte) error {
	items, err := ParseOutput(data)
	if err != nil {
		return err
	}
	batch := make([]pendingItem, len(items))
	for i, it := range items {
		switch v := it.(type) {
		case Message:
			p, err := snapshotItem(v)
			if err != nil {
				return fmt.Errorf("output item %d: %w", i, err)
			}
			batch[i] = p
		case GroupAction:
			batch[i].action = &v
		}
	}
	c.mu.Lock()
	for i := range batch {
		batch[i].index = c.added
		c.added++
	}
	c.pending = append(c.pending, batch...)
	c.mu.Unlock()
	return nil
}

// snapshotMessage validates m and returns it detached from the caller's
// memory: each argument replaced by its JSON encoding, as a
// json.RawMessage (which encodes back to the same bytes), and Excluded
// copied. Every Sender gets this snapshot at Flush, so what is sent is
// what was added. The arguments are encoded together, in one call, into
// the REST send body {"target":…,"arguments":[…]}, and each
// json.RawMessage is that body's slice for its argument (a *Client copies
// them back into a body of the same bytes without reflection). body is nil
// when the target needs JSON escaping.
func snapshotMessage(m Message) (_ Message, body []byte, _ error) {
	p, err := snapshotItem(m)
	return p.message(), p.body, err
}

// snapshotItem is snapshotMessage for the queue: the arguments of a
// message encoded without reflection are left in the body (see
// pendingItem.argsAt).
func snapshotItem(m Message) (pendingItem, error) {
	if err := m.Validate(); err != nil {
		return pendingItem{msg: m}, err
	}
	if body, argsAt, ok := appendSnapshotBody(nil, m.Target, m.Arguments); ok {
		p := pendingItem{msg: m, body: body, restBody: true}
		p.msg.Arguments = nil
		p.msg.Excluded = slices.Clone(m.Excluded)
		if m.Arguments != nil {
			p.argsAt, p.nargs = argsAt, len(m.Arguments)
		}
		return p, nil
	}
	m, body, err := snapshotEncoded(m)
	return pendingItem{msg: m, body: body}, err
}

// snapshotEncoded is snapshotItem through encoding/json.
func snapshotEncoded(m Message) (_ Message, body []byte, _ error) {
	args := make([]any, len(m.Arguments))
	all := []byte("[]")
	var err error
	if m.Arguments != nil {
		all, err = json.Marshal(m.Arguments)
	}
	if err == nil && plainTarget(m.Target) {
		body = make([]byte, 0, len(sendBodyPrefix)+len(m.Target)+len(sendBodyMiddle)+len(all)+1)
		body = append(body, sendBodyPrefix...)
		body = append(body, m.Target...)
		body = append(body, sendBodyMiddle...)
		start := len(body)
		body = append(body, all...)
		all = body[start:len(body):len(body)]
		body = append(body, '}')
	}
	if m.Arguments != nil {
		if err == nil && splitJSONArray(all, args) {
			m.Arguments = args
		} else {
			// Find the argument at fault, or (never expected) encode
			// each argument alone.
			for i, a := range m.Arguments {
				b, err := json.Marshal(a)
				if err != nil {
					return m, nil, fmt.Errorf("%w: arguments[%d] of %q cannot be encoded as JSON: %w", ErrInvalidMessage, i, m.Target, err)
				}
				args[i] = json.RawMessage(b)
			}
			m.Arguments = args
			body = nil
		}
	}
	m.Excluded = slices.Clone(m.Excluded)
	return m, body, nil
}

// appendSnapshotBody appends the send body of a message with target and
// args to dst without reflection, for a plain target and arguments of the
// kinds JSON encodes most often (strings without anything json.Marshal
// escapes, integers, floats, booleans, nil), and returns where in it the
// arguments array starts. It reports false for anything else.
func appendSnapshotBody(dst []byte, target string, args []any) (_ []byte, argsAt int, ok bool) {
	if !plainTarget(target) {
		return dst, 0, false
	}
	n := len(sendBodyPrefix) + len(target) + len(sendBodyMiddle) + 3
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s) + 3
		} else {
			n += 24
		}
	}
	b := slices.Grow(dst, n)
	b = append(b, sendBodyPrefix...)
	b = append(b, target...)
	b = append(b, sendBodyMiddle...)
	argsAt = len(b)
	b = append(b, '[')
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendPlainJSON(b, a); !ok {
			return dst, 0, false
		}
	}
	return append(b, "]}"...), argsAt, true
}

// splitJSONArray cuts the compact JSON array data, as json.Marshal writes
// it, into its elements, storing each as a json.RawMessage into out. It
// reports false unless data holds exactly len(out) elements.
func splitJSONArray(data []byte, out []any) bool {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return false
	}
	body := data[1 : len(data)-1]
	if len(body) == 0 {
		return len(out) == 0
	}
	n, depth, start, inString := 0, 0, 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 0 {
				if n >= len(out) {
					return false
				}
				out[n] = json.RawMessage(body[start:i:i])
				n, start = n+1, i+1
			}
		}
	}
	if n != len(out)-1 {
		return false
	}
	out[n] = json.RawMessage(body[start:len(body):len(body)])
	return true
}

// Len returns the number of items waiting for Flush.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

func describeItem(it OutputItem) string {
	switch v := it.(type) {
	case Message:
		switch {
		case v.ConnectionID != "":
			return fmt.Sprintf("message %q to connection %q", v.Target, v.ConnectionID)
		case v.UserID != "":
			return fmt.Sprintf("message %q to user %q", v.Target, v.UserID)
		case v.GroupName != "":
			return fmt.Sprintf("message %q to group %q", v.Target, v.GroupName)
		}
		return fmt.Sprintf("message %q to everyone", v.Target)
	case GroupAction:
		who := fmt.Sprintf("user %q", v.UserID)
		if v.ConnectionID != "" {
			who = fmt.Sprintf("connection %q", v.ConnectionID)
		}
		switch v.Action {
		case GroupActionAdd:
			return fmt.Sprintf("add %s to group %q", who, v.GroupName)
		case GroupActionRemove:
			return fmt.Sprintf("remove %s from group %q", who, v.GroupName)
		}
		return fmt.Sprintf("remove %s from all groups", who)
	}
	return fmt.Sprintf("%T", it)
}

// Flush sends every queued item and empties the queue. It returns nil when
// all were delivered; otherwise errors.Join of one *DeliveryError per item
// that was not, in the order added. Undelivered items are not queued again
// (resending one that timed out could deliver it twice); each
// DeliveryError carries its Item for the caller to add again if it wants.
// When ctx ends, the items not yet attempted fail with ctx's error. An
// item that fails does not hold back the items ordered after it: they are
// still sent, in order, and only the failures are reported. Concurrent
// Flush calls run one after the other.
func (c *Collector) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	items := c.pending
	c.pending = nil
	c.mu.Unlock()
	switch len(items) {
	case 0:
		return nil
	case 1:
		if err := c.deliver(ctx, &items[0]); err != nil {
			return errors.Join(newDeliveryError(items[0].index, items[0].item(), err))
		}
		return nil
	}
	errs := make([]error, len(items))
	if c.out == nil || c.out.concurrency <= 1 {
		for i := range items {
			errs[i] = c.deliver(ctx, &items[i])
		}
	} else {
		c.flushConcurrently(ctx, items, errs)
	}
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, newDeliveryError(items[i].index, items[i].item(), err))
		}
	}
	return errors.Join(failed...)
}

func (c *Collector) deliver(ctx context.Context, p *pendingItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.out == nil || c.out.sender == nil {
		return errors.New("signalr: the Collector has no Output; get it from Output.NewCollector")
	}
	if p.action != nil {
		return c.out.sender.ApplyGroupAction(ctx, c.out.hub, *p.action, nil)
	}
	// A *Client sends the body encoded when the message was added, which
	// is byte for byte what its SendMessage would encode from the message
	// (TestSnapshotBodyIsTheSendBody): cutting the arguments out and
	// encoding them again cost a few allocations per message. Every other
	// Sender, a fake among them, gets the message.
	if cl, ok := c.out.sender.(*Client); ok && p.restBody {
		return cl.sendEncoded(ctx, c.out.hub, &p.msg, p.body, c.out.sendOpts)
	}
	return c.out.sender.SendMessage(ctx, c.out.hub, p.message(), c.out.sendOpts)
}
