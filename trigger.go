package signalr

import (
	"fmt"
	"strings"
)

// Upstream categories and connection events, as the service writes them in
// the X-ASRS-Category and X-ASRS-Event headers.
const (
	// CategoryConnections is the category of the connected and
	// disconnected events.
	CategoryConnections = "connections"
	// CategoryMessages is the category of client hub-method invocations;
	// the event is the method (the invocation target).
	CategoryMessages = "messages"
	// EventConnected is sent after a client's handshake succeeds.
	EventConnected = "connected"
	// EventDisconnected is sent after a client's connection closed.
	EventDisconnected = "disconnected"
)

// DefaultUpstreamPath is the path Azure Functions serves the SignalR trigger
// on; upstream URL templates of Functions apps point at it.
const DefaultUpstreamPath = "/runtime/webhooks/signalr"

// TriggerBinding declares a SignalR trigger, the Go form of a function.json
// entry with "type": "signalRTrigger": the (hub, category, event) a handler
// answers in serverless mode. Register it with Upstream.Handle.
type TriggerBinding struct {
	// Name is the binding's name in function.json; informational in Go.
	Name string `json:"name"`
	// HubName is the hub whose events the handler receives. Required;
	// matched case-insensitively.
	HubName string `json:"hubName"`
	// Category is CategoryConnections or CategoryMessages. Required.
	Category string `json:"category"`
	// Event is EventConnected or EventDisconnected for the connections
	// category, or the hub method (invocation target) for messages.
	// Required; matched case-insensitively.
	Event string `json:"event"`
	// ParameterNames name the invocation's arguments by position, so that
	// InvocationContext.Argument can look them up by name. When set, an
	// invocation with a different number of arguments fails without
	// running the handler. Only for the messages category.
	ParameterNames []string `json:"parameterNames"`
	// ConnectionStringSetting names the app setting holding the connection
	// string whose access key signs upstream requests; empty means
	// DefaultConnectionStringSetting.
	ConnectionStringSetting string `json:"connectionStringSetting"`
}

// check validates the declaration and returns its category and event in
// canonical (lower) case. Errors wrap ErrInvalidBinding.
func (b TriggerBinding) check() (category string, err error) {
	if strings.TrimSpace(b.HubName) == "" {
		return "", fmt.Errorf("%w: signalRTrigger %q needs a hubName, such as \"chat\"", ErrInvalidBinding, b.Name)
	}
	if err := validateHub(b.HubName); err != nil {
		return "", fmt.Errorf("%w: signalRTrigger %q: hubName: %w", ErrInvalidBinding, b.Name, err)
	}
	if strings.TrimSpace(b.Event) == "" {
		return "", fmt.Errorf("%w: signalRTrigger %q needs an event: connected or disconnected for category connections, the hub method for messages", ErrInvalidBinding, b.Name)
	}
	switch category = strings.ToLower(b.Category); category {
	case CategoryConnections:
		if !strings.EqualFold(b.Event, EventConnected) && !strings.EqualFold(b.Event, EventDisconnected) {
			return "", fmt.Errorf("%w: signalRTrigger %q: event %q is not supported in connections; use connected or disconnected", ErrInvalidBinding, b.Name, b.Event)
		}
		if len(b.ParameterNames) > 0 {
			return "", fmt.Errorf("%w: signalRTrigger %q: parameterNames apply only to category messages", ErrInvalidBinding, b.Name)
		}
	case CategoryMessages:
		seen := make(map[string]bool, len(b.ParameterNames))
		for i, p := range b.ParameterNames {
			if strings.TrimSpace(p) == "" {
				return "", fmt.Errorf("%w: signalRTrigger %q: parameterNames[%d] is empty", ErrInvalidBinding, b.Name, i)
			}
			if seen[strings.ToLower(p)] {
				return "", fmt.Errorf("%w: signalRTrigger %q: parameterNames[%d] %q is repeated", ErrInvalidBinding, b.Name, i, p)
			}
			seen[strings.ToLower(p)] = true
		}
	case "":
		return "", fmt.Errorf("%w: signalRTrigger %q needs a category: connections or messages", ErrInvalidBinding, b.Name)
	default:
		return "", fmt.Errorf("%w: signalRTrigger %q: category %q is not supported; use connections or messages", ErrInvalidBinding, b.Name, b.Category)
	}
	return category, nil
}

// decodeTrigger decodes a signalRTrigger entry of function.json and checks
// it. The newer property name "connection" is accepted for
// connectionStringSetting.
func decodeTrigger(where string, raw []byte) (TriggerBinding, error) {
	var b struct {
		TriggerBinding
		Connection string `json:"connection"`
	}
	if err := decodeBinding(where, raw, &b); err != nil {
		return TriggerBinding{}, err
	}
	t := b.TriggerBinding
	if t.ConnectionStringSetting == "" {
		t.ConnectionStringSetting = b.Connection
	}
	if _, err := t.check(); err != nil {
		return TriggerBinding{}, fmt.Errorf("%s: %w", where, err)
	}
	return t, nil
}
