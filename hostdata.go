package signalr

import (
	"fmt"
	"net/http"
	"slices"
)

// The two hooks below let code outside this package hand handlers data that
// something else resolved, in the types they take here: package
// customhandler gives them what the Azure Functions host resolved for a
// custom handler, without a Client, a connection string or a signature.

// NewInputFunc returns an Input whose Resolve returns what resolve returns,
// minting nothing: for connection info resolved elsewhere, such as by the
// Azure Functions host, which hands a custom handler the
// signalRConnectionInfo binding's value (package customhandler). Handlers
// written against *Input, such as NegotiateHandler, then serve it
// unchanged. resolve must be safe for concurrent use; a nil resolve makes
// every Resolve an error.
func NewInputFunc(resolve func(r *http.Request) (ConnectionInfo, error)) *Input {
	if resolve == nil {
		resolve = func(*http.Request) (ConnectionInfo, error) {
			return ConnectionInfo{}, fmt.Errorf("%w: NewInputFunc was given no resolve function", ErrInvalidBinding)
		}
	}
	return &Input{resolve: resolve}
}

// SetParameterNames sets the names Argument finds the arguments by, in
// order: a signalRTrigger binding's parameterNames. Upstream sets them from
// the TriggerBinding a handler was registered with; code that builds an
// InvocationContext from data of its own, such as package customhandler from
// the invocation the Azure Functions host passes, sets them here so the same
// handler reads its arguments the same way. names is copied.
func (inv *InvocationContext) SetParameterNames(names []string) {
	inv.names = slices.Clone(names)
}
