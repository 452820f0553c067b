package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"

	"github.com/stretchr/testify/require"

	"github.com/stretchr/testify/assert"
)

// TestMain fails the run if a goroutine outlives the tests: the app, its
// emulator and the test clients must all clean up.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr string
	}{
		{name: "defaults", want: options{addr: "127.0.0.1:7071", bindings: "functions", healthInterval: signalr.DefaultHealthInterval}},
		{name: "PORT", env: map[string]string{"PORT": "8080"}, want: options{addr: "127.0.0.1:8080", bindings: "functions", healthInterval: signalr.DefaultHealthInterval}},
		{name: "-addr beats PORT", args: []string{"-addr", ":9000"}, env: map[string]string{"PORT": "8080"}, want: options{addr: ":9000", bindings: "functions", healthInterval: signalr.DefaultHealthInterval}},
		{name: "all flags", args: []string{"-addr", "127.0.0.1:0", "-emulator-port", "8888", "-bindings", "go", "-signalr-js", "/x.js", "-v", "-endpoints", "2", "-health-interval", "250ms"},
			want: options{addr: "127.0.0.1:0", emulatorPort: 8888, bindings: "go", signalrJS: "/x.js", verbose: true, endpoints: 2, healthInterval: 250 * time.Millisecond}},
		{name: "bad health interval", args: []string{"-health-interval", "0s"}, wantErr: "-health-interval"},
		{name: "bad endpoints", args: []string{"-endpoints", "9"}, wantErr: "-endpoints"},
		{name: "bad PORT", env: map[string]string{"PORT": "http"}, wantErr: "PORT"},
		{name: "bad bindings", args: []string{"-bindings", "yaml"}, wantErr: "-bindings"},
		{name: "bad emulator port", args: []string{"-emulator-port", "70000"}, wantErr: "-emulator-port"},
		{name: "extra argument", args: []string{"serve"}, wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				require.Error(t, err, "error %v, want one about %s", err, tt.wantErr)
				require.Contains(t, err.Error(), tt.wantErr, "error %v, want one about %s", err, tt.wantErr)
				return
			}
			require.NoError(t, err, "= %+v, %v; want %+v", got, err, tt.want)
			require.Equal(t, tt.want, got, "= %+v, %v; want %+v", got, err, tt.want)
		})
	}
}

// syncBuffer is an io.Writer the test can read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var pageURLPattern = regexp.MustCompile(`open (http://\S+/) in two browser windows`)

// running is the example started by run in the background.
type running struct {
	url            string
	stdout, stderr *syncBuffer
	stop           func() error
}

// start runs the example with args until the test ends (or stop is called),
// and waits until it prints the URL to open.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	opts, err := parseFlags(append([]string{"-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, opts, r.stdout, r.stderr) }()
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

	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := pageURLPattern.FindStringSubmatch(r.stdout.String()); m != nil {
			r.url = m[1]
			return r
		}
		select {
		case err := <-done:
			require.FailNow(t, fmt.Sprintf("run ended before printing the URL: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr))
		case <-time.After(10 * time.Millisecond):
		}
		require.False(t, time.Now().After(deadline), "no URL printed; stdout: %s", r.stdout)
	}
}

// unsetConnectionString removes AzureSignalRConnectionString from the
// environment for the test, and moves to an empty directory so no
// local.settings.json is found.
func unsetConnectionString(t *testing.T) {
	t.Helper()
	t.Setenv(signalr.DefaultConnectionStringSetting, "") // restored after the test
	require.NoError(t, os.Unsetenv(signalr.DefaultConnectionStringSetting))
	t.Chdir(t.TempDir())
}

// negotiateURL negotiates as user with the running example and returns the
// service URL it hands out.
func negotiateURL(t *testing.T, base, user string) string {
	t.Helper()
	status, data := call(t, "POST", base+"api/negotiate?userId="+user, "", nil)
	require.Equal(t, http.StatusOK, status, "negotiate = %d %s", status, data)
	var info signalr.ConnectionInfo
	require.NoError(t, json.Unmarshal(data, &info))
	return info.URL
}

