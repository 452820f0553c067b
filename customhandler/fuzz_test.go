package customhandler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodePayload feeds arbitrary bodies to the invocation decoders: the
// envelope and every binding value they hold, as each binding type. None
// may panic, and a decoded request must keep its bounds.
func FuzzDecodePayload(f *testing.F) {
	golden, _ := filepath.Glob("testdata/golden/*.request.json")
	for _, p := range golden {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Data":{"req":"{\"Url\":\"http://h/\",\"Method\":\"GET\",\"Query\":\"{\\\"a\\\":\\\"b\\\"}\"}"}}`))
	f.Add([]byte(`{"Data":{"x":"\"\\\"null\\\"\""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(body, 16)
		if err != nil {
			return
		}
		if checkDepth(body, 16) != nil {
			t.Fatalf("decoded a body deeper than the bound")
		}
		for _, raw := range req.Data {
			if r, err := decodeHTTPRequest(raw, 1<<10); err == nil {
				if r.ContentLength > 1<<10 {
					t.Fatalf("body of %d bytes passed a 1 KiB bound", r.ContentLength)
				}
				_ = r.URL.String()
			}
			if info, ok, err := decodeConnectionInfo(raw); err == nil && ok && info.URL == "" {
				t.Fatalf("connection info without url decoded")
			}
			if inv, err := decodeInvocation(raw, []string{"a", "b"}); err == nil {
				_, _ = inv.Argument("a")
				if _, err := json.Marshal(inv.Arguments); err != nil {
					t.Fatalf("arguments did not re-encode: %v", err)
				}
			}
		}
	})
}
