package signalr

import (
	"fmt"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// methodFailed is the Completion error when a handler fails without a
// message, as in the Functions extension.
const methodFailed = "Method execution failed."

// completionError is the text a client sees for a failed handler.
func completionError(err error) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return methodFailed
}

// encodeCompletion returns the framed Completion of an invocation in p:
// the error when err is set, else result (none when result is nil). A
// result that cannot be encoded becomes the error the client sees.
func encodeCompletion(p hubproto.Protocol, invocationID string, result any, err error) []byte {
	if err == nil && result != nil {
		out, merr := p.CompletionResult(invocationID, result)
		if merr == nil {
			return out
		}
		err = fmt.Errorf("the result could not be encoded as %s: %v", protocolDisplayName(p), merr)
	}
	if err != nil {
		return p.CompletionError(invocationID, completionError(err))
	}
	return p.CompletionVoid(invocationID)
}

// protocolDisplayName names p as error messages do.
func protocolDisplayName(p hubproto.Protocol) string {
	if p == hubproto.MessagePack {
		return "MessagePack"
	}
	return "JSON"
}
