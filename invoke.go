package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/restapi"
)

// DefaultInvokeTimeout bounds an Invoke attempt when InvokeOptions.Timeout
// is zero. It is longer than the emulator's default wait for the client's
// answer (60s), so that the service's timeout answer arrives first.
const DefaultInvokeTimeout = 75 * time.Second

// InvokeOptions tune Invoke. Nil means DefaultInvokeTimeout.
type InvokeOptions struct {
	// Timeout bounds the whole call, which lasts as long as the client
	// takes to answer. Zero means DefaultInvokeTimeout; a negative value
	// means no bound beyond ctx. ClientOptions.AttemptTimeout does not
	// apply to Invoke.
	Timeout time.Duration
}

// InvokeFailure says why a client invocation produced no result. Invoke
// names the REST call to a client; Invocation names the upstream call a
// trigger handles (InvocationContext).
type InvokeFailure string

const (
	// InvokeClientError means the client answered with an error: its
	// handler threw, or it has no handler that returns a value.
	InvokeClientError InvokeFailure = "client error"
	// InvokeConnectionClosed means the connection closed before the
	// client answered.
	InvokeConnectionClosed InvokeFailure = "connection closed"
	// InvokeTimeout means the client did not answer in time (the
	// service's timeout; the caller's own deadline is ctx's error instead).
	InvokeTimeout InvokeFailure = "timeout"
)

// ErrInvokeFailed is wrapped by every *InvokeError, for errors.Is.
var ErrInvokeFailed = errors.New("signalr: client invocation failed")

// InvokeError is the error of an Invoke that reached the client's
// connection but got no result: the client answered with an error, closed,
// or did not answer in time. A transport failure, a refused request or an
// unknown connection (404 Error.Connection.NotExisted) is not an
// InvokeError but a plain error or a *ResponseError. Get it with
// errors.As; it also matches ErrInvokeFailed and unwraps to the
// service's *ResponseError.
type InvokeError struct {
	// ConnectionID and Target name the invocation.
	ConnectionID, Target string
	// Failure says why there is no result.
	Failure InvokeFailure
	// Message is the service's text; for InvokeClientError it holds
	// the client's error message.
	Message string
	// Response is the service's answer.
	Response *ResponseError
}

// Error names the connection, the target and the failure.
func (e *InvokeError) Error() string {
	s := fmt.Sprintf("signalr: invoking %q on connection %q: %s", e.Target, e.ConnectionID, e.Failure)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns ErrInvokeFailed and the *ResponseError.
func (e *InvokeError) Unwrap() []error {
	if e.Response == nil {
		return []error{ErrInvokeFailed}
	}
	return []error{ErrInvokeFailed, e.Response}
}

// Invoke asks the client of one connection to run target(args...) and
// returns the value its handler returned, as JSON ("null" when it returned
// nothing). It uses REST API 2024-12-01 whatever ClientOptions.APIVersion
// says (v1 included: there is no older equivalent). It is never retried:
// the client may have run the handler already. A client-side error, a
// connection that closed and a service timeout are *InvokeError; an
// unknown connection is a *ResponseError with status 404.
func (c *Client) Invoke(ctx context.Context, hub, connectionID, target string, args []any, opts *InvokeOptions) (json.RawMessage, error) {
	if err := checkID("connection id", connectionID); err != nil {
		return nil, err
	}
	if target == "" {
		return nil, outErrorf(ErrInvalidArgument, "target is empty; name the client method to invoke")
	}
	body, err := encodeSendBody(target, args)
	if err != nil {
		return nil, err
	}
	timeout := DefaultInvokeTimeout
	if opts != nil && opts.Timeout != 0 {
		timeout = opts.Timeout
	}
	var data []byte
	a := routeArgs{hub: hub, connection: connectionID}
	_, err = c.call(ctx, restapi.InvokeConnection, &a, body, callOpts{out: &data, timeout: timeout})
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) {
			failure := InvokeFailure("")
			switch re.ErrorCode {
			case restapi.CodeInvocationClientError:
				failure = InvokeClientError
			case restapi.CodeInvocationConnectionClosed:
				failure = InvokeConnectionClosed
			case restapi.CodeInvocationTimeout:
				failure = InvokeTimeout
			}
			if failure != "" {
				return nil, &InvokeError{ConnectionID: connectionID, Target: target, Failure: failure, Message: re.Message, Response: re}
			}
		}
		return nil, err
	}
	var resp struct {
		Result   json.RawMessage `json:"result"`
		Protocol string          `json:"protocol"`
	}
	// The result is the client's: bounded before anything decodes it.
	if err := hubproto.CheckJSONDepth(data); err != nil {
		return nil, fmt.Errorf("signalr: invoke connection: the client's result: %w", err)
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("signalr: invoke connection: the response is not a ClientInvocationResponse object: %w", err)
	}
	if resp.Protocol != "" && resp.Protocol != "json" {
		return nil, fmt.Errorf("signalr: invoke connection: the result is in protocol %q, which the Client cannot decode", resp.Protocol)
	}
	if len(resp.Result) == 0 {
		return json.RawMessage("null"), nil
	}
	return resp.Result, nil
}

// InvokeAs is Invoke that decodes the client's result into a T.
func InvokeAs[T any](ctx context.Context, c *Client, hub, connectionID, target string, args []any, opts *InvokeOptions) (T, error) {
	var v T
	raw, err := c.Invoke(ctx, hub, connectionID, target, args, opts)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("signalr: decoding the result of %q into %T: %w", target, v, err)
	}
	return v, nil
}
