package hubproto

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// msgpackMessage returns a length-prefixed message whose body is n bytes:
// a MessagePack str8/16/32 of the right length, so that the body is valid
// MessagePack whatever n (n >= 3).
func msgpackBody(n int) []byte {
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	// Find the string length whose encoding is exactly n bytes.
	for l := n; l >= 0; l-- {
		b.Reset()
		require.NoError(nil, enc.EncodeString(strings.Repeat("s", l)))
		if b.Len() == n {
			return b.Bytes()
		}
	}
	panic("no string encodes to that size")
}

// TestVarIntBoundaries checks the length prefix where it grows a byte:
// 127 takes one byte, 128 two, 16383 two, 16384 three, and that messages
// of those sizes come back whole.
func TestVarIntBoundaries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size, prefixBytes int
	}{{0, 1}, {127, 1}, {128, 2}, {16383, 2}, {16384, 3}, {2097151, 3}, {2097152, 4}} {
		prefix := appendVarInt(nil, tc.size)
		assert.Len(t, prefix, tc.prefixBytes, "prefix of %d", tc.size)
		size, n, err := readVarInt(prefix)
		require.NoError(t, err)
		assert.Equal(t, tc.prefixBytes, n)
		assert.Equal(t, uint64(tc.size), size)
	}
	// The exact bytes the official clients write.
	assert.Equal(t, []byte{0x7f}, appendVarInt(nil, 127))
	assert.Equal(t, []byte{0x80, 0x01}, appendVarInt(nil, 128))
	assert.Equal(t, []byte{0xff, 0x7f}, appendVarInt(nil, 16383))
	assert.Equal(t, []byte{0x80, 0x80, 0x01}, appendVarInt(nil, 16384))

	for _, size := range []int{127, 128, 16383, 16384} {
		body := msgpackBody(size)
		framed := MessagePack.Frame(nil, body)
		r := &lengthPrefixedReader{limit: 1 << 20}
		got, err := r.Split(append([]byte(nil), framed...))
		require.NoError(t, err)
		require.Len(t, got, 1, "size %d", size)
		assert.Equal(t, body, got[0])
		assert.Empty(t, r.pending())
	}
}

// TestLengthPrefixedReaderSplitReads feeds messages of the boundary sizes
// cut at every kind of point: inside the prefix, right after it, inside
// the body, and several messages in one read.
func TestLengthPrefixedReaderSplitReads(t *testing.T) {
	t.Parallel()
	var stream []byte
	var want [][]byte
	for _, size := range []int{3, 127, 128, 16383, 16384, 5} {
		body := msgpackBody(size)
		want = append(want, body)
		stream = append(stream, MessagePack.Frame(nil, body)...)
	}
	for _, step := range []int{1, 2, 3, 127, 128, 129, 16384, len(stream)} {
		r := &lengthPrefixedReader{limit: 1 << 20}
		var got [][]byte
		for i := 0; i < len(stream); i += step {
			frame := append([]byte(nil), stream[i:min(i+step, len(stream))]...)
			msgs, err := r.Split(frame)
			require.NoError(t, err)
			for _, m := range msgs {
				got = append(got, append([]byte(nil), m...))
			}
		}
		require.Equal(t, want, got, "reads of %d bytes", step)
		assert.Empty(t, r.pending())
	}
}

