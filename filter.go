package signalr

import (
	"fmt"
	"strings"
)

// Filter selects connections for Execute with an OData filter expression
// over userId, connectionId and groups (the grammar of Web PubSub's filter,
// which the SignalR Service's :execute takes). Build one with Eq, Ne, In,
// InGroup, StartsWith, And, Or and Not, which quote values and double any
// ' in them; or pass an expression as it is with RawFilter. The zero Filter
// selects every connection of the hub.
type Filter struct {
	expr     string
	compound bool // and/or: parenthesized when nested
	err      error
}

// FilterField is a string property of a connection a Filter compares.
type FilterField string

// The string properties a Filter can compare.
const (
	// FilterUserID is the connection's user id ("" for anonymous ones).
	FilterUserID FilterField = "userId"
	// FilterConnectionID is the connection id.
	FilterConnectionID FilterField = "connectionId"
)

// String returns the OData expression ("" for the zero Filter).
func (f Filter) String() string { return f.expr }

// Err reports why a Filter cannot be used (an unknown field, an empty In
// list), or nil; Execute returns it before sending anything.
func (f Filter) Err() error { return f.err }

// RawFilter uses expr as the filter, unchanged; "" selects every
// connection.
func RawFilter(expr string) Filter {
	if err := textErr("filter", expr); err != nil {
		return Filter{err: err}
	}
	return Filter{expr: expr, compound: true}
}

// quoteOData renders s as an OData string literal: in single quotes, with
// every ' doubled.
func quoteOData(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// textErr is the error for a filter value that is not UTF-8, or nil.
func textErr(what string, values ...string) error {
	for _, v := range values {
		if err := checkText(what, v); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
	}
	return nil
}

func fieldFilter(field FilterField, render func(name string) string, values ...string) Filter {
	if err := textErr("filter value", values...); err != nil {
		return Filter{err: err}
	}
	switch field {
	case FilterUserID, FilterConnectionID:
		return Filter{expr: render(string(field))}
	}
	return Filter{err: outErrorf(ErrInvalidArgument, "filter field %q is unknown; use FilterUserID or FilterConnectionID", string(field))}
}

// Eq selects connections whose field equals value: userId eq 'value'.
func Eq(field FilterField, value string) Filter {
	return fieldFilter(field, func(name string) string { return name + " eq " + quoteOData(value) }, value)
}

// Ne selects connections whose field differs from value: userId ne 'value'.
func Ne(field FilterField, value string) Filter {
	return fieldFilter(field, func(name string) string { return name + " ne " + quoteOData(value) }, value)
}

// In selects connections whose field is one of values:
// userId in ('a', 'b'). At least one value is required.
func In(field FilterField, values ...string) Filter {
	if len(values) == 0 {
		return Filter{err: outErrorf(ErrInvalidArgument, "filter In(%s) has no values; give at least one", string(field))}
	}
	return fieldFilter(field, func(name string) string {
		quoted := make([]string, len(values))
		for i, v := range values {
			quoted[i] = quoteOData(v)
		}
		return name + " in (" + strings.Join(quoted, ", ") + ")"
	}, values...)
}

// InGroup selects the connections in group: 'group' in groups.
func InGroup(group string) Filter {
	if err := textErr("filter group", group); err != nil {
		return Filter{err: err}
	}
	return Filter{expr: quoteOData(group) + " in groups"}
}

// StartsWith selects connections whose field starts with prefix:
// startswith(userId, 'prefix').
func StartsWith(field FilterField, prefix string) Filter {
	return fieldFilter(field, func(name string) string { return "startswith(" + name + ", " + quoteOData(prefix) + ")" }, prefix)
}

// And selects connections every filter selects. Zero filters among them
// are skipped; And() is the zero Filter.
func And(filters ...Filter) Filter { return join("and", filters) }

// Or selects connections any filter selects. Zero filters among them are
// skipped; Or() is the zero Filter.
func Or(filters ...Filter) Filter { return join("or", filters) }

// Not selects the connections f does not. Not of the zero Filter is an
// error: it would select nothing.
func Not(f Filter) Filter {
	if f.err != nil {
		return f
	}
	if f.expr == "" {
		return Filter{err: outErrorf(ErrInvalidArgument, "filter Not() of an empty filter selects nothing; leave the filter out instead")}
	}
	return Filter{expr: "not (" + f.expr + ")"}
}

func join(op string, filters []Filter) Filter {
	var parts []string
	var last Filter
	for _, f := range filters {
		if f.err != nil {
			return f
		}
		if f.expr == "" {
			continue
		}
		last = f
		if f.compound {
			parts = append(parts, "("+f.expr+")")
		} else {
			parts = append(parts, f.expr)
		}
	}
	switch len(parts) {
	case 0:
		return Filter{}
	case 1:
		return last
	}
	return Filter{expr: strings.Join(parts, " "+op+" "), compound: true}
}
