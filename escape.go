package signalr

// appendSegment appends s as one escaped path segment, the way .NET's
// Uri.EscapeDataString escapes it (RFC 3986): the unreserved characters
// A-Z a-z 0-9 - . _ ~ stay as they are and every other byte of the UTF-8
// encoding becomes %XX with upper-case hex. Unlike url.PathEscape it also
// encodes the sub-delimiters (!$&'()*+,;=), ':' and '@', so any user id,
// group name or connection id is exactly one path segment that the service
// decodes back to the original. The one departure: a segment that is only
// "." or ".." is written %2E or %2E%2E, so that no client, proxy or server
// can take it for a dot segment and remove it.
func appendSegment(b []byte, s string) []byte {
	switch s {
	case ".":
		return append(b, "%2E"...)
	case "..":
		return append(b, "%2E%2E"...)
	}
	return appendEscaped(b, s)
}

// appendEscaped appends the escaped form of s to dst.
func appendEscaped(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
