package emulator

import (
	"syscall"
	"unsafe"
)

// sendRoomSupported reports whether sendRoom can read a socket's send
// queue here; without it the writer pool is not used.
const sendRoomSupported = true

// sendRoom reports whether n more bytes fit in the send buffer of the
// socket behind raw with a wide margin, so that writing them returns
// without waiting for the client to read: the bytes queued (SIOCOUTQ) plus
// n stay within a quarter of the buffer, which leaves room for the kernel's
// per-packet overhead. sndbuf caches the buffer's size, read again when the
// check fails, since the kernel grows it as the connection goes on.
func sendRoom(raw syscall.RawConn, sndbuf *int, n int) bool {
	fits := false
	err := raw.Control(func(fd uintptr) {
		var queued int32
		// SIOCOUTQ has the value of TIOCOUTQ on Linux.
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued))); errno != 0 {
			return
		}
		if *sndbuf == 0 || int(queued)+n > *sndbuf/4 {
			size, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
			if err != nil {
				return
			}
			*sndbuf = size
		}
		fits = int(queued)+n <= *sndbuf/4
	})
	return err == nil && fits
}
