package emulator

import (
	"encoding/binary"
	"errors"
	"net"
)

// errFrameTooLarge is what frameGuard's reads return once a client's
// frame header announced more than the read limit.
var errFrameTooLarge = errors.New("a WebSocket frame announces more than the read limit")

// frameGuard sits between a WebSocket's TCP connection and coder/websocket
// and follows the headers of the client's frames. coder/websocket enforces
// its read limit as a message's bytes arrive, so a header announcing 2^62
// bytes would hold the connection until the client sent them or went away;
// the guard refuses such a header as soon as it is in, before
// coder/websocket reads it: from then on its reads fail with
// errFrameTooLarge, and the transport closes with 1009.
//
// Only coder/websocket's reader calls Read, one call at a time.
type frameGuard struct {
	net.Conn
	// limit is the most bytes a message may have, as SetReadLimit was
	// given.
	limit uint64
	// pending holds what net/http had read past the upgrade request; it
	// is read, and followed, before the connection.
	pending []byte

	header    [14]byte // the header being read
	headerLen int
	skip      uint64 // payload bytes of the current frame still to come
	message   uint64 // data bytes the current message's frames announced
	err       error
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	var n int
	var err error
	if len(g.pending) > 0 {
		n = copy(p, g.pending)
		g.pending = g.pending[n:]
	} else {
		n, err = g.Conn.Read(p)
	}
	if keep := g.follow(p[:n]); keep < n {
		if keep == 0 {
			return 0, g.err
		}
		return keep, nil // the next read reports the refusal
	}
	return n, err
}

// follow tracks frames through b, which comes next in the stream, and
// returns len(b), or the offset in b of a refused header (0 when it began
// before b). What follows a refused header is dropped.
func (g *frameGuard) follow(b []byte) int {
	for i := 0; i < len(b); {
		if g.skip > 0 {
			n := min(uint64(len(b)-i), g.skip)
			g.skip -= n
			i += int(n)
			continue
		}
		start := i - g.headerLen
		g.header[g.headerLen] = b[i]
		g.headerLen++
		i++
		size := headerSize(g.header[:g.headerLen])
		if size == 0 || g.headerLen < size {
			continue
		}
		length := headerLength(g.header[:size])
		g.headerLen = 0
		if opcode := g.header[0] & 0x0f; opcode < 0x8 { // data or continuation
			if opcode != 0 {
				g.message = 0
			}
			if length > g.limit || g.message > g.limit-length {
				g.err = errFrameTooLarge
				return max(start, 0)
			}
			g.message += length
		}
		g.skip = length
	}
	return len(b)
}

// headerSize is the size of the frame header that h begins, or 0 while h
// is too short to say.
func headerSize(h []byte) int {
	if len(h) < 2 {
		return 0
	}
	size := 2
	switch h[1] & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h[1]&0x80 != 0 {
		size += 4 // the masking key
	}
	return size
}

// headerLength is the payload length a complete header announces.
func headerLength(h []byte) uint64 {
	switch n := h[1] & 0x7f; n {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		return binary.BigEndian.Uint64(h[2:])
	default:
		return uint64(n)
	}
}
