package validate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHubName(t *testing.T) {
	t.Parallel()
	valid := []string{"a", "Chat", "chat_1", "h`,.[]", "h" + strings.Repeat("x", 127)}
	for _, h := range valid {
		if err := HubName(h); err != nil {
			assert.Fail(t, fmt.Sprintf("HubName(%q) = %v, want nil", h, err))
		}
	}
	invalid := map[string]string{
		"":                             "empty",
		"1chat":                        "start with an ASCII letter",
		"_chat":                        "start with an ASCII letter",
		"chat room":                    `contains ' '`,
		"chat/room":                    `contains '/'`,
		"chät":                         "contains",
		"h" + strings.Repeat("x", 128): "limit is 128",
	}
	for h, says := range invalid {
		err := HubName(h)
		assert.False(t, !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), says), "HubName(%q) = %v, want ErrInvalidName saying %q", h, err, says)
	}
}

func TestGroupName(t *testing.T) {
	t.Parallel()
	valid := []string{"g", " g ", "group/with?odd#chars%", "日本語", strings.Repeat("g", MaxGroupNameLength)}
	for _, g := range valid {
		if err := GroupName(g); err != nil {
			assert.Fail(t, fmt.Sprintf("GroupName(%q) = %v, want nil", g, err))
		}
	}
	invalid := map[string]string{
		"":         "empty",
		"   ":      "white space",
		"\t\u00a0": "white space",
		"a\nb":     "line break",
		strings.Repeat("g", MaxGroupNameLength+1): "limit is 1024",
	}
	for g, says := range invalid {
		err := GroupName(g)
		assert.False(t, !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), says), "GroupName(%q) = %v, want ErrInvalidName saying %q", g, err, says)
	}
}
