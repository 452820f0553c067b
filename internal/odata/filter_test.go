package odata

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterSelects(t *testing.T) {
	t.Parallel()
	subjects := map[string]*Subject{
		"alice": {ConnectionID: "c1", UserID: "alice", InGroup: func(g string) bool { return g == "g1" || g == "it's" }},
		"bob":   {ConnectionID: "c2", UserID: "bob", InGroup: func(g string) bool { return g == "g2" }},
		"anon":  {ConnectionID: "c3", InGroup: func(string) bool { return false }},
		"lst":   {ConnectionID: "c4", UserID: "listener-1", InGroup: func(g string) bool { return g == "g1" }},
	}
	for _, tt := range []struct {
		filter string
		want   []string
	}{
		{"userId eq 'alice'", []string{"alice"}},
		{"UserID EQ 'alice'", []string{"alice"}},
		{"userId ne 'alice'", []string{"anon", "bob", "lst"}},
		{"userId eq null", []string{"anon"}},
		{"connectionId in ('c2', 'c3')", []string{"anon", "bob"}},
		{"'g1' in groups", []string{"alice", "lst"}},
		{"'it''s' in groups", []string{"alice"}},
		{"startswith(userId, 'listener-')", []string{"lst"}},
		{"not startswith(userId, 'listener-') and 'g1' in groups", []string{"alice"}},
		{"not ('g1' in groups or 'g2' in groups)", []string{"anon"}},
		{"userId eq 'bob' or userId eq 'alice' and 'g2' in groups", []string{"bob"}},
		{"(userId eq 'bob' or userId eq 'alice') and 'g2' in groups", []string{"bob"}},
		{"endswith(userId, 'ce') or contains(userId, 'ob')", []string{"alice", "bob"}},
		{"userId gt 'b'", []string{"bob", "lst"}},
		{"  ", []string{"alice", "anon", "bob", "lst"}},
	} {
		f, err := Parse(tt.filter)
		require.NoError(t, err, tt.filter)
		var got []string
		for _, name := range []string{"alice", "anon", "bob", "lst"} {
			if f.Match(subjects[name]) {
				got = append(got, name)
			}
		}
		assert.Equal(t, tt.want, got, tt.filter)
	}
}

func TestFilterErrorsNameThePosition(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		filter string
		pos    int
		text   string
	}{
		{"userId eq", 10, "expected userId, connectionId or a 'string'"},
		{"userId = 'a'", 8, "unexpected character '='"},
		{"userId eq 'a", 11, "not closed"},
		{"nickname eq 'a'", 1, "unknown identifier"},
		{"groups eq 'a'", 1, "collection"},
		{"userId eq 'a' xor userId eq 'b'", 15, "expected and, or"},
		{"startswith(userId 'a')", 19, "expected ','"},
		{"(userId eq 'a'", 15, "expected ')'"},
		{"'a' in users", 8, "expected groups or a list"},
		{"\xff", 1, "UTF-8"},
		{"é eq 'a'", 1, "unexpected character 'é'"},
		{"'é' eq userId or", 17, "expected userId"},
	} {
		_, err := Parse(tt.filter)
		var fe *SyntaxError
		require.True(t, errors.As(err, &fe), "%q: %v", tt.filter, err)
		assert.Equal(t, tt.pos, fe.Pos, "%q: %v", tt.filter, err)
		assert.Contains(t, fe.Error(), tt.text, tt.filter)
	}
}

// FuzzParse: the parser never panics, never recurses without bound,
// gives errors with a position inside the filter (or just after it), and
// whatever it accepts evaluates without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"userId eq 'a'", "'g1' in groups", "startswith(userId, 'x')", "not (a)", "connectionId in ('a', 'b''c')",
		"((((userId eq null))))",
		// A million levels (refused by the length bound), and one past
		// the depth bound within it.
		strings.Repeat("(", 1_000_000) + "userId eq 'a'" + strings.Repeat(")", 1_000_000),
		strings.Repeat("not (", maxDepth) + "userId eq 'a'" + strings.Repeat(")", maxDepth), "userId eq 'a' and not 'g' in groups or connectionId ne 'c'", "'", "(", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		filter, err := Parse(s)
		if err != nil {
			var fe *SyntaxError
			require.True(t, errors.As(err, &fe), "%q: error %v is not a *SyntaxError", s, err)
			require.True(t, fe.Pos >= 1 && fe.Pos <= len([]rune(s))+1, "%q: position %d outside the filter", s, fe.Pos)
			return
		}
		filter.Match(&Subject{ConnectionID: "c", UserID: "u", InGroup: func(string) bool { return true }})
		filter.Match(&Subject{ConnectionID: "c", InGroup: func(string) bool { return false }})
	})
}

// TestFilterBounds: a filter too long or nested too deep is refused before
// it costs more work, with the position where the bound was passed.
func TestFilterBounds(t *testing.T) {
	t.Parallel()
	var fe *SyntaxError
	_, err := Parse(strings.Repeat("é", maxLength) + " ")
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, maxLength+1, fe.Pos)
	assert.Contains(t, fe.Msg, "longer than 4096 characters")

	_, err = Parse(strings.Repeat("(", maxDepth-1) + "userId eq 'a'" + strings.Repeat(")", maxDepth-1))
	require.NoError(t, err, "maxDepth levels, the outermost one included, are allowed")
	_, err = Parse(strings.Repeat("not ", maxDepth+1) + "userId eq 'a'")
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, fe.Msg, "deeper than 100 levels")
}
