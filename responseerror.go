package signalr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors of the output side, usable with errors.Is. Validation
// errors wrap one of them and name the offending field and the fix.
var (
	// ErrInvalidMessage means a Message cannot be sent as it is: its target
	// is empty, it sets more than one of userId, groupName and connectionId,
	// its group name is invalid, or its arguments are not JSON.
	ErrInvalidMessage = errors.New("signalr: invalid message")

	// ErrInvalidGroupAction means a GroupAction cannot be applied as it is:
	// its action is unknown, it sets both or neither of userId and
	// connectionId, or its groupName is missing or present where the action
	// forbids it.
	ErrInvalidGroupAction = errors.New("signalr: invalid group action")

	// ErrInvalidOutputItem means a JSON output item is neither a message (it
	// has "target") nor a group action (it has "action"), or is both.
	ErrInvalidOutputItem = errors.New("signalr: invalid output item")

	// ErrInvalidArgument means an argument of a Client method is unusable,
	// such as an empty user or connection id or a negative TTL.
	ErrInvalidArgument = errors.New("signalr: invalid argument")

	// ErrUnsupportedOperation means the REST API version the Client is
	// configured with has no route for the operation (the v1 API cannot
	// close connections in bulk or remove a connection from all groups).
	ErrUnsupportedOperation = errors.New("signalr: operation not supported by this REST API version")
)

// maxErrorMessageLength bounds ResponseError.Message.
const maxErrorMessageLength = 512

// ResponseError is the error for a REST call the service answered with a
// status the operation does not accept. Get it with errors.As:
//
//	var re *signalr.ResponseError
//	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound { ... }
//
// It never holds the bearer token, and its URL has no query string.
type ResponseError struct {
	// Method is the HTTP method of the request, such as "POST".
	Method string
	// URL is the request URL without its query string.
	URL string
	// StatusCode is the HTTP status the service answered with.
	StatusCode int
	// ErrorCode is the service's error code: the x-ms-error-code header, or
	// else the "code" member of a JSON error body, or else "".
	ErrorCode string
	// Message is the start of the response body (at most 512 bytes): the
	// "message" member of a JSON error body when there is one.
	Message string
}

// Error reports the method, URL, status, error code and message.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "signalr: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s)", e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// outErrorf builds a validation error wrapping sentinel.
func outErrorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
