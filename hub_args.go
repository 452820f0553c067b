package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MaxArgumentDepth bounds how deeply the arrays and objects of a hub method
// argument may nest; a deeper argument is refused before it is decoded.
const MaxArgumentDepth = 64

var (
	argumentType   = reflect.TypeFor[Argument]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

// decode checks the argument count and decodes each argument into its
// parameter's type. The context is the first value.
func (m *hubMethod) decode(ctx context.Context, event string, args []Argument) ([]reflect.Value, error) {
	if n := len(args); n < m.required || n > len(m.params) {
		return nil, m.countError(event, n)
	}
	in := make([]reflect.Value, 1+len(m.params))
	in[0] = reflect.ValueOf(&ctx).Elem()
	for i, t := range m.params {
		if i >= len(args) {
			in[1+i] = reflect.Zero(t)
			continue
		}
		v, err := decodeArgument(args[i], t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: argument %d must be %s: %v", event, ErrInvalidArguments, i+1, describeType(t), err)
		}
		in[1+i] = v
	}
	return in, nil
}

func (m *hubMethod) countError(event string, n int) error {
	want := fmt.Sprintf("%d argument(s)", len(m.params))
	if m.required < len(m.params) {
		want = fmt.Sprintf("%d to %d arguments", m.required, len(m.params))
	}
	types := make([]string, len(m.params))
	for i, t := range m.params {
		types[i] = describeType(t)
	}
	return fmt.Errorf("%s: %w: it takes %s (%s), the client sent %d", event, ErrInvalidArguments, want, strings.Join(types, ", "), n)
}

// decodeArgument decodes a into a new value of type t.
func decodeArgument(a Argument, t reflect.Type) (reflect.Value, error) {
	if len(a.raw) == 0 {
		return reflect.Value{}, errors.New("the argument is empty")
	}
	if err := checkArgumentDepth(a, MaxArgumentDepth); err != nil {
		return reflect.Value{}, err
	}
	switch t {
	case argumentType:
		return reflect.ValueOf(a), nil
	case rawMessageType:
		raw, err := a.MarshalJSON()
		if err != nil {
			return reflect.Value{}, err
		}
		if !a.msgpack {
			raw = bytes.Clone(raw)
		}
		return reflect.ValueOf(json.RawMessage(raw)), nil
	}
	p := reflect.New(t)
	if err := a.Decode(p.Interface()); err != nil {
		return reflect.Value{}, explainDecodeError(err)
	}
	return p.Elem(), nil
}

// explainDecodeError words a decoder's error for the client.
func explainDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Errorf("the client sent a %s for field %s", te.Value, te.Field)
		}
		return fmt.Errorf("the client sent a %s", te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("the argument is not valid JSON")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "msgpack: "))
}

// describeType names what a client must send for t.
func describeType(t reflect.Type) string {
	switch t {
	case argumentType, rawMessageType:
		return "any value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem()) + " or null"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 text or binary"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		if t.Kind() == reflect.Struct && t.Name() != "" {
			return "an object (" + t.Name() + ")"
		}
		return "an object"
	case reflect.Interface:
		return "any value"
	}
	return t.String()
}

// checkArgumentDepth refuses an argument whose arrays and maps nest deeper
// than limit, without decoding it.
func checkArgumentDepth(a Argument, limit int) error {
	if !a.msgpack {
		return checkJSONDepth(a.raw, limit)
	}
	return checkMsgpackDepth(a.raw, limit)
}

func checkJSONDepth(raw []byte, limit int) error {
	depth, inString := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > limit {
				return fmt.Errorf("the argument nests deeper than %d levels", limit)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// checkMsgpackDepth walks raw's containers with an explicit stack of the
// elements each has left.
func checkMsgpackDepth(raw []byte, limit int) error {
	dec := msgpack.NewDecoder(bytes.NewReader(raw))
	left := []int{1}
	for len(left) > 0 {
		if left[len(left)-1] == 0 {
			left = left[:len(left)-1]
			continue
		}
		left[len(left)-1]--
		code, err := dec.PeekCode()
		if err != nil {
			return err
		}
		n := -1
		switch {
		case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
			n, err = dec.DecodeArrayLen()
		case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
			n, err = dec.DecodeMapLen()
			n *= 2
		default:
			err = dec.Skip()
		}
		if err != nil {
			return err
		}
		if n >= 0 {
			if n > len(raw) {
				return errors.New("a container claims more elements than the argument has bytes")
			}
			if len(left) > limit {
				return fmt.Errorf("the argument nests deeper than %d levels", limit)
			}
			left = append(left, n)
		}
	}
	return nil
}
