package signalr

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// OutputItem is one thing an output binding sends: a Message or a
// GroupAction. No other type implements it.
type OutputItem interface {
	// Validate reports whether the item can be sent, without any I/O.
	Validate() error
	outputItem()
}

// ParseOutput decodes the value a JavaScript or Python function assigns to
// a SignalR output binding, so that payload works unchanged in Go:
//
//   - one JSON object, or a JSON array of them (context.bindings.x = [...]);
//   - a JSON string holding either (Python's out.set(json.dumps(...)) as it
//     reaches a custom handler);
//   - null or [] for nothing.
//
// An object with "target" is a Message, one with "action" a GroupAction,
// matched case-insensitively; a null value counts as absent. An object with
// both is an error: the Functions host would send it as a message and drop
// the action. Every item is validated; the first bad item makes the whole
// call fail with an error that gives its index and wraps
// ErrInvalidOutputItem, ErrInvalidMessage or ErrInvalidGroupAction.
func ParseOutput(data []byte) ([]OutputItem, error) {
	data = bytes.TrimSpace(data)
	if err := hubproto.CheckJSONDepth(data); err != nil {
		return nil, outErrorf(ErrInvalidOutputItem, "output: %w", err)
	}
	if len(data) > 0 && data[0] == '"' {
		var inner string
		if err := json.Unmarshal(data, &inner); err != nil {
			return nil, outErrorf(ErrInvalidOutputItem, "output is not valid JSON: %v", err)
		}
		data = bytes.TrimSpace([]byte(inner))
		if len(data) > 0 && data[0] == '"' {
			return nil, outErrorf(ErrInvalidOutputItem, "output is a string holding a string; encode the object or array only once")
		}
	}
	if !json.Valid(data) {
		return nil, outErrorf(ErrInvalidOutputItem, "output is not valid JSON; give an object or an array of objects")
	}
	switch {
	case isJSONNull(data):
		return nil, nil
	case data[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, outErrorf(ErrInvalidOutputItem, "output array cannot be read: %v", err)
		}
		items := make([]OutputItem, 0, len(raws))
		for i, raw := range raws {
			it, err := parseOutputItem(raw)
			if err != nil {
				return nil, fmt.Errorf("output item %d: %w", i, err)
			}
			items = append(items, it)
		}
		return items, nil
	default:
		it, err := parseOutputItem(data)
		if err != nil {
			return nil, err
		}
		return []OutputItem{it}, nil
	}
}

// parseOutputItem decodes and validates one JSON object, with no space
// around it, as a Message or a GroupAction.
func parseOutputItem(raw []byte) (OutputItem, error) {
	keys, err := foldFields(raw, "output item", ErrInvalidOutputItem, []string{"target", "action"})
	if err != nil {
		return nil, err
	}
	hasTarget := keys["target"] != nil && !isJSONNull(keys["target"])
	hasAction := keys["action"] != nil && !isJSONNull(keys["action"])
	var it OutputItem
	switch {
	case hasTarget && hasAction:
		return nil, outErrorf(ErrInvalidOutputItem, `the item has both "target" (a message) and "action" (a group action); split it into two items`)
	case hasTarget:
		var m Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		it = m
	case hasAction:
		var a GroupAction
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		it = a
	default:
		return nil, outErrorf(ErrInvalidOutputItem, `the item has neither "target" (for a message) nor "action" (for a group action); add one`)
	}
	if err := it.Validate(); err != nil {
		return nil, err
	}
	return it, nil
}
