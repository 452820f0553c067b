package serviceproto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to Decode: it never panics, fails only
// with ErrMalformed or ErrUnknownType, and whatever it accepts re-encodes
// to bytes that decode to a message that encodes the same again.
func FuzzDecode(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(unhex(f, fx.body))
	}
	f.Add([]byte{0x91, 0x03})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("Decode error %v wraps neither sentinel", err)
			}
			return
		}
		once, err := Encode(&m)
		if err != nil {
			t.Fatalf("a decoded %d does not encode: %v", m.Type, err)
		}
		m2, err := Decode(once[prefixLen(once):])
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v (%x)", err, once)
		}
		twice, _ := Encode(&m2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("unstable: %x then %x", once, twice)
		}
	})
}

// FuzzReader cuts arbitrary streams: it never panics and never returns a
// body over its limit.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0x02, 0x91, 0x03, 0x06, 0x95, 0x14, 0x05, 0x01, 0xa0, 0x80}, 3)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		r := NewReader(64)
		if cut < 0 || cut > len(stream) {
			cut = len(stream) / 2
		}
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			bodies, err := r.Split(append([]byte{}, part...))
			if err != nil {
				return
			}
			for _, b := range bodies {
				if len(b) > 64 {
					t.Fatalf("body of %d bytes over the limit", len(b))
				}
				_, _ = Decode(b)
			}
		}
	})
}

// prefixLen is the length of the VarInt prefix at the start of framed.
func prefixLen(framed []byte) int {
	for i, b := range framed {
		if b&0x80 == 0 {
			return i + 1
		}
	}
	return len(framed)
}
