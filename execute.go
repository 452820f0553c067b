package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// Command is one step of Execute: SendMessage, JoinGroup, LeaveGroup or
// CloseConnection.
type Command interface {
	command() (json.RawMessage, error)
}

// SendMessage is the Execute command that sends Target(Arguments...) to
// each selected connection.
type SendMessage struct {
	// Target is the client method; required.
	Target string
	// Arguments are encoded as JSON when Execute is called.
	Arguments []any
}

// JoinGroup is the Execute command that adds each selected connection to
// Group.
type JoinGroup struct {
	// Group is the group name; required (1 to 1024 characters).
	Group string
}

// LeaveGroup is the Execute command that removes each selected connection
// from Group.
type LeaveGroup struct {
	// Group is the group name; required (1 to 1024 characters).
	Group string
}

// CloseConnection is the Execute command that closes each selected
// connection.
type CloseConnection struct {
	// Reason is passed to the clients being closed; may be empty.
	Reason string
}

func (c SendMessage) command() (json.RawMessage, error) {
	if c.Target == "" {
		return nil, outErrorf(ErrInvalidArgument, "SendMessage.Target is empty; name the client method")
	}
	msg, err := encodeSendBody(c.Target, c.Arguments)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	}{"SendMessage", msg})
}

func groupCommand(kind, group string) (json.RawMessage, error) {
	if err := validateGroup(group); err != nil {
		return nil, fmt.Errorf("%s.Group: %w", kind, err)
	}
	return json.Marshal(struct {
		Type  string `json:"type"`
		Group string `json:"group"`
	}{kind, group})
}

func (c JoinGroup) command() (json.RawMessage, error)  { return groupCommand("JoinGroup", c.Group) }
func (c LeaveGroup) command() (json.RawMessage, error) { return groupCommand("LeaveGroup", c.Group) }

func (c CloseConnection) command() (json.RawMessage, error) {
	return json.Marshal(struct {
		Type   string `json:"type"`
		Reason string `json:"reason,omitempty"`
	}{"CloseConnection", c.Reason})
}

// ExecuteOptions tune Execute. Nil means the defaults.
type ExecuteOptions struct {
	// AtMostOnce stops the retries once an attempt may have reached the
	// service, as SendMessageOptions.AtMostOnce does; the error then wraps
	// ErrMaybeApplied.
	AtMostOnce bool
}

// Execute applies commands, in order, to every connection of hub that
// filter selects (the zero Filter selects them all). It uses REST API
// 2023-07-01 unless the Client is set to a later version; v1 has no
// equivalent. Like a send, it is not retried on a plain 500.
func (c *Client) Execute(ctx context.Context, hub string, filter Filter, commands []Command, opts *ExecuteOptions) error {
	if err := filter.Err(); err != nil {
		return err
	}
	if len(commands) == 0 {
		return outErrorf(ErrInvalidArgument, "Execute has no commands; give at least one")
	}
	parts := make([]json.RawMessage, len(commands))
	for i, cmd := range commands {
		if v := reflect.ValueOf(cmd); cmd == nil || v.Kind() == reflect.Pointer && v.IsNil() {
			return outErrorf(ErrInvalidArgument, "commands[%d] is nil", i)
		}
		raw, err := cmd.command()
		if err != nil {
			return fmt.Errorf("commands[%d]: %w", i, err)
		}
		parts[i] = raw
	}
	body, err := json.Marshal(parts)
	if err != nil {
		return err
	}
	a := routeArgs{hub: hub}
	if filter.expr != "" {
		a.query = []string{"filter", filter.expr}
	}
	_, err = c.doWith(ctx, restapi.Execute, &a, body, opts != nil && opts.AtMostOnce)
	return err
}
