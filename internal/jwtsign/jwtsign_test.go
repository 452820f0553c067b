package jwtsign

import (
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestSignVerifiesWithGolangJWT(t *testing.T) {
	var c Claims
	c.String("aud", "http://localhost:8888/client/?hub=chat")
	c.String("asrs.s.uid", "user \"1\" <b>")
	c.Int("exp", 4102444800)
	c.Raw("roles", []byte(`["a","b"]`))
	tok := New("secret-key").Sign(c.Bytes())

	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("secret-key"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("http://localhost:8888/client/?hub=chat"))
	require.NoError(t, err)
	claims := parsed.Claims.(jwt.MapClaims)
	require.Equal(t, "user \"1\" <b>", claims["asrs.s.uid"])
	require.Equal(t, []any{"a", "b"}, claims["roles"])

	_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("other-key"), nil })
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
}

func TestEmptyClaims(t *testing.T) {
	var c Claims
	require.Equal(t, "{}", string(c.Bytes()))
}

// FuzzAppendString checks that every string, valid UTF-8 or not, becomes a
// JSON literal that decodes to what encoding/json would decode it to.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "日本語", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		var decoded string
		if err := json.Unmarshal(got, &decoded); err != nil {
			t.Fatalf("AppendString(%q) = %s: not valid JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantDecoded string
		_ = json.Unmarshal(want, &wantDecoded)
		if decoded != wantDecoded {
			t.Fatalf("AppendString(%q) decodes to %q, encoding/json gives %q", s, decoded, wantDecoded)
		}
	})
}
