package signalrtest

import (
	"net"
	"testing"

	"github.com/funcsignalr/signalr/emulator"
)

// NewEmulator starts an in-process SignalR Service emulator on a free port of
// 127.0.0.1 and closes it when the test ends. Pass its ConnectionString to
// the code under test, and use its Emulator.Snapshot to assert on what a hub
// holds. opts may be nil for the defaults. Bad options, or no free port,
// fail the test with the reason (where emulator.NewServer panics).
func NewEmulator(t testing.TB, opts *emulator.Options) *emulator.Server {
	t.Helper()
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("signalrtest.NewEmulator: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("signalrtest.NewEmulator: listening on a free port: %v", err)
	}
	s := emulator.Serve(l, e)
	t.Cleanup(s.Close)
	return s
}

// NewEmulators starts n in-process emulators (see NewEmulator), each a
// separate SignalR Service endpoint on its own port with its own state, and
// returns them with their connection strings, in order. Give the
// connection strings to signalr.NewMultiEndpointClient (or as
// Azure:SignalR:Endpoints:<name> settings), and take one endpoint offline
// and back with its Emulator.SetOffline. opts, which may be nil, applies to
// every one; n below 1 fails the test.
func NewEmulators(t testing.TB, n int, opts *emulator.Options) ([]*emulator.Server, []string) {
	t.Helper()
	if n < 1 {
		t.Fatalf("signalrtest.NewEmulators: n is %d; start at least one", n)
	}
	servers := make([]*emulator.Server, n)
	css := make([]string, n)
	for i := range servers {
		var o *emulator.Options
		if opts != nil {
			c := *opts
			o = &c
		}
		servers[i] = NewEmulator(t, o)
		css[i] = servers[i].ConnectionString()
	}
	return servers, css
}
