package emulator

import "time"

// SetServerTimings shortens the service connections' keep-alive and idle
// timeout for a test and returns the function that restores them.
func SetServerTimings(keepAlive, idle time.Duration) (restore func()) {
	k, i := serverKeepAlive, serverIdleTimeout
	serverKeepAlive, serverIdleTimeout = keepAlive, idle
	return func() { serverKeepAlive, serverIdleTimeout = k, i }
}
