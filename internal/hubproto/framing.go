package hubproto

import (
	"bytes"
	"errors"
)

// Framing errors.
var (
	// ErrTooLarge is returned by a Reader for a message over its limit.
	ErrTooLarge = errors.New("hub protocol message exceeds the size limit")
	// ErrBadLengthPrefix is returned by a MessagePack Reader for a length
	// prefix longer than 5 bytes or over 2 GiB.
	ErrBadLengthPrefix = errors.New("MessagePack message length prefix is invalid")
	// ErrEmpty is returned by Parse for an empty message.
	ErrEmpty = errors.New("empty hub protocol message")
)

// maxVarIntBytes is the longest length prefix: 5 bytes hold 35 bits, of
// which the protocol allows 31.
const maxVarIntBytes = 5

// A Reader cuts a client's stream of transport frames into hub messages,
// without their framing. A frame may hold several messages, and a message
// may span frames: the reader keeps the unfinished tail. Its work is
// linear in the bytes received however the stream is cut.
type Reader interface {
	// Split returns the complete messages once frame is added. They stay
	// valid until the next call; frame must not be modified meanwhile.
	Split(frame []byte) ([][]byte, error)
}

// NewReader returns the protocol's Reader, which refuses messages over
// limit bytes with ErrTooLarge.
func (p Protocol) NewReader(limit int) Reader {
	if p == MessagePack {
		return &lengthPrefixedReader{limit: limit}
	}
	return &recordSplitter{limit: limit}
}

// Frame appends body, one message, framed: followed by the record
// separator for JSON, preceded by its length for MessagePack.
func (p Protocol) Frame(dst, body []byte) []byte {
	if p == MessagePack {
		dst = appendVarInt(dst, len(body))
		return append(dst, body...)
	}
	dst = append(dst, body...)
	return append(dst, RecordSeparator)
}

// Unframe returns the one message framed holds, without its framing, or
// an error if framed is not exactly one framed message. An upstream body
// is a message without its framing; the answer to it is framed.
func (p Protocol) Unframe(framed []byte) ([]byte, error) {
	if p == MessagePack {
		size, n, err := readVarInt(framed)
		switch {
		case err != nil:
			return nil, err
		case n == 0 || uint64(len(framed)-n) != size:
			return nil, errors.New("MessagePack message length prefix does not match its length")
		}
		return framed[n:], nil
	}
	if len(framed) == 0 || framed[len(framed)-1] != RecordSeparator {
		return nil, errors.New("JSON message does not end with the 0x1E record separator")
	}
	body := framed[:len(framed)-1]
	if bytes.IndexByte(body, RecordSeparator) >= 0 {
		return nil, errors.New("JSON message holds more than one record")
	}
	return body, nil
}

// recordSplitter is the JSON Reader. A record may span frames (the
// official clients never do it); the splitter keeps the unterminated tail
// until its separator arrives. Each byte is searched for the separator
// once and copied at most twice (into the tail, and once when the tail
// moves to the front of the buffer).
type recordSplitter struct {
	// buf[start:] is the unterminated tail, which holds no separator.
	// buf[:start] backs the records the last call returned.
	buf   []byte
	start int
	limit int
}