// Without a connection string the example starts the emulator, says so in
// one line, serves the page and stops cleanly.
func TestRunStartsEmbeddedEmulator(t *testing.T) {
	unsetConnectionString(t)
	for _, bindings := range []string{"functions", "go"} {
		t.Run(bindings, func(t *testing.T) {
			r := start(t, "-bindings", bindings, "-signalr-js", fakeSignalRJS(t))
			lines := strings.Split(strings.TrimSpace(r.stdout.String()), "\n")
			m := regexp.MustCompile(`^no AzureSignalRConnectionString set: using the embedded SignalR emulator at (http://127\.0\.0\.1:\d+)$`).FindStringSubmatch(lines[0])
			require.NotNil(t, m, "stdout:\n%s", r.stdout)
			require.Len(t, lines, 4+len(routes)+len(hubFunctions), "stdout:\n%s", r.stdout)
			// Then the functions, as func start lists them: the routes,
			// the hub functions and where the emulator calls them, and the
			// URL to open.
			require.Equal(t, "Functions:", lines[1], "stdout:\n%s", r.stdout)
			for i, rt := range routes {
				want := regexp.MustCompile(`^  ` + regexp.QuoteMeta(rt.function) + `: +\[` + rt.method + `\] +` + regexp.QuoteMeta(strings.TrimSuffix(r.url, "/")+rt.path) + `$`)
				assert.Regexp(t, want, lines[2+i], "route line %q, want %s", lines[2+i], want)
			}
			hubLines := lines[2+len(routes) : 2+len(routes)+len(hubFunctions)]
			assert.Regexp(t, `^  on-connected: +signalRTrigger connections/connected$`, hubLines[0])
			assert.Regexp(t, `^  send-to-user: +signalRTrigger messages/sendToUser\(user, text\)$`, hubLines[3])
			upstream := strings.TrimSuffix(r.url, "/") + "/runtime/webhooks/signalr"
			assert.Equal(t, "the embedded emulator calls the hub functions at "+upstream, lines[len(lines)-2])
			got := negotiateURL(t, r.url, "alice")
			require.Equal(t, m[1]+"/client/?hub=chat", got, "negotiate points at %s, want the embedded emulator %s", got, m[1])
			if status, data := call(t, "POST", r.url+"api/messages", `{"text":"hi"}`, nil); status != http.StatusNoContent {
				require.FailNow(t, fmt.Sprintf("send = %d %s", status, data))
			}
			if status, _ := call(t, "GET", r.url, "", nil); status != http.StatusOK {
				require.FailNow(t, fmt.Sprintf("GET / = %d", status))
			}
			// The embedded emulator hands hub calls to the app.
			c := connectTo(t, strings.TrimSuffix(r.url, "/"), "alice", false)
			require.JSONEq(t, `{"ok":true}`, string(c.mustInvoke("echo", map[string]bool{"ok": true})))
			c.answerGoodbye()
			require.NoError(t, r.stop(), "run returned")
			require.True(t, strings.HasSuffix(r.stdout.String(), "chat stopped\n"), "stdout after stop:\n%s", r.stdout)
			if _, err := http.Get(m[1] + "/api/health"); err == nil {
				require.FailNow(t, "the embedded emulator still answers after stop")
			}
		})
	}
}

// -emulator-port puts the embedded emulator on a chosen port.
func TestRunEmulatorPort(t *testing.T) {
	unsetConnectionString(t)
	// Find a free port by letting an emulator pick one, then free it.
	probe := emulator.NewServer(nil)
	port := probe.Port()
	probe.Close()
	r := start(t, "-emulator-port", strconv.Itoa(port), "-signalr-js", fakeSignalRJS(t))
	want := "emulator at http://127.0.0.1:" + strconv.Itoa(port) + "\n"
	require.Contains(t, r.stdout.String(), want, "stdout %q lacks %q", r.stdout, want)
}

// With AzureSignalRConnectionString in the environment the example uses that
// service, starts no emulator and never prints the access key.
func TestRunUsesConnectionStringFromEnvironment(t *testing.T) {
	const key = "secret-access-key-0123456789abcdefghijklmnop"
	emu := signalrtest.NewEmulator(t, &emulator.Options{AccessKey: key})
	t.Setenv(signalr.DefaultConnectionStringSetting, emu.ConnectionString())
	r := start(t, "-v", "-signalr-js", fakeSignalRJS(t))

	want := "using the SignalR Service at " + emu.URL + " (from AzureSignalRConnectionString)\n"
	require.True(t, strings.HasPrefix(r.stdout.String(), want), "stdout:\n%s\nwant it to start with %q", r.stdout, want)
	require.NotContains(t, r.stdout.String(), "embedded", "stdout:\n%s\nwant it to start with %q", r.stdout, want)
	// It says where that service must send hub calls.
	upstream := strings.TrimSuffix(r.url, "/") + "/runtime/webhooks/signalr"
	require.Contains(t, r.stdout.String(), "hub methods need the SignalR Service to call "+upstream+": set it as the service's upstream URL (signalr-emulator -upstream URL",
		"stdout:\n%s", r.stdout)
	got := negotiateURL(t, r.url, "alice")
	require.Equal(t, emu.URL+"/client/?hub=chat", got, "negotiate points at %s", got)
	// Sends reach that service: it accepts only tokens signed with key.
	if status, data := call(t, "POST", r.url+"api/groups/g1/messages", `{"text":"hi"}`, nil); status != http.StatusNoContent {
		require.FailNow(t, fmt.Sprintf("send = %d %s", status, data))
	}
	require.NoError(t, r.stop())
	for name, out := range map[string]string{"stdout": r.stdout.String(), "stderr": r.stderr.String()} {
		require.NotContains(t, out, key, "%s shows the access key:\n%s", name, out)
	}
	require.Contains(t, r.stderr.String(), "path=/api/groups/g1/messages status=204", "-v logged no request line:\n%s", r.stderr)
}

