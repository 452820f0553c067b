package hubproto

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// JSONToMessagePack converts one JSON value to MessagePack: an integer
// that fits 64 bits becomes a MessagePack integer (the smallest form),
// any other number a float64 (±Inf when out of range, as JSON.parse
// gives), and strings, booleans, null, arrays and objects (keys in their
// order) keep their types. A value nested deeper than MaxNestingDepth is
// refused with an error wrapping ErrTooDeep.
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

// MessagePackToJSON converts one MessagePack value to JSON, as the module
// hands a MessagePack client's values to JSON code:
//
//   - map keys keep their order; string keys are written as they are,
//     integer keys as their decimal string (as JavaScript objects key
//     them); other keys are refused;
//   - binary becomes a base64 string, as encoding/json writes a []byte;
//   - a timestamp (extension type -1) becomes an RFC 3339 string in UTC,
//     as encoding/json writes a time.Time; other extensions are refused;
//   - a float that is NaN or infinite is refused (JSON has no form for it).
//
// raw must be exactly one well-formed value, nested no deeper than
// MaxNestingDepth (the error wraps ErrTooDeep); it is checked without
// recursion before it is converted.
func MessagePackToJSON(raw []byte) ([]byte, error) {
	if err := CheckMessagePackDepth(raw); err != nil {
		return nil, err
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(raw))
	buf := make([]byte, 0, len(raw)+len(raw)/2)
	return appendMessagePackJSON(buf, dec)
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
	if err := CheckJSONDepth(raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return readJSONValue(dec, 0)
}

func readJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > MaxNestingDepth { // CheckJSONDepth let it through: never
		return nil, fmt.Errorf("JSON %w", ErrTooDeep)
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

// appendMessagePackJSON appends the next MessagePack value as JSON (see
// MessagePackToJSON). The value was checked by CheckMessagePackDepth, so
// the recursion is at most MaxNestingDepth deep.
func appendMessagePackJSON(buf []byte, dec *msgpack.Decoder) ([]byte, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case code == msgpcode.Nil:
		return append(buf, "null"...), dec.DecodeNil()
	case code == msgpcode.False, code == msgpcode.True:
		b, err := dec.DecodeBool()
		return strconv.AppendBool(buf, b), err
	case isMessagePackInt(code):
		return appendMessagePackInt(buf, dec, code)
	case code == msgpcode.Float, code == msgpcode.Double:
		f, err := dec.DecodeFloat64()
		if err != nil {
			return nil, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("MessagePack float %v has no JSON form", f)
		}
		b, _ := json.Marshal(f) // finite floats always marshal
		return append(buf, b...), nil
	case msgpcode.IsString(code):
		s, err := dec.DecodeString()
		return AppendJSONString(buf, s), err
	case msgpcode.IsBin(code):
		b, err := dec.DecodeBytes()
		if err != nil {
			return nil, err
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, b)
		return append(buf, '"'), nil
	case msgpcode.IsExt(code):
		return appendMessagePackExt(buf, dec)
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		buf = append(buf, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendMessagePackJSON(buf, dec); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		buf = append(buf, '{')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendMessagePackKey(buf, dec); err != nil {
				return nil, err
			}
			buf = append(buf, ':')
			if buf, err = appendMessagePackJSON(buf, dec); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	}
	return nil, fmt.Errorf("MessagePack code 0x%02x has no JSON form", code)
}

// isMessagePackInt reports whether code starts an integer.
func isMessagePackInt(code byte) bool {
	switch code {
	case msgpcode.Uint8, msgpcode.Uint16, msgpcode.Uint32, msgpcode.Uint64,
		msgpcode.Int8, msgpcode.Int16, msgpcode.Int32, msgpcode.Int64:
		return true
	}
	return msgpcode.IsFixedNum(code)
}

// appendMessagePackInt appends the integer at code as a JSON number.
func appendMessagePackInt(buf []byte, dec *msgpack.Decoder, code byte) ([]byte, error) {
	if code == msgpcode.Uint64 {
		u, err := dec.DecodeUint64()
		return strconv.AppendUint(buf, u, 10), err
	}
	i, err := dec.DecodeInt64()
	return strconv.AppendInt(buf, i, 10), err
}

// appendMessagePackKey appends a map key as a JSON string: a string as it
// is, an integer as its decimal digits; any other key is refused.
func appendMessagePackKey(buf []byte, dec *msgpack.Decoder) ([]byte, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsString(code):
		s, err := dec.DecodeString()
		return AppendJSONString(buf, s), err
	case isMessagePackInt(code):
		buf = append(buf, '"')
		if buf, err = appendMessagePackInt(buf, dec, code); err != nil {
			return nil, err
		}
		return append(buf, '"'), nil
	}
	return nil, fmt.Errorf("MessagePack map key of type %s is neither a string nor an integer, which a JSON object cannot key by", messagePackKind(code))
}

// messagePackKind names the type a code starts, for errors.
func messagePackKind(code byte) string {
	switch {
	case code == msgpcode.Nil:
		return "nil"
	case code == msgpcode.False, code == msgpcode.True:
		return "boolean"
	case code == msgpcode.Float, code == msgpcode.Double:
		return "float"
	case msgpcode.IsBin(code):
		return "binary"
	case msgpcode.IsExt(code):
		return "extension"
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32:
		return "array"
	case msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		return "map"
	}
	return fmt.Sprintf("0x%02x", code)
}

// timestampExt is the MessagePack extension type of timestamps.
const timestampExt = -1

// appendMessagePackExt appends a timestamp as an RFC 3339 string in UTC
// and refuses any other extension type.
func appendMessagePackExt(buf []byte, dec *msgpack.Decoder) ([]byte, error) {
	id, n, err := dec.DecodeExtHeader()
	if err != nil {
		return nil, err
	}
	if id != timestampExt {
		return nil, fmt.Errorf("MessagePack extension type %d has no JSON form (only timestamps, type -1, have one)", id)
	}
	payload := make([]byte, n)
	if err := dec.ReadFull(payload); err != nil {
		return nil, err
	}
	var sec, nsec int64
	switch n {
	case 4:
		sec = int64(binary.BigEndian.Uint32(payload))
	case 8:
		v := binary.BigEndian.Uint64(payload)
		sec, nsec = int64(v&(1<<34-1)), int64(v>>34)
	case 12:
		nsec = int64(binary.BigEndian.Uint32(payload))
		sec = int64(binary.BigEndian.Uint64(payload[4:]))
	default:
		return nil, fmt.Errorf("MessagePack timestamp has %d bytes; want 4, 8 or 12", n)
	}
	if nsec > 999_999_999 {
		return nil, fmt.Errorf("MessagePack timestamp has %d nanoseconds, more than a second", nsec)
	}
	t := time.Unix(sec, nsec).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("MessagePack timestamp is in year %d, which RFC 3339 cannot write", y)
	}
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"'), nil
}