// Split returns the complete records without their separators.
func (s *recordSplitter) Split(frame []byte) ([][]byte, error) {
	if s.start > 0 {
		// The records returned last time are no longer needed: move the
		// tail, which came from the last frame, to the front.
		n := copy(s.buf, s.buf[s.start:])
		s.buf, s.start = s.buf[:n], 0
	}
	if len(s.buf) == 0 {
		// Nothing pending: the records alias frame, which the transport
		// does not reuse, and only the new tail is copied.
		records, tail := splitRecords(nil, frame)
		if len(tail) > s.limit {
			return nil, ErrTooLarge
		}
		s.buf = append(s.buf, tail...)
		return checkSizes(records, s.limit)
	}
	i := bytes.IndexByte(frame, RecordSeparator)
	if i < 0 {
		if len(s.buf)+len(frame) > s.limit {
			return nil, ErrTooLarge
		}
		s.buf = append(s.buf, frame...)
		return nil, nil
	}
	// The first record is the tail plus the head of frame.
	if len(s.buf)+i > s.limit {
		return nil, ErrTooLarge
	}
	first := len(s.buf) + i
	s.buf = append(s.buf, frame...)
	records, tail := splitRecords([][]byte{s.buf[:first]}, s.buf[first+1:])
	if len(tail) > s.limit {
		return nil, ErrTooLarge
	}
	s.start = len(s.buf) - len(tail)
	return checkSizes(records, s.limit)
}

// splitRecords appends the separator-terminated records of data to records
// and returns what follows the last separator.
func splitRecords(records [][]byte, data []byte) ([][]byte, []byte) {
	for {
		i := bytes.IndexByte(data, RecordSeparator)
		if i < 0 {
			return records, data
		}
		records = append(records, data[:i])
		data = data[i+1:]
	}
}

// checkSizes refuses records when one of them is over limit: a frame may
// hold several records, but none may be larger than a message may be.
func checkSizes(records [][]byte, limit int) ([][]byte, error) {
	for _, r := range records {
		if len(r) > limit {
			return nil, ErrTooLarge
		}
	}
	return records, nil
}

// pending returns the unterminated tail, for tests.
func (s *recordSplitter) pending() []byte { return s.buf[s.start:] }

// lengthPrefixedReader is the MessagePack Reader. The length prefix
// announces a message's size before its body arrives, so an oversized
// message is refused before it is buffered.
type lengthPrefixedReader struct {
	buf   []byte // buf[start:] is the unfinished tail
	start int
	limit int
}

// Split returns the complete messages without their length prefixes.
func (r *lengthPrefixedReader) Split(frame []byte) ([][]byte, error) {
	if r.start > 0 {
		// The messages returned last time are no longer needed: move the
		// tail to the front.
		n := copy(r.buf, r.buf[r.start:])
		r.buf, r.start = r.buf[:n], 0
	}
	data := frame
	buffered := len(r.buf) > 0
	if buffered {
		r.buf = append(r.buf, frame...)
		data = r.buf
	}
	var messages [][]byte
	off := 0
	for off < len(data) {
		size, n, err := readVarInt(data[off:])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break // the prefix itself is not complete yet
		}
		if size > uint64(r.limit) {
			return nil, ErrTooLarge
		}
		if uint64(len(data)-off-n) < size {
			break
		}
		messages = append(messages, data[off+n:off+n+int(size)])
		off += n + int(size)
	}
	if buffered {
		r.start = off
	} else {
		// The messages alias frame, which the transport does not reuse;
		// only the tail is copied.
		r.buf = append(r.buf[:0], data[off:]...)
	}
	return messages, nil
}

// pending returns the unfinished tail, for tests.
func (r *lengthPrefixedReader) pending() []byte { return r.buf[r.start:] }

// readVarInt decodes a length prefix (7 bits a byte, least significant
// first, high bit set on every byte but the last) from the start of p. n
// is 0 when p ends before the prefix does.
func readVarInt(p []byte) (size uint64, n int, err error) {
	for i := 0; i < maxVarIntBytes; i++ {
		if i == len(p) {
			return 0, 0, nil
		}
		b := p[i]
		size |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if size > 1<<31-1 {
				return 0, 0, ErrBadLengthPrefix
			}
			return size, i + 1, nil
		}
	}
	return 0, 0, ErrBadLengthPrefix
}

// appendVarInt appends the length prefix of a message of size bytes.
func appendVarInt(buf []byte, size int) []byte {
	for size >= 0x80 {
		buf = append(buf, byte(size)|0x80)
		size >>= 7
	}
	return append(buf, byte(size))
}
