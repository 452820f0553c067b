// Package odata parses and evaluates the OData filter subset that selects
// connections for the REST API's :execute call: the language of Web
// PubSub's filter reference, which the SignalR swagger points at ("OData
// filter syntax").
//
// The grammar:
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
package odata

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// maxLength and maxDepth bound the work of one filter.
const (
	maxLength = 4096
	maxDepth  = hubproto.MaxNestingDepth
)

// SyntaxError says where a filter stopped making sense.
type SyntaxError struct {
	// Pos is the character (not byte) position, counted from 1; one past
	// the end for a filter that ends too soon.
	Pos int
	// Msg says what was wrong and what was expected there.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter: at character %d: %s", e.Pos, e.Msg)
}

// Subject is what a filter is evaluated against.
type Subject struct {
	// ConnectionID is the connection's id.
	ConnectionID string
	// UserID is the connection's user id; "" is an anonymous connection,
	// which the filter sees as null.
	UserID string
	// InGroup reports whether the connection is in group.
	InGroup func(group string) bool
}

// node is a parsed filter.
type node interface {
	eval(s *Subject) bool
}

type (
	andNode struct{ l, r node }
	orNode  struct{ l, r node }
	notNode struct{ x node }
	cmpNode struct {
		op   string
		l, r operand
	}
	funcNode struct {
		name string
		l, r operand
	}
	inGroupsNode struct{ v operand }
	inListNode   struct {
		v    operand
		list []operand
	}
)

// operand is a literal or a connection property.
type operand struct {
	field string // "userId", "connectionId", or "" for a literal
	lit   string
	null  bool
}

func (v operand) get(s *Subject) (string, bool) {
	switch v.field {
	case "userId":
		return s.UserID, s.UserID != ""
	case "connectionId":
		return s.ConnectionID, true
	}
	return v.lit, !v.null
}

func (n andNode) eval(s *Subject) bool { return n.l.eval(s) && n.r.eval(s) }
func (n orNode) eval(s *Subject) bool  { return n.l.eval(s) || n.r.eval(s) }
func (n notNode) eval(s *Subject) bool { return !n.x.eval(s) }

func (n cmpNode) eval(s *Subject) bool {
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

func (n funcNode) eval(s *Subject) bool {
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

func (n inGroupsNode) eval(s *Subject) bool {
	g, ok := n.v.get(s)
	return ok && s.InGroup(g)
}

func (n inListNode) eval(s *Subject) bool {
	a, aok := n.v.get(s)
	for _, item := range n.list {
		if b, bok := item.get(s); aok == bok && a == b {
			return true
		}
	}
	return false
}

// token is one lexical token; off is its byte offset (errors turn
// it into a character position).
type token struct {
	kind byte // 'i' identifier, 's' string, '(' ')' ',', 0 end
	text string
	off  int
}

type parser struct {
	src   string
	i     int // byte offset
	tok   token
	depth int
}

// Filter is a parsed filter. The nil *Filter, which Parse returns for an
// empty filter, matches every connection.
type Filter struct {
	root node
}

// Match reports whether the connection s describes is selected.
func (f *Filter) Match(s *Subject) bool {
	return f == nil || f.root.eval(s)
}

// Parse parses a filter of at most 4096 characters nesting at most 100 (hubproto.MaxNestingDepth)
// levels. The empty filter (or one of only white space) selects everything
// and parses to nil. Every error is a *SyntaxError.
func Parse(src string) (*Filter, error) {
	n, err := parse(src)
	if err != nil || n == nil {
		return nil, err
	}
	return &Filter{root: n}, nil
}

func parse(src string) (node, error) {
	if !utf8.ValidString(src) {
		return nil, &SyntaxError{1, "the filter is not valid UTF-8"}
	}
	if utf8.RuneCountInString(src) > maxLength {
		return nil, &SyntaxError{maxLength + 1, fmt.Sprintf("the filter is longer than %d characters", maxLength)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	p := &parser{src: src}
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
func (p *parser) pos(i int) int { return utf8.RuneCountInString(p.src[:i]) + 1 }

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{p.pos(p.tok.off), fmt.Sprintf(format, args...)}
}

func (p *parser) describe() string {
	switch p.tok.kind {
	case 0:
		return "end of filter"
	case 's':
		return "string " + p.tok.text
	}
	return "'" + p.tok.text + "'"
}

// next reads the next token into p.tok.
func (p *parser) next() error {
	for p.i < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.i]) >= 0 {
		p.i++
	}
	start := p.i
	p.tok = token{off: start}
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
				return &SyntaxError{p.pos(start), "the string is not closed; end it with ' (write a ' inside it as '')"}
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
		return &SyntaxError{p.pos(start), fmt.Sprintf("unexpected character %q", r)}
	}
	return nil
}

func (p *parser) isWord(w string) bool {
	return p.tok.kind == 'i' && strings.EqualFold(p.tok.text, w)
}

func (p *parser) expect(kind byte, what string) error {
	if p.tok.kind != kind {
		return p.errorf("expected %s, found %s", what, p.describe())
	}
	return p.next()
}

func (p *parser) or() (node, error) {
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
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
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
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf("the filter nests deeper than %d levels", maxDepth)
	}
	if p.isWord("not") {
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	if p.tok.kind == '(' {
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
			return cmpNode{op, l, r}, nil
		}
	}
	return nil, p.errorf("expected eq, ne, gt, ge, lt, le or in, found %s", p.describe())
}

func (p *parser) function(name string) (node, error) {
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
	return funcNode{name, l, r}, p.expect(')', "')'")
}

func (p *parser) membership(v operand) (node, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.isWord("groups") {
		return inGroupsNode{v}, p.next()
	}
	if err := p.expect('(', "groups or a list such as ('a', 'b')"); err != nil {
		return nil, err
	}
	var list []operand
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
	return inListNode{v, list}, p.expect(')', "',' or ')'")
}

func (p *parser) value() (operand, error) {
	t := p.tok
	switch {
	case t.kind == 's':
		return operand{lit: t.text}, p.next()
	case p.isWord("userId"):
		return operand{field: "userId"}, p.next()
	case p.isWord("connectionId"):
		return operand{field: "connectionId"}, p.next()
	case p.isWord("null"):
		return operand{null: true}, p.next()
	case p.isWord("groups"):
		return operand{}, p.errorf("groups is a collection; use 'name' in groups")
	case t.kind == 'i':
		return operand{}, p.errorf("unknown identifier %q; use userId, connectionId, groups or a 'string'", t.text)
	}
	return operand{}, p.errorf("expected userId, connectionId or a 'string', found %s", p.describe())
}
