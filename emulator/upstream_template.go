package emulator

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/funcsignalr/signalr/internal/textutil"
)

// UpstreamTemplate is one upstream setting: where to POST the events whose
// hub, category and event match its patterns. The emulator checks the
// templates in order and the first match wins; an event no template matches
// is not sent (a blocking invocation then gets an error Completion).
//
// The JSON form is that of Microsoft's emulator settings file and of the
// service's ARM "upstream" templates (keys are case-insensitive).
type UpstreamTemplate struct {
	// URLTemplate is the absolute http(s) URL to POST to. {hub},
	// {category} and {event} are replaced with the event's values,
	// URL-escaped (RFC 3986), for example
	// http://localhost:7071/runtime/webhooks/signalr or
	// http://host/{hub}/api/{category}/{event}.
	URLTemplate string `json:"UrlTemplate"`
	// HubPattern, CategoryPattern and EventPattern are each "*" (or empty:
	// anything), a comma-separated list of names (entries trimmed), or one
	// name. Hub names match case-insensitively (the emulator keeps hubs in
	// lower case); categories and events exactly, as in Microsoft's
	// emulator.
	HubPattern      string `json:"HubPattern"`
	CategoryPattern string `json:"CategoryPattern"`
	EventPattern    string `json:"EventPattern"`
}

// Validate checks the template: an absolute http or https URL once its
// placeholders are filled in.
func (t UpstreamTemplate) Validate() error {
	if strings.TrimSpace(t.URLTemplate) == "" {
		return errors.New("UrlTemplate is empty; set it to the app's upstream URL, such as http://localhost:7071/runtime/webhooks/signalr")
	}
	// Placeholders belong in the path or query: a value that needs
	// escaping (events are whatever clients invoke) must still give a URL.
	for _, v := range []string{"x", "a b/?#%"} {
		u, err := url.Parse(expandTemplate(t.URLTemplate, v, v, v))
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("UrlTemplate %q is not an absolute http:// or https:// URL with {hub}, {category} and {event} only in its path or query", textutil.RedactQuery(t.URLTemplate))
		}
	}
	return nil
}

// pattern is a compiled hub, category or event pattern.
type pattern struct {
	any      bool
	names    []string
	foldCase bool
}

func compilePattern(p string, foldCase bool) pattern {
	if strings.TrimSpace(p) == "" {
		return pattern{any: true}
	}
	out := pattern{foldCase: foldCase}
	for _, n := range strings.Split(p, ",") {
		n = strings.TrimSpace(n)
		if n == "*" {
			return pattern{any: true}
		}
		if n != "" {
			out.names = append(out.names, n)
		}
	}
	return out
}

func (p pattern) match(s string) bool {
	if p.any {
		return true
	}
	for _, n := range p.names {
		if n == s || p.foldCase && strings.EqualFold(n, s) {
			return true
		}
	}
	return false
}

// upstreamRule is a compiled UpstreamTemplate.
type upstreamRule struct {
	url                  string
	hub, category, event pattern
}

// compileTemplates compiles templates that New has validated.
func compileTemplates(ts []UpstreamTemplate) []upstreamRule {
	rules := make([]upstreamRule, len(ts))
	for i, t := range ts {
		rules[i] = upstreamRule{
			url:      strings.TrimSpace(t.URLTemplate),
			hub:      compilePattern(t.HubPattern, true),
			category: compilePattern(t.CategoryPattern, false),
			event:    compilePattern(t.EventPattern, false),
		}
	}
	return rules
}

// matchUpstream returns the URL of the first rule matching the event, or
// ok=false when none does.
func matchUpstream(rules []upstreamRule, hub, category, event string) (target string, ok bool) {
	for _, r := range rules {
		if r.hub.match(hub) && r.category.match(category) && r.event.match(event) {
			return expandTemplate(r.url, hub, category, event), true
		}
	}
	return "", false
}

// expandTemplate fills in {hub}, {category} and {event}, each escaped.
func expandTemplate(t, hub, category, event string) string {
	if !strings.Contains(t, "{") {
		return t
	}
	return strings.NewReplacer(
		"{hub}", escapeDataString(hub),
		"{category}", escapeDataString(category),
		"{event}", escapeDataString(event),
	).Replace(t)
}

// escapeDataString escapes every byte but the RFC 3986 unreserved
// characters (A-Z a-z 0-9 - . _ ~), as .NET's Uri.EscapeDataString does.
func escapeDataString(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
