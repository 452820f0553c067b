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

// jsonArgument and msgpackArgument wrap an argument's bytes as the upstream
// body decoder finds them.
func jsonArgument(raw []byte) Argument    { return Argument{raw: raw} }
func msgpackArgument(raw []byte) Argument { return Argument{raw: raw, msgpack: true} }

// decodeBody decodes an upstream body in p; the errors wrap
// hubproto.ErrNotUpstream.
func decodeBody(p hubproto.Protocol, body []byte) (hubproto.Upstream[Argument], error) {
	if p == hubproto.MessagePack {
		return hubproto.DecodeUpstream(p, body, msgpackArgument)
	}
	return hubproto.DecodeUpstream(p, body, jsonArgument)
}
