package signalr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors, usable with errors.Is. Every error the package returns for
// bad input wraps one of them and names the offending field.
var (
	// ErrInvalidConnectionString means a SignalR connection string could not
	// be used: a key is missing, repeated or malformed.
	ErrInvalidConnectionString = errors.New("signalr: invalid connection string")

	// ErrMissingCredential means an identity-based connection string was
	// given no azcore.TokenCredential to get Microsoft Entra tokens with.
	ErrMissingCredential = errors.New("signalr: identity-based connection string needs a credential")

	// ErrNoAccessKey means no usable key for signing client tokens could
	// be had from the service (GET /api/v1/auth/accessKey) with the
	// credential: the first fetch failed, or the last success is more than
	// 120 minutes old. The error says why and when the next attempt is.
	ErrNoAccessKey = errors.New("signalr: no usable access key for client tokens")

	// ErrInvalidHubName means a hub name does not match the service's
	// pattern ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$.
	ErrInvalidHubName = errors.New("signalr: invalid hub name")

	// ErrInvalidGroupName means a group name is empty, only white space or
	// longer than 1024 bytes.
	ErrInvalidGroupName = errors.New("signalr: invalid group name")

	// ErrTokenTooLong means a client access token would be longer than the
	// 4096 characters the service accepts, usually because of too many or
	// too large custom claims.
	ErrTokenTooLong = errors.New("signalr: access token longer than 4K")

	// ErrInvalidClaim means a custom claim cannot be put in a token.
	ErrInvalidClaim = errors.New("signalr: invalid claim")

	// ErrMissingSetting means the app setting that should hold the
	// connection string is not set anywhere it was looked up.
	ErrMissingSetting = errors.New("signalr: connection string setting not found")

	// ErrInvalidBinding means a binding declaration (in Go or in a
	// function.json file) is malformed.
	ErrInvalidBinding = errors.New("signalr: invalid binding")

	// ErrMissingBindingData means a binding expression such as
	// {headers.x-ms-client-principal-id} referred to a value the request does
	// not have. The library never mints an anonymous token in its place.
	ErrMissingBindingData = errors.New("signalr: binding expression refers to a missing value")
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

	// ErrMaybeApplied is wrapped by the error of a request that may have
	// been applied although it failed: it was sent in full and then no
	// answer came (a reset, a timeout), or the answer was 500, 502 or 504,
	// which do not say whether the service acted on it. Resending such a
	// request may apply it twice. See RetryOptions for the semantics.
	ErrMaybeApplied = errors.New("signalr: the service may have applied the request")

	// ErrUnsupportedOperation means the REST API version the Client is
	// configured with has no route for the operation: the v1 API cannot
	// close connections in bulk or remove a connection from all groups, and
	// has no equivalent of the operations 2023-07-01 and 2024-12-01 added
	// (Invoke, GroupMembers, Execute, the streams, ClientTokensFromService).
	// With a dated version those use the version they need instead.
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
// It never holds the bearer token, nor anything the service's answer holds
// that is shaped like a key or a JWT (in plain, percent-encoded or
// JSON-escaped form, or shortened): that becomes "[token]" or
// "[redacted]". Its URL has no query string.
type ResponseError struct {
	// Method is the HTTP method of the request, such as "POST".
	Method string
	// URL is the request URL without its query string.
	URL string
	// StatusCode is the HTTP status the service answered with.
	StatusCode int
	// ErrorCode is the service's error code: the x-ms-error-code header, or
	// else the "code" member of a JSON error body, or else "" (at most 64
	// bytes).
	ErrorCode string
	// Message is the "message" member of a JSON error body (the REST API's
	// ErrorDetail; its other members are dropped), or the start of a body
	// that is not JSON; at most 512 bytes.
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

// BindingDataError says which binding expression referred to a value the
// request does not have. It wraps ErrMissingBindingData; use errors.As to
// get the details (NegotiateHandler answers 401 for a missing header, since
// that is how App Service authentication reports an anonymous caller, and
// 400 for a missing query parameter).
type BindingDataError struct {
	// Field is the binding property, such as "userId".
	Field string
	// Source is "headers" or "query".
	Source string
	// Name is the header or query parameter name.
	Name string
}

// Error names the binding property and the missing header or parameter.
func (e *BindingDataError) Error() string {
	what := "header"
	if e.Source == "query" {
		what = "query parameter"
	}
	return fmt.Sprintf("%v: %s needs the %s %q, which the request does not have", ErrMissingBindingData, e.Field, what, e.Name)
}

// Unwrap returns ErrMissingBindingData.
func (e *BindingDataError) Unwrap() error { return ErrMissingBindingData }

// DeliveryError reports one item Flush could not deliver. Flush returns
// them joined (errors.Join); find them with errors.As, or iterate with
// DeliveryErrors.
type DeliveryError struct {
	// Index is the item's position among everything added to the
	// Collector, counting from 0.
	Index int
	// Item is the Message or GroupAction, so it can be added again.
	Item OutputItem
	// Err is why: a *ResponseError, a transport error, or the context's
	// error for an item that was not attempted.
	Err error
	// MaybeApplied reports whether the service may have applied the item
	// although it failed (Err wraps ErrMaybeApplied): a request for it was
	// sent in full and then not answered, or answered 500, 502 or 504.
	// When false, the item was not applied, and adding it again cannot
	// duplicate it; when true, adding it again may.
	MaybeApplied bool
}

// Error names the item and says why it was not delivered, or that it may
// have been.
func (e *DeliveryError) Error() string {
	if e.MaybeApplied {
		return fmt.Sprintf("signalr: output item %d (%s) failed and may have been applied: %v", e.Index, describeItem(e.Item), e.Err)
	}
	return fmt.Sprintf("signalr: output item %d (%s) not delivered: %v", e.Index, describeItem(e.Item), e.Err)
}

func newDeliveryError(index int, item OutputItem, err error) *DeliveryError {
	return &DeliveryError{Index: index, Item: item, Err: err, MaybeApplied: errors.Is(err, ErrMaybeApplied)}
}

// Unwrap returns Err.
func (e *DeliveryError) Unwrap() error { return e.Err }

// DeliveryErrors returns the DeliveryErrors in an error from Flush, also
// when it has been wrapped since: it follows both Unwrap() error (as
// fmt.Errorf with one %w makes) and Unwrap() []error (errors.Join, or
// fmt.Errorf with several %w), depth first as errors.As does, and returns
// every DeliveryError it finds, in that order.
func DeliveryErrors(err error) []*DeliveryError { return collectErrors[*DeliveryError](err) }

// collectErrors walks err's tree (Unwrap() error and Unwrap() []error) and
// returns, in order, the first T on each branch: what is wrapped inside a
// T is not looked into.
func collectErrors[T error](err error) []T {
	var out []T
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if t, ok := err.(T); ok {
				out = append(out, t)
				return
			}
			switch u := err.(type) {
			case interface{ Unwrap() []error }:
				for _, e := range u.Unwrap() {
					walk(e)
				}
				return
			case interface{ Unwrap() error }:
				err = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return out
}
