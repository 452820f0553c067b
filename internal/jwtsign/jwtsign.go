// Package jwtsign mints compact HS256 JSON Web Tokens with as little work as
// possible: the header is encoded once, claims are appended in order into a
// reused buffer, and HMAC states come from a pool. The library signs a token
// for every negotiate and every REST call, so this is a hot path; verification
// is left to github.com/golang-jwt/jwt/v5 in tests and in the emulator.
package jwtsign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strconv"
	"sync"
	"unicode/utf8"
)

// header is {"alg":"HS256","typ":"JWT"}, base64url-encoded without padding.
var header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Signer signs payloads with one HMAC-SHA256 key. It is safe for concurrent use.
type Signer struct {
	macs sync.Pool
}

// New returns a Signer keyed with the UTF-8 bytes of key, which is how Azure
// SignalR Service signs and checks tokens (the key is not base64-decoded).
func New(key string) *Signer {
	k := []byte(key)
	s := &Signer{}
	s.macs.New = func() any { return hmac.New(sha256.New, k) }
	return s
}

// Sign returns header.payload.signature for the JSON object in payload.
func (s *Signer) Sign(payload []byte) string {
	enc := base64.RawURLEncoding
	n := len(header) + 1 + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sha256.Size)
	buf := make([]byte, 0, n)
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)

	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(buf)
	var sum [sha256.Size]byte
	sig := mac.Sum(sum[:0])
	s.macs.Put(mac)

	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf)
}

// Claims builds a JSON object one claim at a time, in the order given.
// The zero value is an empty object ready to use.
type Claims struct {
	buf []byte
}

func (c *Claims) key(name string) {
	if len(c.buf) == 0 {
		c.buf = append(c.buf, '{')
	} else {
		c.buf = append(c.buf, ',')
	}
	c.buf = AppendString(c.buf, name)
	c.buf = append(c.buf, ':')
}

// String adds a string claim.
func (c *Claims) String(name, value string) {
	c.key(name)
	c.buf = AppendString(c.buf, value)
}

// Int adds an integer claim, such as exp or iat.
func (c *Claims) Int(name string, value int64) {
	c.key(name)
	c.buf = strconv.AppendInt(c.buf, value, 10)
}

// Raw adds a claim whose value is already encoded JSON.
func (c *Claims) Raw(name string, value []byte) {
	c.key(name)
	c.buf = append(c.buf, value...)
}

// Bytes closes the object and returns it. The Claims must not be used after.
func (c *Claims) Bytes() []byte {
	if len(c.buf) == 0 {
		return []byte("{}")
	}
	return append(c.buf, '}')
}

// AppendString appends s as a JSON string literal. Its output is what
// encoding/json produces for a string, except that it does not escape <, >
// and & (HTML escaping has no place inside a token).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			// Invalid UTF-8 and the JavaScript line separators get the same
			// treatment encoding/json gives them.
			dst = append(dst, s[start:i]...)
			if r == utf8.RuneError {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// Marshal encodes v as JSON without HTML escaping, for claim values that are
// not plain strings (arrays, numbers, objects taken from an id token).
func Marshal(v any) ([]byte, error) {
	if s, ok := v.(string); ok {
		return AppendString(nil, s), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}
