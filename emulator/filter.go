package emulator

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// The :execute filter: the OData subset of Web PubSub's filter reference,
// which is what the SignalR swagger points at ("OData filter syntax").
//
//	expr       = or
//	or         = and *("or" and)
//	and        = unary *("and" unary)
//	unary      = "not" unary / primary
//	primary    = "(" expr ")" / function / comparison / membership
//	function   = ("startswith" / "endswith" / "contains") "(" value "," value ")"
//	comparison = value ("eq" / "ne" / "gt" / "ge" / "lt" / "le") value
//	membership = value "in" "groups" / value "in" "(" value *("," value) ")"
//	value      = "userId" / "connectionId" / string / "null"
//	string     = "'" *(any character, with ' written '') "'"
//
// Identifiers and keywords are case-insensitive. userId is null for an
// anonymous connection. "groups" is the connection's groups and may only
// follow "in".

// maxFilterLength and maxFilterDepth bound the work of one filter: the
// length is checked before parsing, and the parser, which recurses on
// parentheses and not, stops at the module's one nesting limit.
const (
	maxFilterLength = 4096
	maxFilterDepth  = hubproto.MaxNestingDepth
)

// filterError says where a filter stopped making sense. Pos counts
// characters from 1.
type filterError struct {
	Pos int
	Msg string
}

func (e *filterError) Error() string {
	return fmt.Sprintf("filter: at character %d: %s", e.Pos, e.Msg)
}

// filterSubject is what a filter is evaluated against.
type filterSubject struct {
	connectionID string
	userID       string
	inGroup      func(group string) bool
}

// filterNode is a parsed filter.
type filterNode interface {
	eval(s *filterSubject) bool
}

type (
	filterAnd struct{ l, r filterNode }
	filterOr  struct{ l, r filterNode }
	filterNot struct{ x filterNode }
	filterCmp struct {
		op   string
		l, r filterValue
	}
	filterFunc struct {
		name string
		l, r filterValue
	}
	filterInGroups struct{ v filterValue }
	filterInList   struct {
		v    filterValue
		list []filterValue
	}
)

// filterValue is a literal or a connection property.
type filterValue struct {
	field string // "userId", "connectionId", or "" for a literal
	lit   string
	null  bool
}

func (v filterValue) get(s *filterSubject) (string, bool) {
	switch v.field {
	case "userId":
		return s.userID, s.userID != ""
	case "connectionId":
		return s.connectionID, true
	}
	return v.lit, !v.null
}

func (n filterAnd) eval(s *filterSubject) bool { return n.l.eval(s) && n.r.eval(s) }
func (n filterOr) eval(s *filterSubject) bool  { return n.l.eval(s) || n.r.eval(s) }
func (n filterNot) eval(s *filterSubject) bool { return !n.x.eval(s) }

func (n filterCmp) eval(s *filterSubject) bool {
	a, aok := n.l.get(s)
	b, bok := n.r.get(s)
	switch n.op {
	case "eq":
		return aok == bok && a == b
	case "ne":
		return aok != bok || a != b
	}
	if !aok || !bok {
		return false
	}
	c := strings.Compare(a, b)
	switch n.op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	default: // le
		return c <= 0
	}
}

func (n filterFunc) eval(s *filterSubject) bool {
	a, aok := n.l.get(s)
	b, bok := n.r.get(s)
	if !aok || !bok {
		return false
	}
	switch n.name {
	case "startswith":
		return strings.HasPrefix(a, b)
	case "endswith":
		return strings.HasSuffix(a, b)
	default: // contains
		return strings.Contains(a, b)
	}
}

func (n filterInGroups) eval(s *filterSubject) bool {
	g, ok := n.v.get(s)
	return ok && s.inGroup(g)
}

func (n filterInList) eval(s *filterSubject) bool {
	a, aok := n.v.get(s)
	for _, item := range n.list {
		if b, bok := item.get(s); aok == bok && a == b {
			return true
		}
	}
	return false
}

// filterToken is one lexical token; off is its byte offset (errors turn
// it into a character position).
type filterToken struct {
	kind byte // 'i' identifier, 's' string, '(' ')' ',', 0 end
	text string
	off  int
}

type filterParser struct {
	src   string
	i     int // byte offset
	tok   filterToken
	depth int
}