func TestLengthPrefixedReaderRefusals(t *testing.T) {
	t.Parallel()
	r := &lengthPrefixedReader{limit: 16384}
	_, err := r.Split(appendVarInt(nil, 16385))
	assert.ErrorIs(t, err, ErrTooLarge, "a prefix over the limit is refused before the body arrives")

	r = &lengthPrefixedReader{limit: 16384}
	_, err = r.Split(MessagePack.Frame(nil, msgpackBody(16384)))
	assert.NoError(t, err, "a message of exactly the limit is accepted")

	r = &lengthPrefixedReader{limit: 1 << 20}
	_, err = r.Split([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	assert.ErrorIs(t, err, ErrBadLengthPrefix, "six prefix bytes")
	_, err = (&lengthPrefixedReader{limit: 1 << 30}).Split([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	assert.ErrorIs(t, err, ErrBadLengthPrefix, "over 2 GiB")
}

func TestParseMessagePackMessage(t *testing.T) {
	t.Parallel()
	enc := func(v ...any) []byte {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		return b
	}
	m, err := MessagePack.Parse(enc(1, map[string]string{"h": "v"}, "7", "echo", []any{1, "x"}))
	require.NoError(t, err)
	assert.Equal(t, TypeInvocation, m.Type)
	require.NotNil(t, m.InvocationID)
	assert.Equal(t, "7", *m.InvocationID)
	assert.Equal(t, "echo", m.Target)

	m, err = MessagePack.Parse(enc(1, map[string]string{}, nil, "send", []any{}, []string{}))
	require.NoError(t, err)
	assert.Nil(t, m.InvocationID, "fire and forget")
	assert.Equal(t, "send", m.Target)

	m, err = MessagePack.Parse(enc(6))
	require.NoError(t, err)
	assert.Equal(t, TypePing, m.Type)

	m, err = MessagePack.Parse(enc(7, nil))
	require.NoError(t, err)
	assert.Equal(t, TypeClose, m.Type)

	m, err = MessagePack.Parse(enc(3, map[string]string{}, "4", 2))
	require.NoError(t, err)
	assert.Equal(t, TypeCompletion, m.Type)
	assert.Equal(t, "4", *m.InvocationID)

	for name, bad := range map[string][]byte{
		"empty":            {},
		"not an array":     {0xa1, 'x'},
		"empty array":      {0x90},
		"string type":      enc("1"),
		"short invocation": enc(1, map[string]string{}, nil, "x"),
		"headers not map":  enc(1, "h", nil, "x", []any{}),
		"target not str":   enc(1, map[string]string{}, nil, 5, []any{}),
		"args not array":   enc(1, map[string]string{}, nil, "x", "args"),
		"trailing bytes":   append(enc(6), 0x01),
		"truncated":        enc(1, map[string]string{}, nil, "target", []any{})[:8],
		"reserved 0xc1":    {0x91, 0xc1},
		"huge array":       {0xdd, 0x7f, 0xff, 0xff, 0xff},
	} {
		_, err := MessagePack.Parse(bad)
		assert.Error(t, err, name)
	}
}

// TestSkipMessagePackDeepNesting: a message nested a million arrays deep
// is walked without recursion and refused once it passes the limit; at
// the limit, in arrays and maps, it is walked to its end.
func TestSkipMessagePackDeepNesting(t *testing.T) {
	t.Parallel()
	deep := bytes.Repeat([]byte{0x91}, 1<<20)
	deep = append(deep, 0xc0)
	_, err := skipMessagePack(deep, 0)
	assert.ErrorIs(t, err, ErrTooDeep)

	// MaxNestingDepth levels, alternating {k: [ and [x, {, with siblings
	// after each nested value so that the counters must pop correctly.
	var b []byte
	for i := 0; i < MaxNestingDepth; i++ {
		if i%2 == 0 {
			b = append(b, 0x82, 0xa1, 'k') // {"k": <next>, 1: nil}
		} else {
			b = append(b, 0x93, 0x01) // [1, <next>, true]
		}
	}
	for i := MaxNestingDepth - 1; i >= 0; i-- {
		if i == MaxNestingDepth-1 {
			b = append(b, 0xc0) // the innermost <next>
		}
		if i%2 == 0 {
			b = append(b, 0x01, 0xc0)
		} else {
			b = append(b, 0xc3)
		}
	}
	end, err := skipMessagePack(b, 0)
	require.NoError(t, err)
	assert.Equal(t, len(b), end)
	require.NoError(t, CheckMessagePackDepth(b))
	_, err = skipMessagePack(append([]byte{0x91}, b...), 0)
	assert.ErrorIs(t, err, ErrTooDeep, "one more level")
}

// TestCheckJSONDepth counts brackets outside strings only.
func TestCheckJSONDepth(t *testing.T) {
	at := strings.Repeat("[", MaxNestingDepth) + strings.Repeat("]", MaxNestingDepth)
	require.NoError(t, CheckJSONDepth([]byte(at)))
	require.NoError(t, CheckJSONDepth([]byte(`[{"a":"`+strings.Repeat("[{", 500)+`\"[[["}]`)), "brackets in strings, escaped quotes")
	assert.ErrorIs(t, CheckJSONDepth([]byte("["+at)), ErrTooDeep)
	assert.ErrorIs(t, CheckJSONDepth([]byte(`{"a":`+strings.Repeat(`{"b":[`, 51))), ErrTooDeep, "unterminated is still counted")
	assert.ErrorIs(t, CheckJSONDepth(bytes.Repeat([]byte{'['}, 1_000_000)), ErrTooDeep)
	assert.Error(t, CheckJSONDepth([]byte("]]]]")))
	assert.Contains(t, ErrTooDeep.Error(), strconv.Itoa(MaxNestingDepth))
}

// TestMessagePackInvocationKeepsTypes converts the arguments of a REST
// send to MessagePack and decodes them back.
func TestMessagePackInvocationKeepsTypes(t *testing.T) {
	t.Parallel()
	args := json.RawMessage(`[42,-7,3.5,1e3,18446744073709551615,"héllo ✓ 😀",true,null,{"b":1,"a":[1,{"c":null}]},[],9007199254740993]`)
	framed, err := MessagePack.Invocation("", "newMessage", args)
	require.NoError(t, err)
	r := &lengthPrefixedReader{limit: 1 << 20}
	msgs, err := r.Split(framed)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	var got []any
	require.NoError(t, msgpack.Unmarshal(msgs[0], &got))
	require.Len(t, got, 5)
	assert.EqualValues(t, 1, got[0])
	assert.Equal(t, map[string]any{}, got[1])
	assert.Nil(t, got[2])
	assert.Equal(t, "newMessage", got[3])
	a := got[4].([]any)
	assert.Equal(t, int8(42), a[0])
	assert.Equal(t, int8(-7), a[1])
	assert.Equal(t, 3.5, a[2])
	assert.Equal(t, 1000.0, a[3], "1e3 is a float in JSON terms")
	assert.Equal(t, uint64(18446744073709551615), a[4])
	assert.Equal(t, "héllo ✓ 😀", a[5])
	assert.Equal(t, true, a[6])
	assert.Nil(t, a[7])
	assert.Equal(t, map[string]any{"b": int8(1), "a": []any{int8(1), map[string]any{"c": nil}}}, a[8])
	assert.Equal(t, []any{}, a[9])
	assert.EqualValues(t, uint64(9007199254740993), a[10], "an integer, not a float")
	// Keys keep their order.
	assert.Less(t, bytes.Index(msgs[0], []byte{0xa1, 'b'}), bytes.Index(msgs[0], []byte{0xa1, 'a'}))
}

func TestParseHandshakeProtocols(t *testing.T) {
	t.Parallel()
	p, problem := ParseHandshake([]byte(`{"protocol":"messagepack","version":1}`), true)
	assert.Empty(t, problem)
	assert.Equal(t, MessagePack, p)
	p, problem = ParseHandshake([]byte(`{"protocol":"json","version":1}`), false)
	assert.Empty(t, problem)
	assert.Equal(t, JSON, p)
	_, problem = ParseHandshake([]byte(`{"protocol":"messagepack","version":1}`), false)
	assert.Equal(t, "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.", problem)
}
