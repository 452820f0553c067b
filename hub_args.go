package signalr

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

var (
	argumentType   = reflect.TypeFor[Argument]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

// callFrame is the reusable storage of one call: the arguments Call gets,
// and an addressable value per parameter that arguments are decoded into.
// The method gets copies, so the storage is zeroed and reused.
type callFrame struct {
	in    []reflect.Value
	store []reflect.Value
}

// decode checks the argument count and decodes each argument into its
// parameter's type, in a frame from the method's pool; release returns it.
func (m *hubMethod) decode(ctx context.Context, event string, args []Argument) (*callFrame, error) {
	if n := len(args); n < m.required || n > len(m.params) {
		return nil, m.countError(event, n)
	}
	f, _ := m.frames.Get().(*callFrame)
	if f == nil {
		f = &callFrame{in: make([]reflect.Value, m.first()+len(m.params)), store: make([]reflect.Value, len(m.params))}
		for i, t := range m.params {
			f.store[i] = reflect.New(t).Elem()
		}
	}
	first := m.first()
	if m.hasRecv {
		f.in[0] = m.recv
	}
	if hc, ok := ctx.(*hubContext); ok {
		// A Value of the interface type: no allocation, and Call need
		// not check that the concrete type implements it.
		f.in[first-1] = reflect.ValueOf(&hc.self).Elem()
	} else {
		f.in[first-1] = reflect.ValueOf(&ctx).Elem()
	}
	for i, t := range m.params {
		f.in[first+i] = f.store[i]
		if i >= len(args) {
			continue // an optional argument: nil
		}
		if err := decodeArgument(args[i], f.store[i], m.plain[i]); err != nil {
			m.release(f)
			return nil, fmt.Errorf("%s: %w: argument %d must be %s: %v", event, ErrInvalidArguments, i+1, describeType(t), err)
		}
	}
	return f, nil
}

// release zeroes f, so it holds on to nothing of the call, and pools it.
func (m *hubMethod) release(f *callFrame) {
	for _, v := range f.store {
		v.SetZero()
	}
	first := m.first()
	f.in[first-1] = reflect.Value{}
	m.frames.Put(f)
}

// first is the index of the first decoded argument in the call's
// arguments: after the receiver, if any, and the context.
func (m *hubMethod) first() int {
	if m.hasRecv {
		return 2
	}
	return 1
}

func (m *hubMethod) countError(event string, n int) error {
	want := fmt.Sprintf("%d argument(s)", len(m.params))
	if m.required < len(m.params) {
		want = fmt.Sprintf("%d to %d arguments", m.required, len(m.params))
	}
	if len(m.params) == 0 {
		return fmt.Errorf("%s: %w: it takes no arguments, the client sent %d", event, ErrInvalidArguments, n)
	}
	types := make([]string, len(m.params))
	for i, t := range m.params {
		types[i] = describeType(t)
	}
	return fmt.Errorf("%s: %w: it takes %s (%s), the client sent %d", event, ErrInvalidArguments, want, strings.Join(types, ", "), n)
}

// decodeArgument decodes a into dst, an addressable zero value of the
// parameter's type; plain says the type is a plainKind.
func decodeArgument(a Argument, dst reflect.Value, plain bool) error {
	if len(a.raw) == 0 {
		return errors.New("the argument is empty")
	}
	if plain && !a.msgpack && decodePlainJSON(a.raw, dst) {
		return nil // a scalar: nothing nests
	}
	if plain && a.msgpack {
		if handled, err := decodePlainMsgpack(a.raw, dst); handled {
			if err != nil {
				dst.SetZero()
			}
			return err
		}
	}
	if err := checkArgumentDepth(a); err != nil {
		return err
	}
	switch dst.Type() {
	case argumentType:
		*dst.Addr().Interface().(*Argument) = a
		return nil
	case rawMessageType:
		raw, err := a.MarshalJSON()
		if err != nil {
			return err
		}
		if !a.msgpack {
			raw = bytes.Clone(raw)
		}
		*dst.Addr().Interface().(*json.RawMessage) = raw
		return nil
	}
	if err := a.Decode(dst.Addr().Interface()); err != nil {
		dst.SetZero()
		return explainDecodeError(err)
	}
	return nil
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// plainKind reports whether t is a string, integer, float or boolean type
// that decodes as encoding/json decodes its kind (it has no UnmarshalJSON
// or UnmarshalText of its own).
func plainKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return false
	}
	pt := reflect.PointerTo(t)
	return !pt.Implements(jsonUnmarshalerType) && !pt.Implements(textUnmarshalerType)
}

