package signalr

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"

	"github.com/funcsignalr/signalr/internal/upstreamwire"
)

// checkSignature checks X-ASRS-Signature: comma-separated "sha256=<hex>"
// values (trimmed, hex in either case), one of which must equal
// HMAC-SHA256(access key, connection id) under one of keys. It returns ""
// when one matches, or the reason it failed; the reason never contains a
// key or an expected value.
func checkSignature(header, connectionID string, keys []*accessKey) string {
	if connectionID == "" {
		return "header " + upstreamwire.HeaderConnectionID + " is missing or empty, so the signature cannot be checked"
	}
	if strings.TrimSpace(header) == "" {
		return "header " + upstreamwire.HeaderSignature + " is missing; the request must be signed with the service's access key"
	}
	var given [sha256.Size]byte
	var want [sha256.Size]byte
	wellFormed := false
	for entry := range strings.SplitSeq(header, ",") {
		entry = strings.TrimSpace(entry)
		if len(entry) != len("sha256=")+2*sha256.Size || !strings.EqualFold(entry[:len("sha256=")], "sha256=") {
			continue
		}
		if !decodeHex(given[:], entry[len("sha256="):]) {
			continue
		}
		wellFormed = true
		for _, k := range keys {
			if hmac.Equal(k.mac(want[:0], connectionID), given[:]) {
				return ""
			}
		}
	}
	if !wellFormed {
		return "header " + upstreamwire.HeaderSignature + " holds no sha256=<64 hex digits> value"
	}
	return "header " + upstreamwire.HeaderSignature + " does not match the connection id under any configured access key; check that the app and the service use the same connection string"
}

// decodeHex decodes the hex digits src (either case) into dst, which is
// exactly half as long; it reports false for anything else.
func decodeHex(dst []byte, src string) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := hexValue(src[2*i])
		lo, ok2 := hexValue(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
