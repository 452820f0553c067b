package emulator

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		if _, err := New(&Options{Upstream: s.UpstreamSettings.Templates}); err != nil {
			require.FailNow(t, fmt.Sprintf("New refuses templates ParseSettings accepted: %v", err))
		}
		for _, r := range compileTemplates(s.UpstreamSettings.Templates) {
			got := expandTemplate(r.url, "h/../x y", "messages", "ev?#&=%")
			u, err := url.Parse(got)
			require.False(t, err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https"), "template %q expands to %q, not an absolute http(s) URL", r.url, got)
			require.False(t, strings.Contains(r.url, "{event}") && strings.Contains(got, "ev?#"), "event was not escaped in %q", got)
		}
	})
}

func TestEscapeDataString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"chat":        "chat",
		"a b/c?d":     "a%20b%2Fc%3Fd",
		"A-Z_a.z~09":  "A-Z_a.z~09",
		"é":           "%C3%A9",
		"{hub}&x=1+2": "%7Bhub%7D%26x%3D1%2B2",
	} {
		if got := escapeDataString(in); got != want {
			assert.Fail(t, fmt.Sprintf("escapeDataString(%q) = %q, want %q", in, got, want))
		}
	}
	if got := expandTemplate("http://h/{hub}/{category}/{event}?hub={hub}", "chat", "messages", "a b"); got != "http://h/chat/messages/a%20b?hub=chat" {
		assert.Fail(t, fmt.Sprintf("expandTemplate = %q", got))
	}
}
