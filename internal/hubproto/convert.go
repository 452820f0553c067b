package hubproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Nesting bounds of value conversions.
const (
	// maxJSONDepth bounds a JSON value converted to MessagePack, as
	// encoding/json bounds what it decodes.
	maxJSONDepth = 10000
	// maxMessagePackDepth bounds a MessagePack value converted to JSON
	// (the official client's encoder stops at 100).
	maxMessagePackDepth = 100
)

var (
	errJSONTooDeep        = errors.New("JSON value nested too deeply")
	errMessagePackTooDeep = errors.New("MessagePack value nested too deeply")
)

// JSONToMessagePack converts one JSON value to MessagePack: an integer
// that fits 64 bits becomes a MessagePack integer (the smallest form),
// any other number a float64 (±Inf when out of range, as JSON.parse
// gives), and strings, booleans, null, arrays and objects (keys in their
// order) keep their types.
func JSONToMessagePack(raw []byte) ([]byte, error) {
	v, err := readJSON(raw)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := writeJSONValue(enc, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MessagePackToJSON converts one MessagePack value to JSON, keeping the
// order of map keys. Map keys must be strings; binary becomes a JSON
// string of its bytes (invalid UTF-8 replaced, as encoding/json does);
// nesting deeper than 100 is refused.
func MessagePackToJSON(raw []byte) ([]byte, error) {
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(raw))
	var buf bytes.Buffer
	if err := messagePackToJSON(dec, &buf, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonObject is a JSON object with its keys in order.
type jsonObject []jsonMember

type jsonMember struct {
	key   string
	value any
}

// readJSON reads one JSON value as nil, bool, string, json.Number, []any
// or jsonObject.
func readJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return readJSONValue(dec, 0)
}

func readJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errJSONTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			list := []any{}
			for dec.More() {
				item, err := readJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, item)
			}
			_, err := dec.Token() // ]
			return list, err
		case '{':
			obj := jsonObject{}
			for dec.More() {
				keyTok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := keyTok.(string)
				value, err := readJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj = append(obj, jsonMember{key, value})
			}
			_, err := dec.Token() // }
			return obj, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	default:
		return v, nil
	}
}

// writeJSONValue encodes a value read by readJSON.
func writeJSONValue(enc *msgpack.Encoder, v any) error {
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case string:
		return enc.EncodeString(v)
	case json.Number:
		return writeJSONNumber(enc, string(v))
	case []any:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, item := range v {
			if err := writeJSONValue(enc, item); err != nil {
				return err
			}
		}
		return nil
	case jsonObject:
		if err := enc.EncodeMapLen(len(v)); err != nil {
			return err
		}
		for _, m := range v {
			if err := enc.EncodeString(m.key); err != nil {
				return err
			}
			if err := writeJSONValue(enc, m.value); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected JSON value %T", v)
}

// writeJSONNumber encodes a JSON number: an integer that fits 64 bits as a
// MessagePack integer, anything else as a float64.
func writeJSONNumber(enc *msgpack.Encoder, n string) error {
	if !strings.ContainsAny(n, ".eE") {
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(n, 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return err
	}
	return enc.EncodeFloat64(f)
}

// encodeGoValue encodes a Go value as the module encodes results and test
// arguments in MessagePack: struct fields named by their json tags, so
// one Go type serves both protocols, and integers in their smallest form.
func encodeGoValue(enc *msgpack.Encoder, v any) error {
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	return enc.Encode(v)
}

// messagePackToJSON writes the next MessagePack value as JSON.
func messagePackToJSON(dec *msgpack.Decoder, buf *bytes.Buffer, depth int) error {
	if depth > maxMessagePackDepth {
		return errMessagePackTooDeep
	}
	code, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		buf.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := messagePackToJSON(dec, buf, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return err
		}
		buf.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			key, err := dec.DecodeString()
			if err != nil {
				return errors.New("MessagePack map key is not a string, which JSON cannot carry")
			}
			buf.Write(AppendJSONString(nil, key))
			buf.WriteByte(':')
			if err := messagePackToJSON(dec, buf, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	}
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(out)
	return nil
}
