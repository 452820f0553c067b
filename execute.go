package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// Command is one step of Execute: SendMessageCommand, JoinGroupCommand,
// LeaveGroupCommand or CloseConnectionCommand. The names end in Command so
// they are not mistaken for the Client methods SendMessage and
// CloseConnection, which act at once rather than inside one Execute.
type Command interface {
	command() (json.RawMessage, error)
}

// SendMessageCommand is the Execute command that sends Target(Arguments...) to
// each selected connection.
type SendMessageCommand struct {
	// Target is the client method; required.
	Target string
	// Arguments are encoded as JSON when Execute is called.
	Arguments []any
}

// JoinGroupCommand is the Execute command that adds each selected connection to
// Group.
type JoinGroupCommand struct {
	// Group is the group name; required (1 to 1024 characters).
	Group string
}

// LeaveGroupCommand is the Execute command that removes each selected connection
// from Group.
type LeaveGroupCommand struct {
	// Group is the group name; required (1 to 1024 characters).
	Group string
}

// CloseConnectionCommand is the Execute command that closes each selected
// connection.
type CloseConnectionCommand struct {
	// Reason is passed to the clients being closed; may be empty.
	Reason string
}

func (c SendMessageCommand) command() (json.RawMessage, error) {
	if c.Target == "" {
		return nil, outErrorf(ErrInvalidArgument, "SendMessageCommand.Target is empty; name the client method")
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
		return nil, fmt.Errorf("%sCommand.Group: %w", kind, err)
	}
	return json.Marshal(struct {
		Type  string `json:"type"`
		Group string `json:"group"`
	}{kind, group})
}

func (c JoinGroupCommand) command() (json.RawMessage, error) {
	return groupCommand("JoinGroup", c.Group)
}
func (c LeaveGroupCommand) command() (json.RawMessage, error) {
	return groupCommand("LeaveGroup", c.Group)
}

func (c CloseConnectionCommand) command() (json.RawMessage, error) {
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
