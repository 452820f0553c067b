package signalrtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the fake
// and the emulator helper must both clean up after themselves.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
