package emulator

import (
	"errors"
	"strconv"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// handleRecords acts on messages from the client; stop reports that the
// connection ended.
func (c *connection) handleRecords(records [][]byte) (reason string, stop bool) {
	for _, record := range records {
		msg, err := c.proto.Parse(record)
		if errors.Is(err, hubproto.ErrTooDeep) {
			// Refused before it goes upstream or to an :invoke.
			c.hangUp(c.proto.Close("Connection closed with an error: the hub protocol message nests arrays and objects more than "+
				strconv.Itoa(hubproto.MaxNestingDepth)+" deep, the limit.", false), closeNormal)
			return "message nested too deep from client", true
		}
		if err != nil {
			c.hangUp(c.proto.Close("Connection closed with an error: invalid hub protocol message.", false), closeNormal)
			return "invalid message from client", true
		}
		c.stats.messagesIn.Add(1)
		if c.e.bus.on() {
			c.publishMessage(msg)
		}
		if c.sr != nil {
			if msg.Type.Trackable() && !c.sr.receive(c) {
				continue // a message replayed after a reconnect, already handled
			}
			if msg.Type == hubproto.TypeAck || msg.Type == hubproto.TypeSequence {
				if reason, stop := c.handleSequenceID(record); stop {
					return reason, true
				}
				continue
			}
		}
		switch msg.Type {
		case hubproto.TypeCompletion:
			// The answer to a REST :invoke (see invocations.go).
			c.e.invocations.complete(c, msg, record)
		case hubproto.TypePing, hubproto.TypeStreamItem, hubproto.TypeCancelInvocation:
			// Nothing to do: pings only reset the client timeout, and the
			// emulator never streams from clients.
		case hubproto.TypeClose:
			c.hangUp(nil, closeNormal)
			return "client sent Close", true
		case hubproto.TypeInvocation, hubproto.TypeStreamInvocation:
			if err := c.handleInvocation(msg, record); err != nil {
				return c.writeFailure(), true
			}
		default:
			// Unknown types are ignored, as the clients do.
		}
	}
	return "", false
}

// handleInvocation answers a client's Invocation or StreamInvocation;
// record is the message in c.proto without its framing (0x1E or length
// prefix). With upstream templates it goes upstream (see upstream.go).
// With none, one that expects a result gets a Completion error saying so,
// and a fire-and-forget one is dropped. A
// non-nil error means the answer could not be written and the connection
// is over.
func (c *connection) handleInvocation(msg hubproto.Message, record []byte) error {
	if c.upstream != nil {
		if completion := c.upstream.handle(record, msg); completion != nil {
			return c.writeRecord(completion)
		}
		return nil
	}
	if msg.InvocationID == nil || *msg.InvocationID == "" {
		c.log.Info("dropped client invocation: no upstream configured", "target", msg.Target)
		return nil
	}
	return c.writeRecord(c.proto.CompletionError(*msg.InvocationID,
		"The SignalR emulator has no upstream configured, so invocation of '"+msg.Target+"' cannot be handled."))
}
