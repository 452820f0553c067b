package signalr

import (
	"fmt"
	"unicode/utf8"
)

// checkText returns an error naming field when id is not valid UTF-8. The
// service handles ids as text: a token carries an invalid byte as U+FFFD
// while a REST path carries the byte itself, so such a user, group or
// connection could never be reached, and nothing would say so.
func checkText(field, id string) error {
	if utf8.ValidString(id) {
		return nil
	}
	at := 0
	for at < len(id) {
		r, size := utf8.DecodeRuneInString(id[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	return fmt.Errorf("%s is not valid UTF-8 (byte %d is 0x%02X); ids are text to the service, so convert it to UTF-8 or encode it (say, base64url)", field, at, id[at])
}
