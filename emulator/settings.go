package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

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
