package emulator

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseSettings: the settings parser never panics, and every template
// it accepts expands to an absolute http(s) URL for any hub, category and
// event, with the values escaped.
func FuzzParseSettings(f *testing.F) {
	f.Add([]byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://localhost:7071/runtime/webhooks/signalr","EventPattern":"*","HubPattern":"*","CategoryPattern":"*"}]}}`))
	f.Add([]byte(`{"upstreamsettings":{"templates":[{"urltemplate":"https://h/{hub}/api/{category}/{event}","hubpattern":"a, b"}]}}`))
	f.Add([]byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://x","HubPattern":null}]}}`))
	f.Add([]byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://x","x":` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `}]}}`)) // a million levels deep
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSettings(data)
		if err != nil {
			return
		}
		rules := compileTemplates(s.UpstreamSettings.Templates)
		for i, r := range rules {
			if r.err != nil {
				t.Fatalf("template %d was accepted but does not compile: %v", i, r.err)
			}
			got := expandTemplate(r.url, "h/../x y", "messages", "ev?#&=%")
			u, err := url.Parse(got)
			if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("template %q expands to %q, not an absolute http(s) URL", r.url, got)
			}
			if strings.Contains(r.url, "{event}") && strings.Contains(got, "ev?#") {
				t.Fatalf("event was not escaped in %q", got)
			}
		}
	})
}

func TestEscapeDataString(t *testing.T) {
	for in, want := range map[string]string{
		"chat":        "chat",
		"a b/c?d":     "a%20b%2Fc%3Fd",
		"A-Z_a.z~09":  "A-Z_a.z~09",
		"é":           "%C3%A9",
		"{hub}&x=1+2": "%7Bhub%7D%26x%3D1%2B2",
	} {
		if got := escapeDataString(in); got != want {
			t.Errorf("escapeDataString(%q) = %q, want %q", in, got, want)
		}
	}
	if got := expandTemplate("http://h/{hub}/{category}/{event}?hub={hub}", "chat", "messages", "a b"); got != "http://h/chat/messages/a%20b?hub=chat" {
		t.Errorf("expandTemplate = %q", got)
	}
}
