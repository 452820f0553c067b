package customhandler

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: servers
// and the handlers' invocations must all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