// decodePlainJSON decodes the common JSON scalars without encoding/json: a
// string with nothing escaped, a number, a boolean. It reports false for
// anything else (null, escapes, a number of the wrong form or range), which
// encoding/json then decodes or explains.
func decodePlainJSON(raw []byte, v reflect.Value) bool {
	t := v.Type()
	switch t.Kind() {
	case reflect.String:
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return false
		}
		body := raw[1 : len(raw)-1]
		ascii := true
		for _, c := range body {
			if c < 0x20 || c == '\\' || c == '"' {
				return false
			}
			ascii = ascii && c < utf8.RuneSelf
		}
		if !ascii && !utf8.Valid(body) {
			return false // encoding/json replaces the invalid bytes
		}
		v.SetString(string(body))
	case reflect.Bool:
		switch string(raw) {
		case "true":
			v.SetBool(true)
		case "false":
		default:
			return false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !jsonInteger(raw) {
			return false
		}
		n, err := strconv.ParseInt(string(raw), 10, t.Bits())
		if err != nil {
			return false
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !jsonInteger(raw) || raw[0] == '-' {
			return false
		}
		n, err := strconv.ParseUint(string(raw), 10, t.Bits())
		if err != nil {
			return false
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return false
		}
		for _, c := range raw {
			if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
				return false
			}
		}
		f, err := strconv.ParseFloat(string(raw), t.Bits())
		if err != nil {
			return false
		}
		v.SetFloat(f)
	default:
		return false
	}
	return true
}

// decodePlainMsgpack decodes a MessagePack number into a numeric kind,
// converting between the integer and float encodings as a JSON number
// would (a client's 2.0 may arrive as a float, a float32 parameter gets
// the float64 JavaScript sends), and refuses a value outside the
// parameter's range or a fraction for an integer (the generic decoder would
// truncate both). handled is false for anything else, which the generic
// decoder then decodes or explains.
func decodePlainMsgpack(raw []byte, v reflect.Value) (handled bool, err error) {
	dec := msgpack.NewDecoder(bytes.NewReader(raw))
	code, err := dec.PeekCode()
	if err != nil {
		return false, nil
	}
	isFloat := code == msgpcode.Float || code == msgpcode.Double
	isInt := msgpcode.IsFixedNum(code) || code == msgpcode.Uint8 || code == msgpcode.Uint16 || code == msgpcode.Uint32 || code == msgpcode.Uint64 ||
		code == msgpcode.Int8 || code == msgpcode.Int16 || code == msgpcode.Int32 || code == msgpcode.Int64
	if !isFloat && !isInt || len(raw) != msgpackScalarSize(code) {
		// Not a number, or bytes after it: the general path explains.
		return false, nil
	}
	outOfRange := func(x any) error { return fmt.Errorf("the client sent %v, out of range for %s", x, v.Type()) }
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f, err := dec.DecodeFloat64()
		if err != nil {
			return true, err
		}
		if v.OverflowFloat(f) {
			return true, outOfRange(f)
		}
		v.SetFloat(f)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if code == msgpcode.Uint64 {
			n, err := dec.DecodeUint64()
			if err != nil {
				return true, err
			}
			if n > math.MaxInt64 || v.OverflowInt(int64(n)) {
				return true, outOfRange(n)
			}
			v.SetInt(int64(n))
			return true, nil
		}
		n, err := msgpackInteger(dec, isFloat)
		if err != nil {
			return true, err
		}
		if v.OverflowInt(n) {
			return true, outOfRange(n)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if code == msgpcode.Uint64 {
			n, err := dec.DecodeUint64()
			if err != nil {
				return true, err
			}
			if v.OverflowUint(n) {
				return true, outOfRange(n)
			}
			v.SetUint(n)
			return true, nil
		}
		n, err := msgpackInteger(dec, isFloat)
		if err != nil {
			return true, err
		}
		if n < 0 || v.OverflowUint(uint64(n)) {
			return true, outOfRange(n)
		}
		v.SetUint(uint64(n))
	default:
		return false, nil // strings and booleans: the generic decoder is exact
	}
	return true, nil
}

// msgpackInteger reads an integer, or a float with no fraction that fits
// an int64.
func msgpackInteger(dec *msgpack.Decoder, isFloat bool) (int64, error) {
	if !isFloat {
		return dec.DecodeInt64()
	}
	f, err := dec.DecodeFloat64()
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("the client sent %v, not an integer", f)
	}
	return int64(f), nil
}

// jsonInteger reports whether raw is a JSON integer: an optional minus,
// then 0 or digits without a leading zero.
func jsonInteger(raw []byte) bool {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// explainDecodeError words a decoder's error for the client.
func explainDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		sent := "a " + te.Value
		if te.Value == "array" || te.Value == "object" {
			sent = "an " + te.Value
		}
		if te.Field != "" {
			return fmt.Errorf("the client sent %s for field %s", sent, te.Field)
		}
		return fmt.Errorf("the client sent %s", sent)
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

// checkArgumentDepth refuses an argument nested deeper than MaxNestingDepth
// without decoding it, with an error wrapping ErrTooDeep.
func checkArgumentDepth(a Argument) error {
	if !a.msgpack {
		return hubproto.CheckJSONDepth(a.raw)
	}
	return hubproto.CheckMessagePackDepth(a.raw)
}

// msgpackScalarSize is the length of the MessagePack number that starts
// with code, its code byte included; 0 for codes that are not numbers.
func msgpackScalarSize(code byte) int {
	switch {
	case msgpcode.IsFixedNum(code):
		return 1
	case code == msgpcode.Uint8, code == msgpcode.Int8:
		return 2
	case code == msgpcode.Uint16, code == msgpcode.Int16:
		return 3
	case code == msgpcode.Uint32, code == msgpcode.Int32, code == msgpcode.Float:
		return 5
	case code == msgpcode.Uint64, code == msgpcode.Int64, code == msgpcode.Double:
		return 9
	}
	return 0
}
