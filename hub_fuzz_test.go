package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fuzzHub has parameters of every kind a hub method takes.
type fuzzHub struct{}

type fuzzPoint struct {
	X    int            `json:"x"`
	Name string         `json:"name"`
	Next *fuzzPoint     `json:"next"`
	Tags map[string]int `json:"tags"`
}

func (fuzzHub) All(_ context.Context, s string, n int, f float64, b bool, p fuzzPoint, xs []int, m map[string]any,
	raw json.RawMessage, a Argument, v any, opt *uint16) error {
	return nil
}

// FuzzHubArguments decodes arbitrary JSON and MessagePack arguments into
// every parameter type of a hub method: nothing panics, every failure is an
// ErrInvalidArguments naming the argument, an argument nested deeper than
// MaxNestingDepth is refused, and what decodes encodes back to JSON.
func FuzzHubArguments(f *testing.F) {
	for _, s := range []struct {
		raw     string
		msgpack bool
	}{
		{`"hello"`, false}, {`42`, false}, {`1.5e300`, false}, {`true`, false}, {`null`, false},
		{`{"x":1,"name":"a","next":{"x":2,"next":null},"tags":{"k":3}}`, false},
		{`[1,2,3]`, false}, {`{"a":[{"b":{}}]}`, false}, {strings.Repeat("[", 101) + strings.Repeat("]", 101), false},
		{`"\u00e9\ud83d\ude00"`, false}, {`{"x":"not a number"}`, false}, {`[1,`, false},
		{"\xa5hello", true}, {"\x2a", true}, {"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", true}, {"\xc3", true}, {"\xc0", true},
		{"\x83\xa1x\x01\xa4name\xa1a\xa4tags\x81\xa1k\x03", true}, {"\x93\x01\x02\x03", true},
		{strings.Repeat("\x91", 101) + "\xc0", true}, {"\xdd\xff\xff\xff\xff", true}, {"\xc4\x03abc", true},
	} {
		f.Add([]byte(s.raw), s.msgpack)
	}
	hub, err := NewHub(fuzzHub{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	m := hub.methods["messages/all"]
	f.Fuzz(func(t *testing.T, raw []byte, msgpack bool) {
		arg := Argument{raw: raw, msgpack: msgpack}
		deep := checkArgumentDepth(arg) != nil
		for i, typ := range m.params {
			v := reflect.New(typ).Elem()
			if err := decodeArgument(arg, v, m.plain[i]); err != nil {
				if !v.IsZero() {
					t.Fatalf("param %d (%s): a failed decode left %#v", i, typ, v.Interface())
				}
				continue
			}
			if deep {
				t.Fatalf("param %d (%s): an argument deeper than %d decoded", i, typ, MaxNestingDepth)
			}
			if v.Type() != typ {
				t.Fatalf("param %d: decoded a %s, want %s", i, v.Type(), typ)
			}
			if typ == argumentType || typ == rawMessageType && !msgpack && !json.Valid(raw) {
				continue // passed on as it came; the body decoder checked it
			}
			if _, err := json.Marshal(v.Interface()); err != nil && !errors.As(err, new(*json.UnsupportedValueError)) {
				t.Fatalf("param %d (%s): decoded %#v does not encode as JSON: %v", i, typ, v.Interface(), err)
			}
		}
		// Through the method: the error names the method and argument.
		args := make([]Argument, len(m.params))
		for i := range args {
			args[i] = arg
		}
		if _, err := m.decode(context.Background(), "all", args); err != nil {
			if !errors.Is(err, ErrInvalidArguments) || !strings.HasPrefix(err.Error(), "all: invalid arguments: argument ") {
				t.Fatalf("error %q does not name the argument", err)
			}
		}
		if _, err := m.decode(context.Background(), "all", args[:1]); !errors.Is(err, ErrInvalidArguments) {
			t.Fatalf("a short call was not refused: %v", err)
		}
	})
}