// parseFilter parses an :execute filter. The empty filter (or one of only
// white space) selects everything and parses to nil.
func parseFilter(src string) (filterNode, error) {
	if !utf8.ValidString(src) {
		return nil, &filterError{1, "the filter is not valid UTF-8"}
	}
	if utf8.RuneCountInString(src) > maxFilterLength {
		return nil, &filterError{maxFilterLength + 1, fmt.Sprintf("the filter is longer than %d characters", maxFilterLength)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	p := &filterParser{src: src}
	if err := p.next(); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != 0 {
		return nil, p.errorf("unexpected %s; expected and, or, or the end of the filter", p.describe())
	}
	return n, nil
}

// pos is the character position of byte offset i, from 1.
func (p *filterParser) pos(i int) int { return utf8.RuneCountInString(p.src[:i]) + 1 }

func (p *filterParser) errorf(format string, args ...any) error {
	return &filterError{p.pos(p.tok.off), fmt.Sprintf(format, args...)}
}

func (p *filterParser) describe() string {
	switch p.tok.kind {
	case 0:
		return "end of filter"
	case 's':
		return "string " + p.tok.text
	}
	return "'" + p.tok.text + "'"
}

// next reads the next token into p.tok.
func (p *filterParser) next() error {
	for p.i < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.i]) >= 0 {
		p.i++
	}
	start := p.i
	p.tok = filterToken{off: start}
	if p.i >= len(p.src) {
		return nil
	}
	c := p.src[p.i]
	switch {
	case c == '(' || c == ')' || c == ',':
		p.i++
		p.tok.kind, p.tok.text = c, string(c)
	case c == '\'':
		var b strings.Builder
		p.i++
		for {
			if p.i >= len(p.src) {
				return &filterError{p.pos(start), "the string is not closed; end it with ' (write a ' inside it as '')"}
			}
			if p.src[p.i] == '\'' {
				if p.i+1 < len(p.src) && p.src[p.i+1] == '\'' {
					b.WriteByte('\'')
					p.i += 2
					continue
				}
				p.i++
				break
			}
			b.WriteByte(p.src[p.i])
			p.i++
		}
		p.tok.kind, p.tok.text = 's', b.String()
	case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		for p.i < len(p.src) && (p.src[p.i] == '_' || 'a' <= p.src[p.i] && p.src[p.i] <= 'z' || 'A' <= p.src[p.i] && p.src[p.i] <= 'Z' || '0' <= p.src[p.i] && p.src[p.i] <= '9') {
			p.i++
		}
		p.tok.kind, p.tok.text = 'i', p.src[start:p.i]
	default:
		r, _ := utf8.DecodeRuneInString(p.src[p.i:])
		return &filterError{p.pos(start), fmt.Sprintf("unexpected character %q", r)}
	}
	return nil
}

func (p *filterParser) isWord(w string) bool {
	return p.tok.kind == 'i' && strings.EqualFold(p.tok.text, w)
}

func (p *filterParser) expect(kind byte, what string) error {
	if p.tok.kind != kind {
		return p.errorf("expected %s, found %s", what, p.describe())
	}
	return p.next()
}

func (p *filterParser) or() (filterNode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = filterOr{l, r}
	}
	return l, nil
}

func (p *filterParser) and() (filterNode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = filterAnd{l, r}
	}
	return l, nil
}

// enter counts one level of nesting (a parenthesis or a not), refusing
// more than maxFilterDepth; the caller defers p.leave.
func (p *filterParser) enter() error {
	p.depth++
	if p.depth > maxFilterDepth {
		return p.errorf("the filter nests deeper than %d levels of parentheses and not", maxFilterDepth)
	}
	return nil
}

func (p *filterParser) leave() { p.depth-- }

func (p *filterParser) unary() (filterNode, error) {
	if p.isWord("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return filterNot{x}, nil
	}
	return p.primary()
}

func (p *filterParser) primary() (filterNode, error) {
	if p.tok.kind == '(' {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.next(); err != nil {
			return nil, err
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		return n, p.expect(')', "')'")
	}
	for _, name := range []string{"startswith", "endswith", "contains"} {
		if p.isWord(name) {
			return p.function(name)
		}
	}
	l, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.isWord("in") {
		return p.membership(l)
	}
	if p.tok.kind == 'i' {
		op := strings.ToLower(p.tok.text)
		switch op {
		case "eq", "ne", "gt", "ge", "lt", "le":
			if err := p.next(); err != nil {
				return nil, err
			}
			r, err := p.value()
			if err != nil {
				return nil, err
			}
			return filterCmp{op, l, r}, nil
		}
	}
	return nil, p.errorf("expected eq, ne, gt, ge, lt, le or in, found %s", p.describe())
}

func (p *filterParser) function(name string) (filterNode, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.expect('(', "'(' after "+name); err != nil {
		return nil, err
	}
	l, err := p.value()
	if err != nil {
		return nil, err
	}
	if err := p.expect(',', "','"); err != nil {
		return nil, err
	}
	r, err := p.value()
	if err != nil {
		return nil, err
	}
	return filterFunc{name, l, r}, p.expect(')', "')'")
}

func (p *filterParser) membership(v filterValue) (filterNode, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.isWord("groups") {
		return filterInGroups{v}, p.next()
	}
	if err := p.expect('(', "groups or a list such as ('a', 'b')"); err != nil {
		return nil, err
	}
	var list []filterValue
	for {
		item, err := p.value()
		if err != nil {
			return nil, err
		}
		list = append(list, item)
		if p.tok.kind != ',' {
			break
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	return filterInList{v, list}, p.expect(')', "',' or ')'")
}

func (p *filterParser) value() (filterValue, error) {
	t := p.tok
	switch {
	case t.kind == 's':
		return filterValue{lit: t.text}, p.next()
	case p.isWord("userId"):
		return filterValue{field: "userId"}, p.next()
	case p.isWord("connectionId"):
		return filterValue{field: "connectionId"}, p.next()
	case p.isWord("null"):
		return filterValue{null: true}, p.next()
	case p.isWord("groups"):
		return filterValue{}, p.errorf("groups is a collection; use 'name' in groups")
	case t.kind == 'i':
		return filterValue{}, p.errorf("unknown identifier %q; use userId, connectionId, groups or a 'string'", t.text)
	}
	return filterValue{}, p.errorf("expected userId, connectionId or a 'string', found %s", p.describe())
}
