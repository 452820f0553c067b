package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunRejectsBadUpstreamSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"localhost:7071"}]}}`), 0o600))
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"-upstream", "not a url"}, "UrlTemplate"},
		{[]string{"-config", bad}, "Templates[0]"},
		{[]string{"-config", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"-upstream-timeout", "0s"}, "-upstream-timeout"},
	} {
		err := run(context.Background(), append([]string{"-port", "0"}, tt.args...), io.Discard, io.Discard)
		assert.False(t, err == nil || !strings.Contains(err.Error(), tt.says), "run(%q) = %v, want an error naming %q", tt.args, err, tt.says)
	}
}

// The -upstream templates come first, then those of -config, in order; the
// startup log lists them without the query (which may hold a key).
func TestRunUpstreamOrder(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "settings.json")
	require.NoError(t, os.WriteFile(config, []byte(`{"upstreamSettings":{"templates":[{"urlTemplate":"http://127.0.0.1:7072/{hub}/api/{category}/{event}","hubPattern":"game"}]}}`), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderrR, stderrW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-port", "0", "-upstream", "http://127.0.0.1:7071/runtime/webhooks/signalr?code=secret", "-upstream", "http://127.0.0.1:7073/b", "-config", config}, io.Discard, stderrW)
		stderrW.Close()
	}()
	lines := bufio.NewScanner(stderrR)
	var upstreams []string
	for len(upstreams) < 3 && lines.Scan() {
		if strings.Contains(lines.Text(), "msg=upstream") {
			upstreams = append(upstreams, lines.Text())
		}
	}
	cancel()
	go io.Copy(io.Discard, stderrR)
	require.NoError(t, <-done)
	require.False(t, len(upstreams) != 3, "logged upstreams %q, want 3", upstreams)
	for i, want := range []string{"7071/runtime/webhooks/signalr?…", "7073/b", "7072/{hub}/api/{category}/{event} hubs=game"} {
		assert.True(t, strings.Contains(upstreams[i], want), "upstream %d: %q does not contain %q", i, upstreams[i], want)
	}
	assert.False(t, strings.Contains(strings.Join(upstreams, "\n"), "secret"), "the key in the upstream URL was logged")
}
