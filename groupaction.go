package signalr

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/funcsignalr/signalr/internal/textutil"
)

// GroupActionType is what a GroupAction does. It marshals as "add",
// "remove" or "removeAll" and unmarshals those names in any letter case.
type GroupActionType string

// The group actions of the Functions SignalRGroupAction.
const (
	// GroupActionAdd adds the user or connection to GroupName.
	GroupActionAdd GroupActionType = "add"
	// GroupActionRemove removes the user or connection from GroupName.
	GroupActionRemove GroupActionType = "remove"
	// GroupActionRemoveAll removes the user or connection from every group.
	GroupActionRemoveAll GroupActionType = "removeAll"
)

// ParseGroupActionType returns the action named s in any letter case.
func ParseGroupActionType(s string) (GroupActionType, error) {
	for _, t := range []GroupActionType{GroupActionAdd, GroupActionRemove, GroupActionRemoveAll} {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	return "", outErrorf(ErrInvalidGroupAction, "action %q is unknown; use \"add\", \"remove\" or \"removeAll\"", s)
}

// UnmarshalText accepts add, remove and removeAll in any letter case.
func (t *GroupActionType) UnmarshalText(text []byte) error {
	v, err := ParseGroupActionType(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// GroupAction changes the group membership of one user or one connection,
// the Go form of the Functions SignalRGroupAction. Exactly one of UserID and
// ConnectionID must be set.
//
// Where the Functions host silently ignores an action, GroupAction is strict:
// removeAll with ConnectionID removes that connection from all groups (the
// host does nothing), and removeAll with a GroupName is an error (the host
// ignores the group), because the item says two different things.
type GroupAction struct {
	// Action is add, remove or removeAll. Required.
	Action GroupActionType `json:"action"`
	// UserID is the user whose membership changes; it applies to all of
	// the user's connections, present and future.
	UserID string `json:"userId,omitempty"`
	// ConnectionID is the one connection whose membership changes.
	ConnectionID string `json:"connectionId,omitempty"`
	// GroupName is the group; required for add and remove, and must be
	// empty for removeAll.
	GroupName string `json:"groupName,omitempty"`
	// TTL, when non-zero, limits how long a user added to a group stays in
	// it (the REST ttl query, in whole seconds). It must be at least one
	// second; a fraction of a second is rounded up, so 1.5s is sent as 2.
	// Zero means no limit beyond the service's own (up to a year). Only for
	// add with UserID. In JSON it is "ttl", a number of seconds.
	TTL time.Duration `json:"-"`
	// Endpoints, when not nil, are the endpoints of a multi-endpoint
	// Client the action applies on; see Message.Endpoints.
	Endpoints []EndpointInfo `json:"endpoints,omitempty"`
}

func (GroupAction) outputItem() {}

// MarshalJSON writes the action with its Functions property names, and TTL
// as "ttl" in seconds when set.
func (a GroupAction) MarshalJSON() ([]byte, error) {
	type plain GroupAction
	v := struct {
		plain
		TTL int64 `json:"ttl,omitempty"`
	}{plain(a), 0}
	if a.TTL > 0 {
		v.TTL = wholeSeconds(a.TTL)
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a group action object, matching property names and
// the action name case-insensitively. Errors wrap ErrInvalidGroupAction and
// name the property.
func (a *GroupAction) UnmarshalJSON(data []byte) error {
	if isJSONNull(data) {
		return nil
	}
	fields, err := foldFields(data, "group action", ErrInvalidGroupAction, groupActionFieldNames)
	if err != nil {
		return err
	}
	var out GroupAction
	var action string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"action", &action}, {"userId", &out.UserID}, {"connectionId", &out.ConnectionID}, {"groupName", &out.GroupName}} {
		if err := decodeStringField(fields, f.name, "group action", ErrInvalidGroupAction, f.dst); err != nil {
			return err
		}
	}
	if action != "" {
		if out.Action, err = ParseGroupActionType(action); err != nil {
			return err
		}
	}
	if raw, ok := fields["ttl"]; ok && !isJSONNull(raw) {
		var secs int64
		if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 {
			return outErrorf(ErrInvalidGroupAction, "ttl must be a whole, non-negative number of seconds, got %s", textutil.Truncate(string(raw), maxEchoedChars))
		}
		out.TTL = time.Duration(secs) * time.Second
	}
	if out.Endpoints, err = decodeEndpointsField(fields, "group action", ErrInvalidGroupAction); err != nil {
		return err
	}
	*a = out
	return nil
}

var groupActionFieldNames = []string{"action", "userId", "connectionId", "groupName", "ttl", "endpoints"}

// Validate reports whether the action can be applied, without any I/O. The
// error wraps ErrInvalidGroupAction (and ErrInvalidGroupName for a bad group
// name), names the field at fault and says how to fix it. Every id
// (userId, connectionId, groupName) must be valid UTF-8.
func (a GroupAction) Validate() error {
	action, err := ParseGroupActionType(string(a.Action))
	if err != nil {
		if a.Action == "" {
			return outErrorf(ErrInvalidGroupAction, `action is empty; set Action (JSON "action") to "add", "remove" or "removeAll"`)
		}
		return err
	}
	switch {
	case a.UserID != "" && a.ConnectionID != "":
		return outErrorf(ErrInvalidGroupAction, "both userId and connectionId are set; a group action applies to one user or one connection, so keep one")
	case a.UserID == "" && a.ConnectionID == "":
		return outErrorf(ErrInvalidGroupAction, "neither userId nor connectionId is set; set the one whose groups change")
	}
	for _, f := range [...]struct{ name, id string }{{"userId", a.UserID}, {"connectionId", a.ConnectionID}} {
		if err := checkText(f.name, f.id); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidGroupAction, err)
		}
	}
	if action == GroupActionRemoveAll {
		if a.GroupName != "" {
			return outErrorf(ErrInvalidGroupAction, "groupName %q is set on a removeAll action, which leaves every group; remove groupName, or use action \"remove\" to leave only that group", textutil.Truncate(a.GroupName, maxEchoedChars))
		}
	} else if err := validateGroup(a.GroupName); err != nil {
		return fmt.Errorf("%w: groupName: %w", ErrInvalidGroupAction, err)
	}
	if a.TTL != 0 {
		switch {
		case a.TTL < time.Second:
			return outErrorf(ErrInvalidGroupAction, "ttl %v is less than one second; use a positive number of seconds, or zero for no limit", a.TTL)
		case action != GroupActionAdd || a.UserID == "":
			return outErrorf(ErrInvalidGroupAction, "ttl is set, but only a user being added to a group can have one; remove ttl")
		}
	}
	return nil
}

// maxEchoedChars bounds a value echoed back in an error message.
const maxEchoedChars = 64
