package hubproto

import (
	"errors"
	"fmt"
)

// MaxNestingDepth is the deepest nesting of arrays and objects (MessagePack
// maps) that any decoder of client data in this module accepts: `[[1]]` is
// nested 2 deep. Everything a client, an app or a REST caller sends is
// checked against it, without recursion, before a recursive decoder
// (encoding/json, msgpack, the conversions here) or a handler sees it.
//
// 100 is what the official JavaScript client's MessagePack encoder
// accepts (it throws beyond it), so no value a real client sends is
// refused; a recursive decoder 100 levels deep uses a few KiB of stack,
// where a million levels (a 1 MiB body) overflowed Go's 1 GB stack and
// killed the process.
const MaxNestingDepth = 100

// ErrTooDeep is wrapped by the errors for a value nested deeper than
// MaxNestingDepth.
var ErrTooDeep = errors.New("value nests arrays and objects more than 100 deep, the limit (MaxNestingDepth)")

// errBadJSON is returned by CheckJSONDepth for brackets that do not pair.
var errBadJSON = errors.New("JSON value has unbalanced brackets")

// CheckJSONDepth returns an error wrapping ErrTooDeep if raw, JSON text,
// nests arrays and objects deeper than MaxNestingDepth. It counts brackets
// outside strings in one pass without recursion; it checks no other
// syntax, beyond refusing a closing bracket with nothing open.
func CheckJSONDepth(raw []byte) error {
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			// Skip the string: its brackets do not count.
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
			if depth > MaxNestingDepth {
				return fmt.Errorf("JSON %w", ErrTooDeep)
			}
		case ']', '}':
			depth--
			if depth < 0 {
				return errBadJSON
			}
		}
	}
	return nil
}

// CheckMessagePackDepth returns an error if raw is not exactly one
// well-formed MessagePack value, wrapping ErrTooDeep if it nests arrays
// and maps deeper than MaxNestingDepth. It walks raw without recursion.
func CheckMessagePackDepth(raw []byte) error {
	end, err := skipMessagePack(raw, 0)
	if err != nil {
		return err
	}
	if end != len(raw) {
		return errors.New("MessagePack value is followed by other bytes")
	}
	return nil
}
