//go:build !linux

package emulator

import "syscall"

// sendRoomSupported reports whether sendRoom can read a socket's send
// queue here; without it the writer pool is not used.
const sendRoomSupported = false

// sendRoom reports false where the emulator cannot read a socket's send
// queue: every write then goes through the connection's own goroutine.
func sendRoom(raw syscall.RawConn, sndbuf *int, n int) bool { return false }
