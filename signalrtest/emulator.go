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
