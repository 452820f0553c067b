package emulator

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// invocationTable holds the :invoke calls waiting for a client's
// Completion, by invocation id. Ids are unique across the emulator, and a
// Completion counts only when it comes from the connection that was asked.
type invocationTable struct {
	mu   sync.Mutex
	next uint64
	byID map[string]*pendingInvocation
}

// pendingInvocation is one :invoke waiting for its answer.
type pendingInvocation struct {
	conn   *connection
	answer chan invocationAnswer // buffered: complete never blocks
}

// invocationAnswer is what the client's Completion said.
type invocationAnswer struct {
	result   json.RawMessage // nil when the Completion had none
	errorMsg string
	failed   bool
}

// add registers an invocation for c and returns its id.
func (t *invocationTable) add(c *connection) (string, *pendingInvocation) {
	p := &pendingInvocation{conn: c, answer: make(chan invocationAnswer, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	id := strconv.FormatUint(t.next, 10)
	t.byID[id] = p
	return id, p
}

func (t *invocationTable) remove(id string) {
	t.mu.Lock()
	delete(t.byID, id)
	t.mu.Unlock()
}

// complete hands a client's Completion record to the :invoke waiting for
// it. A Completion for an unknown id, or from another connection, is
// ignored, as the service ignores stray Completions.
func (t *invocationTable) complete(c *connection, msg hubproto.Message, record []byte) {
	if msg.InvocationID == nil {
		return
	}
	t.mu.Lock()
	p := t.byID[*msg.InvocationID]
	if p != nil && p.conn == c {
		delete(t.byID, *msg.InvocationID)
	} else {
		p = nil
	}
	t.mu.Unlock()
	if p == nil {
		return
	}
	var a invocationAnswer
	result, errorText, err := completionResult(c.proto, record)
	switch {
	case err != nil:
		a = invocationAnswer{failed: true, errorMsg: "the client's Completion is not valid " + c.proto.String() + ": " + err.Error()}
	case errorText != nil:
		a = invocationAnswer{failed: true, errorMsg: *errorText}
	default:
		a.result = result
	}
	p.answer <- a
}

// completionResult reads a client's Completion: its result as JSON (nil
// for none), or its error text.
func completionResult(p hubproto.Protocol, record []byte) (result json.RawMessage, errorText *string, err error) {
	c, err := p.ParseCompletion(record)
	if err != nil || c.Error != nil || c.Result == nil || p == hubproto.JSON {
		return c.Result, c.Error, err
	}
	result, err = hubproto.MessagePackToJSON(c.Result)
	return result, nil, err
}
