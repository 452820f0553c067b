package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/funcsignalr/signalr/internal/hubproto"
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
			return fmt.Errorf("UrlTemplate %q is not an absolute http:// or https:// URL with {hub}, {category} and {event} only in its path or query", redactURL(t.URLTemplate))
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
	err                  error // why the template is unusable, if it is
}

func compileTemplates(ts []UpstreamTemplate) []upstreamRule {
	rules := make([]upstreamRule, len(ts))
	for i, t := range ts {
		rules[i] = upstreamRule{
			url:      strings.TrimSpace(t.URLTemplate),
			hub:      compilePattern(t.HubPattern, true),
			category: compilePattern(t.CategoryPattern, false),
			event:    compilePattern(t.EventPattern, false),
		}
		if err := t.Validate(); err != nil {
			rules[i].err = fmt.Errorf("upstream template %d: %w", i, err)
		}
	}
	return rules
}

// matchUpstream returns the URL of the first rule matching the event, or
// ok=false when none does. A matching rule whose template is invalid is an
// error.
func matchUpstream(rules []upstreamRule, hub, category, event string) (target string, ok bool, err error) {
	for _, r := range rules {
		if r.hub.match(hub) && r.category.match(category) && r.event.match(event) {
			if r.err != nil {
				return "", true, r.err
			}
			return expandTemplate(r.url, hub, category, event), true, nil
		}
	}
	return "", false, nil
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

// redactURL drops the query of a URL for logs and errors: Functions
// upstream URLs carry the system key as ?code=.
func redactURL(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?…"
	}
	return raw
}

// Settings is the content of a settings file in the shape of Microsoft's
// Azure SignalR emulator settings.json:
//
//	{"UpstreamSettings": {"Templates": [{"UrlTemplate": "http://localhost:7071/runtime/webhooks/signalr",
//	  "EventPattern": "*", "HubPattern": "*", "CategoryPattern": "*"}]}}
//
// Keys are case-insensitive; other keys are ignored.
type Settings struct {
	// UpstreamSettings holds the upstream templates.
	UpstreamSettings struct {
		// Templates are checked in order; the first match wins. Use
		// them as Options.Upstream.
		Templates []UpstreamTemplate `json:"Templates"`
	} `json:"UpstreamSettings"`
}

// ParseSettings parses a settings file. A template with an explicit null
// pattern, or an invalid URL, is an error naming it (Microsoft's emulator
// silently never matches a null pattern).
func ParseSettings(data []byte) (*Settings, error) {
	var s Settings
	if err := hubproto.CheckJSONDepth(data); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("settings are not valid JSON: %v", err)
	}
	var raw struct {
		UpstreamSettings struct {
			Templates []map[string]json.RawMessage `json:"Templates"`
		} `json:"UpstreamSettings"`
	}
	_ = json.Unmarshal(data, &raw)
	for i, t := range raw.UpstreamSettings.Templates {
		for k, v := range t {
			if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				return nil, fmt.Errorf("UpstreamSettings.Templates[%d].%s is null; use \"*\" to match everything or remove the template", i, k)
			}
		}
	}
	for i, t := range s.UpstreamSettings.Templates {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("UpstreamSettings.Templates[%d]: %w", i, err)
		}
	}
	return &s, nil
}

// LoadSettings reads and parses a settings file; see ParseSettings.
func LoadSettings(path string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSettings(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
