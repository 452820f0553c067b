package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var endpointLine = regexp.MustCompile(`^(Azure__SignalR__Endpoints__[A-Za-z0-9_-]+)=Endpoint=http://localhost;Port=(\d+);AccessKey=[^;]*;Version=1\.0;\n$`)

// TestRunServesSeveralEndpoints: -endpoints serves each endpoint on its own
// port with its own state, prints one setting line each, and one taken
// offline through its control API answers health with 503 while the
// other stays healthy.
func TestRunServesSeveralEndpoints(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-port", "0", "-endpoints", "east,backup:secondary"}, stdoutW, io.Discard)
		stdoutW.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	br := bufio.NewReader(stdoutR)
	var settings, ports []string
	for range 2 {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		m := endpointLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		settings, ports = append(settings, m[1]), append(ports, m[2])
	}
	go io.Copy(io.Discard, br)
	assert.Equal(t, []string{"Azure__SignalR__Endpoints__east", "Azure__SignalR__Endpoints__backup__secondary"}, settings)
	assert.NotEqual(t, ports[0], ports[1])
	health := func(port string) int {
		resp, err := httpClient.Head("http://127.0.0.1:" + port + "/api/health")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, health(ports[0]))
	assert.Equal(t, http.StatusOK, health(ports[1]))
	resp, err := httpClient.Post("http://127.0.0.1:"+ports[0]+"/_emulator/api/faults", "application/json", strings.NewReader(`{"offline":true}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, health(ports[0]))
	assert.Equal(t, http.StatusOK, health(ports[1]), "the other endpoint is untouched")
	cancel()
	require.NoError(t, <-done)
	done <- nil
}

func TestParseEndpointsRejects(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "17", "a,,b", "a:tertiary", "a,A", "a b", "a__b", "x=y"} {
		_, err := parseEndpoints(v)
		assert.Error(t, err, v)
	}
	specs, err := parseEndpoints("3")
	require.NoError(t, err)
	assert.Equal(t, []endpointSpec{{name: "e1"}, {name: "e2"}, {name: "e3"}}, specs)
}
