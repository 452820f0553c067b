package emulator

import (
	"encoding/binary"
	"testing"
)

// FuzzFrameGuard: however the stream is cut into reads, the guard refuses
// at the same header, the first one that takes a message over the limit,
// and passes on everything before it (and the start of that header when it
// came in an earlier read).
func FuzzFrameGuard(f *testing.F) {
	header := func(fin bool, opcode byte, length uint64) []byte {
		b0 := opcode
		if fin {
			b0 |= 0x80
		}
		h := []byte{b0, 0x80 | 127}
		h = binary.BigEndian.AppendUint64(h, length)
		return append(h, 1, 2, 3, 4)
	}
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}, uint16(100), uint8(3))
	f.Add(header(true, 1, 1<<62), uint16(100), uint8(1))
	f.Add(append(header(false, 1, 50), make([]byte, 50)...), uint16(100), uint8(7))
	f.Add(append(append(header(false, 2, 60), make([]byte, 60)...), header(true, 0, 41)...), uint16(100), uint8(2))
	f.Add([]byte{0x89, 0x80, 1, 2, 3, 4, 0x81, 0xfe, 0xff, 0xff, 1, 2, 3, 4}, uint16(1000), uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, limit uint16, chunk uint8) {
		want := referenceRefusal(stream, uint64(limit))
		g := &frameGuard{limit: uint64(limit)}
		passed, last := 0, 0
		step := int(chunk%16) + 1
		for at := 0; at < len(stream) && g.err == nil; at += step {
			last = at
			passed += g.follow(stream[at:min(at+step, len(stream))])
		}
		if want < 0 {
			if g.err != nil || passed != len(stream) {
				t.Fatalf("refused a stream the reference accepts (passed %d of %d)", passed, len(stream))
			}
			return
		}
		if g.err == nil || passed != max(want, last) {
			t.Fatalf("passed %d bytes (refused: %v), want a refusal at %d (the read began at %d)", passed, g.err != nil, want, last)
		}
	})
}

// referenceRefusal parses the whole stream at once and returns the offset
// of the first header that takes a message over limit, or -1.
func referenceRefusal(s []byte, limit uint64) int {
	var message uint64
	for i := 0; i < len(s); {
		if len(s)-i < 2 {
			return -1
		}
		size := 2
		var length uint64
		switch n := s[i+1] & 0x7f; n {
		case 126:
			size += 2
			if len(s)-i < size {
				return -1
			}
			length = uint64(binary.BigEndian.Uint16(s[i+2:]))
		case 127:
			size += 8
			if len(s)-i < size {
				return -1
			}
			length = binary.BigEndian.Uint64(s[i+2:])
		default:
			length = uint64(n)
		}
		if s[i+1]&0x80 != 0 {
			size += 4
		}
		if len(s)-i < size {
			return -1
		}
		if opcode := s[i] & 0x0f; opcode < 8 {
			if opcode != 0 {
				message = 0
			}
			if length > limit || message+length > limit {
				return i
			}
			message += length
		}
		if length > uint64(len(s)-i-size) {
			return -1
		}
		i += size + int(length)
	}
	return -1
}
