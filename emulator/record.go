package emulator

import (
	"bytes"
	"errors"
)

// errRecordTooLarge is returned by recordSplitter.split when an
// unterminated record grows past the limit.
var errRecordTooLarge = errors.New("hub protocol message exceeds the size limit")

// recordSplitter cuts a stream of transport frames into hub protocol
// records. A frame may hold several records, and, although the official
// clients never do it, a record may span frames; the splitter keeps the
// unterminated tail until its separator arrives.
//
// Its work is linear in the bytes received: each byte is searched for the
// separator once and copied at most twice (into the tail, and once when the
// tail moves to the front of the buffer), however the stream is cut.
type recordSplitter struct {
	// buf[start:] is the unterminated tail, which holds no separator.
	// buf[:start] backs the records the last call returned.
	buf   []byte
	start int
	limit int
}

// split returns the complete records the stream holds once frame is added,
// without their separators. The returned slices stay valid until the next
// call.
func (s *recordSplitter) split(frame []byte) ([][]byte, error) {
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
			return nil, errRecordTooLarge
		}
		s.buf = append(s.buf, tail...)
		return checkSizes(records, s.limit)
	}
	i := bytes.IndexByte(frame, recordSeparator)
	if i < 0 {
		if len(s.buf)+len(frame) > s.limit {
			return nil, errRecordTooLarge
		}
		s.buf = append(s.buf, frame...)
		return nil, nil
	}
	// The first record is the tail plus the head of frame.
	if len(s.buf)+i > s.limit {
		return nil, errRecordTooLarge
	}
	first := len(s.buf) + i
	s.buf = append(s.buf, frame...)
	records, tail := splitRecords([][]byte{s.buf[:first]}, s.buf[first+1:])
	if len(tail) > s.limit {
		return nil, errRecordTooLarge
	}
	s.start = len(s.buf) - len(tail)
	return checkSizes(records, s.limit)
}

// splitRecords appends the separator-terminated records of data to records
// and returns what follows the last separator.
func splitRecords(records [][]byte, data []byte) ([][]byte, []byte) {
	for {
		i := bytes.IndexByte(data, recordSeparator)
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
			return nil, errRecordTooLarge
		}
	}
	return records, nil
}

// pending returns the unterminated tail, for tests.
func (s *recordSplitter) pending() []byte { return s.buf[s.start:] }
