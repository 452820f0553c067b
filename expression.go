package signalr

import (
	"fmt"
	"net/http"
	"strings"
)

// expression is a parsed binding expression: literal text mixed with
// {headers.NAME} and {query.NAME} references, resolved per request.
// App setting references (%NAME%) are resolved when the binding is bound.
type expression struct {
	field string
	parts []exprPart
}

type exprPart struct {
	literal string
	source  string // "", "headers" or "query"
	name    string // canonical header name, or query key
}

// constant reports whether the expression has no per-request reference, and
// its value if so.
func (e expression) constant() (string, bool) {
	switch len(e.parts) {
	case 0:
		return "", true
	case 1:
		if e.parts[0].source == "" {
			return e.parts[0].literal, true
		}
	}
	return "", false
}

// parseExpression parses the binding property field. %NAME% references are
// replaced by app settings from settings (nil means none are available).
func parseExpression(field, s string, settings Settings) (expression, error) {
	e := expression{field: field}
	s, err := expandSettings(field, s, settings)
	if err != nil {
		return e, err
	}
	var lit strings.Builder
	for len(s) > 0 {
		open := strings.IndexAny(s, "{}")
		if open < 0 {
			lit.WriteString(s)
			break
		}
		if s[open] == '}' {
			return e, fmt.Errorf("%w: %s %q has a '}' with no '{' before it", ErrInvalidBinding, field, s)
		}
		lit.WriteString(s[:open])
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return e, fmt.Errorf("%w: %s has a '{' that is never closed; write {headers.NAME} or {query.NAME}", ErrInvalidBinding, field)
		}
		ref := s[open+1 : open+end]
		s = s[open+end+1:]
		src, name, ok := strings.Cut(ref, ".")
		src = strings.ToLower(strings.TrimSpace(src))
		name = strings.TrimSpace(name)
		if !ok || name == "" || (src != "headers" && src != "query") {
			return e, fmt.Errorf("%w: %s uses {%s}; only {headers.NAME} and {query.NAME} are supported", ErrInvalidBinding, field, ref)
		}
		if src == "headers" {
			name = http.CanonicalHeaderKey(name)
		}
		if lit.Len() > 0 {
			e.parts = append(e.parts, exprPart{literal: lit.String()})
			lit.Reset()
		}
		e.parts = append(e.parts, exprPart{source: src, name: name})
	}
	if lit.Len() > 0 {
		e.parts = append(e.parts, exprPart{literal: lit.String()})
	}
	return e, nil
}

// expandSettings replaces %NAME% with the app setting NAME, as the Functions
// host does for binding properties.
func expandSettings(field, s string, settings Settings) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return "", fmt.Errorf("%w: %s has a '%%' with no closing '%%'; write %%SETTING_NAME%% to use an app setting", ErrInvalidBinding, field)
		}
		name := s[i+1 : i+1+j]
		var v string
		ok := false
		if settings != nil && name != "" {
			v, ok = settings.LookupSetting(name)
		}
		if !ok {
			return "", fmt.Errorf("%w: %s refers to the app setting %%%s%%, which is not set", ErrMissingSetting, field, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+2:]
	}
}

// eval resolves the expression against r. A referenced header or query
// parameter that is absent or empty is a *BindingDataError.
func (e expression) eval(r *http.Request) (string, error) {
	if v, ok := e.constant(); ok {
		return v, nil
	}
	if len(e.parts) == 1 {
		return e.lookup(r, e.parts[0])
	}
	var b strings.Builder
	for _, p := range e.parts {
		v, err := e.lookup(r, p)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func (e expression) lookup(r *http.Request, p exprPart) (string, error) {
	var v string
	switch p.source {
	case "":
		return p.literal, nil
	case "headers":
		if vs := r.Header[p.name]; len(vs) > 0 {
			v = vs[0]
		}
	case "query":
		v = r.URL.Query().Get(p.name)
	}
	if v == "" {
		return "", &BindingDataError{Field: e.field, Source: p.source, Name: p.name}
	}
	return v, nil
}
