package emulator

import (
	"strings"
	"testing"
)

// FuzzParseFault: any -fault text gives a fault that passes its own check,
// or an ErrBadFault; never a panic.
func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"kind=rest,status=503,fraction=0.3", "kind=upstream,hang=true,route=connected", "kind=delivery,delay=1s", "kind=rest,count=-1,status=429", "=", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fault, err := ParseFault(s)
		if err == nil {
			if err := fault.check(); err != nil {
				t.Fatalf("ParseFault(%q) accepted a fault its check refuses: %v", s, err)
			}
		}
	})
}

// FuzzRedact: whatever surrounds the access key, a JWT or a token value,
// no 8-character piece of them survives redaction.
func FuzzRedact(f *testing.F) {
	f.Add("user ", " tail", 0)
	f.Add("access_token=", "&x=1", 1)
	f.Add("Bearer ", "", 2)
	f.Add("a%2F", "?q", 0)
	const key = "FuzzKey+0123456789/abcdefghijklmnopqrstuvw="
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLWp3dA"
	e, err := New(&Options{AccessKey: key})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	redact := e.redactor()
	f.Fuzz(func(t *testing.T, before, after string, which int) {
		secret := []string{key, jwt, "access_token=tokenvalue-0123456789"}[uint(which)%3]
		out := redact(before + secret + after)
		check := secret
		if strings.HasPrefix(secret, "access_token=") {
			check = strings.TrimPrefix(secret, "access_token=")
		}
		for i := 0; i+8 <= len(check); i++ {
			if strings.Contains(out, check[i:i+8]) && !strings.Contains(before+after, check[i:i+8]) {
				t.Fatalf("redact(%q) = %q keeps %q", before+secret+after, out, check[i:i+8])
			}
		}
	})
}
