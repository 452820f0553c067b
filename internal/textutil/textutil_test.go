package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTruncateNeverSplitsACharacter(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééé", 3, "ééé"}, // 6 bytes, 3 characters: kept whole
		{"éééé", 3, "ééé…"},
		{"aé", 1, "a…"}, // a byte cut at 2 would leave half of é
		{"日本語テキスト", 2, "日本…"},
		{"👍👍", 1, "👍…"},
		{"a\xffb", 2, "a\xff…"}, // an invalid byte counts as one character
		{"abc", 0, "…"},
		{"abc", -1, "…"},
	} {
		got := Truncate(tt.in, tt.n)
		assert.Equal(t, tt.want, got, "Truncate(%q, %d)", tt.in, tt.n)
		if utf8.ValidString(tt.in) {
			assert.True(t, utf8.ValidString(got), "Truncate(%q, %d) = %q is not valid UTF-8", tt.in, tt.n, got)
		}
	}
	long := strings.Repeat("é", 1000)
	assert.Equal(t, 100, utf8.RuneCountInString(strings.TrimSuffix(Truncate(long, 100), Ellipsis)))
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "abc", "éé", "日本語", "a\xffb", "👍"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n % 64
		got := Truncate(s, n)
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(got), "Truncate(%q, %d) = %q splits a character", s, n, got)
		}
		if kept := strings.TrimSuffix(got, Ellipsis); got != s {
			require.True(t, strings.HasPrefix(s, kept) && utf8.RuneCountInString(kept) == max(n, 0), "Truncate(%q, %d) = %q is not the first %d characters", s, n, got, n)
		}
	})
}

func TestLowerASCII(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "accesskey", LowerASCII("AccessKey"))
	assert.Equal(t, "access\u212Aey", LowerASCII("Access\u212Aey"), "the Kelvin sign is not K")
	assert.Equal(t, "énd", LowerASCII("éND"))
	assert.Equal(t, "already", LowerASCII("already"))
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "http://h/runtime/webhooks/signalr?…", RedactQuery("http://h/runtime/webhooks/signalr?code=secret"))
	assert.Equal(t, "http://h/{hub}", RedactQuery("http://h/{hub}"))
	assert.Equal(t, "?…", RedactQuery("?"))
}
