// Package textutil holds the small string helpers that error messages and
// logs across the module share: shortening a value echoed in an error,
// ASCII-only lower-casing, and hiding a URL's query.
package textutil

import "strings"

// Ellipsis marks where Truncate and RedactQuery cut a string.
const Ellipsis = "…"

// Truncate returns s when it has at most n characters, and otherwise its
// first n characters followed by Ellipsis. It counts and cuts by UTF-8
// sequence, so it never splits a character in half; a byte that is not
// valid UTF-8 counts as one character. n below 0 counts as 0.
func Truncate(s string, n int) string {
	n = max(n, 0)
	if len(s) <= n {
		return s // n bytes are at most n characters
	}
	for i := range s {
		if n == 0 {
			return s[:i] + Ellipsis
		}
		n--
	}
	return s
}

// LowerASCII lower-cases the ASCII letters A-Z of s and nothing else, as
// ordinal case-insensitive comparisons (the SignalR SDKs', HTTP header
// names) do: no Unicode folding, so "\u212A" (the Kelvin sign) stays as it
// is rather than becoming "k". It returns s itself when nothing changes.
func LowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// RedactQuery replaces the query of a URL (everything from the first '?')
// with "?…", for logs and errors: Azure Functions upstream URLs carry the
// system key as ?code=. A URL without a query is returned as it is.
func RedactQuery(rawURL string) string {
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		return rawURL[:i] + "?" + Ellipsis
	}
	return rawURL
}
