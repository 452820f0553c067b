package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRejectsBadUpstreamSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"localhost:7071"}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
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
		if err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("run(%q) = %v, want an error naming %q", tt.args, err, tt.says)
		}
	}
}

// The -upstream templates come first, then those of -config, in order; the
// startup log lists them without the query (which may hold a key).
func TestRunUpstreamOrder(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(config, []byte(`{"upstreamSettings":{"templates":[{"urlTemplate":"http://127.0.0.1:7072/{hub}/api/{category}/{event}","hubPattern":"game"}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
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
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(upstreams) != 3 {
		t.Fatalf("logged upstreams %q, want 3", upstreams)
	}
	for i, want := range []string{"7071/runtime/webhooks/signalr?…", "7073/b", "7072/{hub}/api/{category}/{event} hubs=game"} {
		if !strings.Contains(upstreams[i], want) {
			t.Errorf("upstream %d: %q does not contain %q", i, upstreams[i], want)
		}
	}
	if strings.Contains(strings.Join(upstreams, "\n"), "secret") {
		t.Error("the key in the upstream URL was logged")
	}
}
