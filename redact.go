package signalr

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// What a REST server's error answer echoes back is redacted before it
// reaches a ResponseError: the server may quote the request's bearer token,
// or anything else shaped like a secret, in any encoding a URL or JSON
// gives it, or shortened.

// minSecretRun is the shortest run of base64 or base64url characters that
// is taken for a secret. An access key is base64 of 32 bytes or more (43+
// characters), each part of a JWT's header and signature 36+; a run this
// long is left of either after losing a few characters at each end, while
// words, error codes (Error.Connection.NotExisted) and connection ids
// (22 characters) are shorter.
const minSecretRun = 24

// maxDecodeRounds bounds how many layers of percent-encoding and JSON
// escapes redactSecrets peels off.
const maxDecodeRounds = 4

// redactSecrets decodes the percent-encoding and JSON escapes in s (up to
// maxDecodeRounds layers), replaces token, if set, by "[token]", and then
// every run that could be a secret by "[redacted]". A run is a maximal
// sequence of base64, base64url and '.' characters; it is redacted when
// one of its dot-separated parts is at least minSecretRun characters long
// and mixes character classes (so a JWT goes whole, even when its payload
// is short). A GUID is kept: it is an id, not a key.
func redactSecrets(s, token string) string {
	for range maxDecodeRounds {
		decoded := percentDecode(jsonUnescape(s))
		if decoded == s {
			break
		}
		s = decoded
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if token != "" {
		s = strings.ReplaceAll(s, token, "[token]")
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !isSecretChar(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isSecretChar(s[j]) {
			j++
		}
		run := s[i:j]
		// A sentence's final period is not part of the run.
		trail := len(run) - len(strings.TrimRight(run, "."))
		run = run[:len(run)-trail]
		if secretShaped(run) {
			b.WriteString("[redacted]")
		} else {
			b.WriteString(run)
		}
		b.WriteString(s[j-trail : j])
		i = j
	}
	return b.String()
}

// isSecretChar reports whether c may appear in base64, base64url or a JWT.
func isSecretChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.'
}

// secretShaped reports whether run (secret characters only) has a part
// long and varied enough to be a key, a token or a piece of one.
func secretShaped(run string) bool {
	if isGUID(run) {
		return false
	}
	for part := range strings.SplitSeq(run, ".") {
		if len(part) < minSecretRun {
			continue
		}
		var upper, lower, digit, other bool
		for i := 0; i < len(part); i++ {
			switch c := part[i]; {
			case c >= 'A' && c <= 'Z':
				upper = true
			case c >= 'a' && c <= 'z':
				lower = true
			case c >= '0' && c <= '9':
				digit = true
			default:
				other = true
			}
		}
		classes := 0
		for _, has := range []bool{upper, lower, digit, other} {
			if has {
				classes++
			}
		}
		if classes >= 2 {
			return true
		}
	}
	return false
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// percentDecode decodes every %XX in s and leaves anything else, a stray
// '%' included, as it is. '+' stays '+': it is a base64 character.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// jsonUnescape decodes the JSON string escapes in s (\uXXXX, surrogate
// pairs included, and \" \\ \/ \b \f \n \r \t) and leaves anything else as
// it is.
func jsonUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; c {
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				b.WriteByte('\\')
				continue
			}
			i += 5 // the escape's last digit
			if utf16.IsSurrogate(r) && strings.HasPrefix(s[i+1:], `\u`) {
				if low, ok := hex4(s[i+3:]); ok {
					if pair := utf16.DecodeRune(r, low); pair != utf8.RuneError {
						r = pair
						i += 6
					}
				}
			}
			b.WriteRune(r) // a lone surrogate becomes U+FFFD
		case '"', '\\', '/':
			b.WriteByte(c)
			i++
		case 'b':
			b.WriteByte('\b')
			i++
		case 'f':
			b.WriteByte('\f')
			i++
		case 'n':
			b.WriteByte('\n')
			i++
		case 'r':
			b.WriteByte('\r')
			i++
		case 't':
			b.WriteByte('\t')
			i++
		default:
			b.WriteByte('\\')
		}
	}
	return b.String()
}

// hex4 reads four hex digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := range 4 {
		if !isHex(s[i]) {
			return 0, false
		}
		r = r<<4 | rune(unhex(s[i]))
	}
	return r, true
}

// authErrorDescription returns the error_description parameter of a
// WWW-Authenticate challenge (RFC 6750), or "".
func authErrorDescription(challenge string) string {
	const name = `error_description="`
	i := strings.Index(challenge, name)
	if i < 0 {
		return ""
	}
	var b strings.Builder
	for rest := challenge[i+len(name):]; rest != ""; rest = rest[1:] {
		switch rest[0] {
		case '"':
			return b.String()
		case '\\':
			if len(rest) > 1 {
				rest = rest[1:]
			}
		}
		b.WriteByte(rest[0])
	}
	return b.String()
}
