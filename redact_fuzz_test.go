package signalr

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRedactSecrets: redaction never panics, always returns valid UTF-8,
// never returns the token, and keeps ordinary words and error codes.
func FuzzRedactSecrets(f *testing.F) {
	const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhIjoxfQ.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbi0wMTIzNDU2Nzg5"
	for _, seed := range []string{
		"", "plain words", "Error.Connection.NotExisted", token, "%2D%2d%", `\u002d\ud83d\ude00\ud83d\u`, `\\u0041`,
		"you sent " + strings.ReplaceAll(token, "-", "%2D") + ".", "%25252D", "d3b07384-d9a0-4c9f-8b1a-2f9e6a7c1e4b", `Bearer error_description="a \\"b\\" c\\`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = authErrorDescription(s) // never panics
		out := redactSecrets(s, token)
		if !utf8.ValidString(out) {
			t.Fatalf("redactSecrets(%q) = %q, not valid UTF-8", s, out)
		}
		if strings.Contains(out, token) {
			t.Fatalf("redactSecrets(%q) = %q holds the token", s, out)
		}
		if !strings.ContainsAny(s, `%\`) && !strings.Contains(s, token) && len(s) < minSecretRun && utf8.ValidString(s) && out != s {
			t.Fatalf("redactSecrets(%q) = %q changed a short text without escapes", s, out)
		}
	})
}
