package signalrtest

import (
	"testing"

	"github.com/funcsignalr/signalr/emulator"
)

// NewEmulator starts an in-process SignalR Service emulator on a free port of
// 127.0.0.1 and closes it when the test ends. Pass its ConnectionString to
// the code under test, and use its Snapshot to assert on what a hub holds.
// opts may be nil for the defaults.
func NewEmulator(t testing.TB, opts *emulator.Options) *emulator.Server {
	t.Helper()
	s := emulator.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}
