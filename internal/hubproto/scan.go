package hubproto

import "github.com/funcsignalr/signalr/internal/textutil"

// A fast path for the upstream JSON body. Every invocation goes through it,
// and encoding/json (reflection, a validation pass, then a decoding pass)
// costs as much as everything else in a dispatch together. scanJSONBody
// handles the shape the service sends: lower-case keys, strings without
// escapes or non-ASCII bytes, an integer type. On anything else it reports
// ok=false and DecodeUpstreamJSON falls back to encoding/json, which also
// produces the errors; FuzzUpstreamBody checks that both agree whenever
// the fast path succeeds.

// scanJSONBody scans body into the fields of an upstream message; each
// argument's bytes (a subslice of body) become an A through wrap.
func scanJSONBody[A any](body []byte, wrap func(raw []byte) A) (typ int, invocationID, target, errText string, args []A, ok bool) {
	typ = -1
	s := scanner{data: body}
	s.ws()
	if !s.byte('{') {
		return -1, "", "", "", nil, false
	}
	s.depth = 1
	s.ws()
	if s.byte('}') {
		return typ, "", "", "", nil, s.end()
	}
	for {
		s.ws()
		key, kok := s.plainString()
		if !kok {
			return -1, "", "", "", nil, false
		}
		s.ws()
		if !s.byte(':') {
			return -1, "", "", "", nil, false
		}
		s.ws()
		switch key {
		case "type":
			n, nok := s.smallInt()
			if !nok {
				return -1, "", "", "", nil, false
			}
			typ = n
		case "invocationId", "target", "error":
			var v string
			if s.literal("null") {
				v = ""
			} else if str, sok := s.plainString(); sok {
				v = str
			} else {
				return -1, "", "", "", nil, false
			}
			switch key {
			case "invocationId":
				invocationID = v
			case "target":
				target = v
			default:
				errText = v
			}
		case "arguments":
			if s.literal("null") {
				args = nil
				break
			}
			a, aok := scanArguments(&s, wrap)
			if !aok {
				return -1, "", "", "", nil, false
			}
			args = a
		default:
			if key == "" || !s.value() {
				return -1, "", "", "", nil, false
			}
			// Keys that differ only in case would be matched by
			// encoding/json; leave them to it.
			switch textutil.LowerASCII(key) {
			case "type", "invocationid", "target", "error", "arguments":
				return -1, "", "", "", nil, false
			}
		}
		s.ws()
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return typ, invocationID, target, errText, args, s.end()
		}
		return -1, "", "", "", nil, false
	}
}

type scanner struct {
	data []byte
	i    int
	// depth is how many arrays and objects are open; past
	// MaxNestingDepth the scanner gives up, so its recursion is bounded,
	// and the slow path words the error.
	depth int
}

// open enters an array or object, reporting false past MaxNestingDepth.
func (s *scanner) open() bool {
	s.depth++
	return s.depth <= MaxNestingDepth
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.data)
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.i >= len(lit) && string(s.data[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes.
func (s *scanner) plainString() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			v := string(s.data[start:s.i])
			s.i++
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false
		}
		s.i++
	}
	return "", false
}

// smallInt reads a JSON integer of at most 9 digits.
func (s *scanner) smallInt() (int, bool) {
	neg := s.byte('-')
	start, n := s.i, 0
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		n = n*10 + int(s.data[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 9 || digits > 1 && s.data[start] == '0' {
		return 0, false
	}
	if s.i < len(s.data) {
		switch s.data[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// scanArguments reads an array, keeping each element's bytes.
func scanArguments[A any](s *scanner, wrap func(raw []byte) A) ([]A, bool) {
	// The arguments array is one level (the body's object is the first);
	// nothing reads the scanner's depth after it, so it is not undone.
	if !s.byte('[') || !s.open() {
		return nil, false
	}
	args := make([]A, 0, 4)
	s.ws()
	if s.byte(']') {
		return args, true
	}
	for {
		s.ws()
		start := s.i
		if !s.value() {
			return nil, false
		}
		args = append(args, wrap(s.data[start:s.i:s.i]))
		s.ws()
		if s.byte(',') {
			continue
		}
		return args, s.byte(']')
	}
}

// value skips one JSON value, checking its syntax.
func (s *scanner) value() bool {
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '"':
		return s.str()
	case c == '{', c == '[':
		s.i++
		if !s.open() {
			return false
		}
		var ok bool
		if c == '{' {
			ok = s.object()
		} else {
			ok = s.array()
		}
		s.depth--
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

// object skips the rest of an object whose '{' was read.
func (s *scanner) object() bool {
	s.ws()
	if s.byte('}') {
		return true
	}
	for {
		s.ws()
		if !s.str() {
			return false
		}
		s.ws()
		if !s.byte(':') {
			return false
		}
		s.ws()
		if !s.value() {
			return false
		}
		s.ws()
		if s.byte(',') {
			continue
		}
		return s.byte('}')
	}
}

// array skips the rest of an array whose '[' was read.
func (s *scanner) array() bool {
	s.ws()
	if s.byte(']') {
		return true
	}
	for {
		s.ws()
		if !s.value() {
			return false
		}
		s.ws()
		if s.byte(',') {
			continue
		}
		return s.byte(']')
	}
}

// str skips a JSON string, checking its escapes.
func (s *scanner) str() bool {
	if !s.byte('"') {
		return false
	}
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.data) {
				return false
			}
			switch s.data[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.data)-s.i < 5 {
					return false
				}
				for _, h := range s.data[s.i+1 : s.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				s.i += 5
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// number skips a JSON number, checking its grammar.
func (s *scanner) number() bool {
	s.byte('-')
	digits := func() int {
		start := s.i
		for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
			s.i++
		}
		return s.i - start
	}
	if s.i < len(s.data) && s.data[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.byte('.') && digits() == 0 {
		return false
	}
	if s.i < len(s.data) && (s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		s.i++
		if !s.byte('+') {
			s.byte('-')
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
