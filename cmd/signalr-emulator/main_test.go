package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if run leaves a goroutine behind after it
// stops.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRunPrintsTheConnectionStringServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-port", "0", "-key", "local-key"}, stdoutW, io.Discard)
		stdoutW.Close()
	}()

	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^Endpoint=http://localhost;Port=(\d+);AccessKey=local-key;Version=1\.0;\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q is not the connection string", line)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://127.0.0.1:" + m[1] + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health = %d", resp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v, want a clean stop", err)
	}
	go io.Copy(io.Discard, stdoutR)
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-port", "70000"}, {"-nope"}, {"extra"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Fatalf("run(%q) succeeded", args)
		}
	}
}

func TestEndpointHost(t *testing.T) {
	for host, want := range map[string]string{"127.0.0.1": "localhost", "0.0.0.0": "localhost", "10.0.0.5": "10.0.0.5", "fe80::1": "[fe80::1]", "myhost": "myhost"} {
		if got := endpointHost(host); got != want {
			t.Errorf("endpointHost(%q) = %q, want %q", host, got, want)
		}
	}
	if strings.Contains(endpointHost("::"), ":") {
		t.Error("the any-address must not appear in the connection string")
	}
}
