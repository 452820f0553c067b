package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
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

// endpointsRun is a run with -endpoints in progress.
type endpointsRun struct {
	ports  map[string]string // by endpoint name
	key    string
	stderr *syncBuffer
	stop   func() error // stops it and returns run's error
}

var endpointKey = regexp.MustCompile(`AccessKey=([^;]*);`)

// startEndpoints runs the emulator with -port 0 and args (which hold
// -endpoints with names) and reads the n setting lines it prints.
func startEndpoints(t *testing.T, n int, args ...string) *endpointsRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	r := &endpointsRun{ports: map[string]string{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-port", "0"}, args...), stdoutW, r.stderr)
		stdoutW.Close()
		done <- err
	}()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = r.stop() })
	br := bufio.NewReader(stdoutR)
	for range n {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "stderr: %s", r.stderr)
		m := endpointLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		name := strings.TrimPrefix(m[1], "Azure__SignalR__Endpoints__")
		name, _, _ = strings.Cut(name, "__")
		r.ports[name] = m[2]
		r.key = endpointKey.FindStringSubmatch(line)[1]
	}
	go io.Copy(io.Discard, br)
	return r
}

// get calls path on endpoint with a REST token signed with the key.
func (r *endpointsRun) get(t *testing.T, endpoint, path string) int {
	t.Helper()
	port, ok := r.ports[endpoint]
	require.True(t, ok, "no endpoint %s", endpoint)
	return (&running{port: port}).get(t, path, r.key)
}

// TestEndpointsRecordOneFilePerEndpoint: -record with -endpoints writes one
// record per endpoint, named after it, each holding that endpoint's
// traffic only.
func TestEndpointsRecordOneFilePerEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "traffic.jsonl")
	r := startEndpoints(t, 2, "-endpoints", "east,west:secondary", "-record", path)
	require.Equal(t, http.StatusNotFound, r.get(t, "east", "/api/hubs/chat/users/on-east"))
	require.Equal(t, http.StatusNotFound, r.get(t, "west", "/api/hubs/chat/users/on-west"))
	require.NoError(t, r.stop())
	assert.Contains(t, r.stderr.String(), "traffic.east.jsonl")

	east := signalrtest.LoadRecord(t, filepath.Join(dir, "traffic.east.jsonl"))
	west := signalrtest.LoadRecord(t, filepath.Join(dir, "traffic.west.jsonl"))
	assert.Len(t, east.Find(signalrtest.Match{Kind: emulator.EventREST, User: "on-east", Status: http.StatusNotFound}), 1)
	assert.Empty(t, east.Find(signalrtest.Match{User: "on-west"}), "east's record holds east's traffic only")
	assert.Len(t, west.Find(signalrtest.Match{Kind: emulator.EventREST, User: "on-west", Status: http.StatusNotFound}), 1)
	assert.Empty(t, west.Find(signalrtest.Match{User: "on-east"}), "west's record holds west's traffic only")
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "no file under the plain -record name")
}

// TestEndpointsFaults: with -endpoints, a -fault strikes every endpoint,
// and one with endpoint=<name> only that one.
func TestEndpointsFaults(t *testing.T) {
	t.Parallel()
	r := startEndpoints(t, 2, "-endpoints", "east,west",
		"-fault", "kind=rest,route=/api/health,status=503",
		"-fault", "endpoint=west,kind=rest,route=/api/hubs/,status=429")
	assert.Contains(t, r.stderr.String(), "WARNING: 3 FAULT(S) INJECTED over 2 endpoint(s)")
	assert.Equal(t, http.StatusServiceUnavailable, r.get(t, "east", "/api/health"), "a fault without endpoint= strikes east")
	assert.Equal(t, http.StatusServiceUnavailable, r.get(t, "west", "/api/health"), "and west")
	assert.Equal(t, http.StatusNotFound, r.get(t, "east", "/api/hubs/chat/users/u"), "endpoint=west spares east")
	assert.Equal(t, http.StatusTooManyRequests, r.get(t, "west", "/api/hubs/chat/users/u"), "and strikes west")
	require.NoError(t, r.stop())
}

func TestEndpointFaultsRejected(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-endpoints", "east,west", "-fault", "endpoint=north,kind=rest,status=503"}, "-fault endpoint=north: no such endpoint in -endpoints; use one of east, west"},
		{[]string{"-fault", "endpoint=east,kind=rest,status=503"}, "-fault endpoint=east: endpoint= picks one of -endpoints"},
		{[]string{"-endpoints", "2", "-fault", "endpoint=,kind=rest,status=503"}, "give endpoint=<name> once"},
		{[]string{"-endpoints", "2", "-fault", "endpoint=e1,endpoint=e2,kind=rest,status=503"}, "give endpoint=<name> once"},
		{[]string{"-endpoints", "2", "-fault", "endpoint=e1,kind=rest,status=418"}, "status 418"},
		{[]string{"-endpoints", "2", "-record", filepath.Join(t.TempDir(), "missing", "traffic.jsonl")}, "-record"},
	} {
		err := run(t.Context(), append([]string{"-port", "0"}, tt.args...), io.Discard, io.Discard)
		require.Error(t, err, "%q", tt.args)
		assert.Contains(t, err.Error(), tt.want, "%q", tt.args)
	}
}

func TestRecordFile(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "traffic.east.jsonl", recordFile("traffic.jsonl", "east"))
	assert.Equal(t, filepath.Join("d.v1", "traffic.e1"), recordFile(filepath.Join("d.v1", "traffic"), "e1"))
	assert.Equal(t, "a.b.e2.log", recordFile("a.b.log", "e2"))
}