// The setting is also read from local.settings.json in the working
// directory, as Functions Core Tools does.
func TestRunUsesLocalSettings(t *testing.T) {
	unsetConnectionString(t)
	emu := signalrtest.NewEmulator(t, nil)
	settings, _ := json.Marshal(map[string]any{
		"IsEncrypted": false,
		"Values":      map[string]string{"AzureSignalRConnectionString": emu.ConnectionString()},
	})
	require.NoError(t, os.WriteFile("local.settings.json", settings, 0o600))
	r := start(t, "-signalr-js", fakeSignalRJS(t))
	require.True(t, strings.HasPrefix(r.stdout.String(), "using the SignalR Service at "+emu.URL), "stdout:\n%s", r.stdout)
	got := negotiateURL(t, r.url, "bob")
	require.Equal(t, emu.URL+"/client/?hub=chat", got, "negotiate points at %s", got)
}

// Start-up problems are errors, and a bad connection string is not echoed.
func TestRunErrors(t *testing.T) {
	t.Run("bad connection string", func(t *testing.T) {
		t.Setenv(signalr.DefaultConnectionStringSetting, "Endpoint=ftp://x;AccessKey=hunter2hunter2")
		opts, _ := parseFlags([]string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
		err := run(context.Background(), opts, io.Discard, io.Discard)
		require.Error(t, err, "error %v", err)
		require.Contains(t, err.Error(), "AzureSignalRConnectionString", "error %v", err)
		require.NotContains(t, err.Error(), "hunter2", "error %v", err)
	})
	t.Run("missing -signalr-js", func(t *testing.T) {
		unsetConnectionString(t)
		opts, _ := parseFlags([]string{"-addr", "127.0.0.1:0", "-signalr-js", filepath.Join(t.TempDir(), "nope.js")}, func(string) string { return "" }, io.Discard)
		err := run(context.Background(), opts, io.Discard, io.Discard)
		require.Error(t, err, "error %v", err)
		require.Contains(t, err.Error(), "nope.js", "error %v", err)
	})
	t.Run("address in use", func(t *testing.T) {
		unsetConnectionString(t)
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer busy.Close()
		addr := busy.Addr().String()
		_, port, _ := net.SplitHostPort(addr)
		next, _ := strconv.Atoi(port)
		opts, _ := parseFlags([]string{"-addr", addr, "-signalr-js", fakeSignalRJS(t)}, func(string) string { return "" }, io.Discard)
		var stdout, stderr syncBuffer
		err = run(context.Background(), opts, &stdout, &stderr)
		// It fails before starting the emulator, and says what to do.
		hint := "PORT=" + strconv.Itoa(next+1) + " make run"
		require.Error(t, err, "no error for an address in use")
		require.Contains(t, err.Error(), "address already in use")
		require.Contains(t, err.Error(), hint)
		require.Empty(t, stdout.String(), "it printed before failing (so it started something)")
		require.Empty(t, stderr.String(), "it printed before failing (so it started something)")
	})
}

// The URL printed for a server on every interface is one a browser opens.
func TestPageURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1:7071": "http://127.0.0.1:7071/",
		"0.0.0.0:8080":   "http://localhost:8080/",
		"[::]:8080":      "http://localhost:8080/",
		"[::1]:7071":     "http://[::1]:7071/",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		got := pageURL(tcp)
		assert.Equal(t, want, got, "pageURL(%s) = %s, want %s", addr, got, want)
	}
}

// The embedded emulator calls the app on a loopback address, also when the
// app listens on every interface.
func TestUpstreamURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1:7071": "http://127.0.0.1:7071/runtime/webhooks/signalr",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/runtime/webhooks/signalr",
		"[::]:8080":      "http://127.0.0.1:8080/runtime/webhooks/signalr",
		"[::1]:7071":     "http://[::1]:7071/runtime/webhooks/signalr",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		assert.Equal(t, want, upstreamURL(tcp), "upstreamURL(%s)", addr)
	}
}

// Against an external emulator, hub methods work once the emulator's
// upstream is the URL the chat prints (the CLI's -upstream flag sets the
// same template).
func TestRunWithExternalEmulatorUpstream(t *testing.T) {
	// The chat's address must be known before the emulator starts.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := probe.Addr().String()
	require.NoError(t, probe.Close())
	emu := signalrtest.NewEmulator(t, &emulator.Options{
		Upstream: []emulator.UpstreamTemplate{{URLTemplate: "http://" + addr + signalr.DefaultUpstreamPath}},
	})
	t.Setenv(signalr.DefaultConnectionStringSetting, emu.ConnectionString())
	r := start(t, "-addr", addr, "-signalr-js", fakeSignalRJS(t))
	require.Contains(t, r.stdout.String(), "hub methods need the SignalR Service to call http://"+addr+signalr.DefaultUpstreamPath)

	alice := connectTo(t, strings.TrimSuffix(r.url, "/"), "alice", false)
	bob := connectTo(t, strings.TrimSuffix(r.url, "/"), "bob", false)
	require.JSONEq(t, `"ping"`, string(alice.mustInvoke("echo", "ping")))
	alice.mustInvoke("sendToUser", "bob", "over the external emulator")
	bob.wantChat("alice", "over the external emulator", &audience{User: "bob"})
}
