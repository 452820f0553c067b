package signalr

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// Collector's flush workers, retry timers and HTTP connections must all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
