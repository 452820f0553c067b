package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/funcsignalr/signalr/emulator"
)

// TestMain fails the package if run leaves a goroutine behind after it
// stops.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// syncBuffer is a bytes.Buffer safe to write from the logger while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a run call in progress.
type running struct {
	port, key string
	stderr    *syncBuffer
	stop      context.CancelFunc
	done      chan error
}

var connectionString = regexp.MustCompile(`^Endpoint=http://localhost;Port=(\d+);AccessKey=([^;]*);Version=1\.0;\n$`)

// start runs the emulator with args plus -port 0 and reads the connection
// string it prints.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	r := &running{stderr: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, append([]string{"-port", "0"}, args...), stdoutW, r.stderr)
		stdoutW.Close()
		r.done <- err
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	require.NoError(t, err, "stderr: %s", r.stderr)
	go io.Copy(io.Discard, stdoutR)
	m := connectionString.FindStringSubmatch(line)
	require.NotNil(t, m, "first line %q is not the connection string", line)
	r.port, r.key = m[1], m[2]
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// get calls path with a REST token signed with key.
func (r *running) get(t *testing.T, path, key string) int {
	t.Helper()
	base := "http://127.0.0.1:" + r.port
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": base + path, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(key))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunPrintsTheConnectionStringServesAndStops(t *testing.T) {
	t.Parallel()
	r := start(t, "-key", "local-key")
	assert.Equal(t, "local-key", r.key)
	assert.Equal(t, http.StatusOK, r.get(t, "/api/health", "local-key"))
	assert.Equal(t, http.StatusNotFound, r.get(t, "/api/hubs/chat/users/u", "local-key"), "the key signs REST tokens")
	r.stop()
	require.NoError(t, <-r.done, "a clean stop")
	r.done <- nil // for the cleanup
}

func TestHelpExitsZeroWithDescriptionAndExample(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), []string{arg}, io.Discard, &out), arg)
		text := out.String()
		firstLine, _, _ := strings.Cut(text, "\n")
		assert.Contains(t, firstLine, "runs a local Azure SignalR Service")
		assert.Contains(t, text, "Example:\n  signalr-emulator -port 8888")
		assert.Contains(t, text, "-key-file")
		assert.Contains(t, text, keyEnv)
		assert.Contains(t, text, "traffic.east.jsonl", "the help says where -record writes with -endpoints")
		assert.Contains(t, text, "-fault endpoint=east,", "and how a fault picks one endpoint")
		assert.NotContains(t, text, emulator.DefaultAccessKey, "the help shows no key")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("k\n"), 0o600))
	for _, args := range [][]string{
		{"-port", "70000"}, {"-nope"}, {"extra"}, {"-invoke-timeout", "0s"}, {"-invoke-timeout", "soon"},
		{"-key", "a", "-key-file", keyFile},
		{"-key-file", filepath.Join(t.TempDir(), "missing")},
	} {
		assert.Error(t, run(context.Background(), args, io.Discard, io.Discard), "run(%q)", args)
	}
}

// TestEmptyKeyPrintsTheKeyInUse: -key "" means the default key, and the
// connection string says so instead of AccessKey=;.
func TestEmptyKeyPrintsTheKeyInUse(t *testing.T) {
	t.Parallel()
	r := start(t, "-key", "")
	assert.Equal(t, emulator.DefaultAccessKey, r.key)
	assert.Equal(t, http.StatusNotFound, r.get(t, "/api/hubs/chat/users/u", r.key), "the printed key is the one in use")
}

// TestKeyFromFileOrEnvironment: the key can stay out of the process list.
func TestKeyFromFileOrEnvironment(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("file-key\n# comment\n"), 0o600))
	r := start(t, "-key-file", keyFile)
	assert.Equal(t, "file-key", r.key)
	assert.Equal(t, http.StatusNotFound, r.get(t, "/api/hubs/chat/users/u", "file-key"))

	t.Setenv(keyEnv, "env-key")
	r = start(t)
	assert.Equal(t, "env-key", r.key)
	assert.Equal(t, http.StatusNotFound, r.get(t, "/api/hubs/chat/users/u", "env-key"))
	r = start(t, "-key", "flag-key")
	assert.Equal(t, "flag-key", r.key, "-key wins over the environment")
}

// failingListener fails its first Accept, as a listener whose socket broke.
type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("accept: broken") }

// TestFailedListenerStopsTheOther: when one of the two listeners fails, the
// other stops serving too instead of running on alone.
func TestFailedListenerStopsTheOther(t *testing.T) {
	t.Parallel()
	good, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	bad, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer bad.Close()
	logger := slog.New(slog.DiscardHandler)
	emu, err := emulator.New(nil)
	require.NoError(t, err)
	err = serve(context.Background(), emu, []net.Listener{good, failingListener{bad}}, logger)
	require.ErrorContains(t, err, "broken")
	// Ask the listener itself rather than dialing its port: once closed, the
	// port may be taken by another process on a busy machine.
	_ = good.(*net.TCPListener).SetDeadline(time.Now().Add(time.Second))
	_, err = good.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "the good listener was not closed")
}

func TestEndpointHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{"127.0.0.1": "localhost", "0.0.0.0": "localhost", "10.0.0.5": "10.0.0.5", "fe80::1": "[fe80::1]", "myhost": "myhost"} {
		assert.Equal(t, want, endpointHost(host), "endpointHost(%q)", host)
	}
	assert.NotContains(t, endpointHost("::"), ":", "the any-address must not appear in the connection string")
}
