package signalr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
		if n, err := hex.Decode(given[:], []byte(entry[len("sha256="):])); err != nil || n != len(given) {
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
