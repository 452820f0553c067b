package emulator

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sendRoom says no before a write to a peer that stopped reading would
// block, and yes again once the peer has read what was queued.
func TestSendRoomTracksTheSocketsSendQueue(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	peer, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer peer.Close()
	conn := <-accepted
	defer conn.Close()
	raw, err := conn.(syscall.Conn).SyscallConn()
	require.NoError(t, err)

	chunk := make([]byte, 4096)
	sndbuf := 0
	require.True(t, sendRoom(raw, &sndbuf, len(chunk)), "an empty socket has room")
	written := 0
	for sendRoom(raw, &sndbuf, len(chunk)) {
		// Had sendRoom been wrong, this write would wait for the peer,
		// which never reads, and hit the deadline.
		require.NoError(t, conn.SetWriteDeadline(time.Now().Add(5*time.Second)))
		_, err := conn.Write(chunk)
		require.NoError(t, err, "sendRoom said there was room after %d bytes, and the write blocked", written)
		written += len(chunk)
		require.Less(t, written, 256<<20, "sendRoom never said no")
	}
	t.Logf("no room after %d bytes (send buffer %d)", written, sndbuf)
	require.Positive(t, written)

	// The peer reads everything: the queue empties and there is room again.
	go func() { _, _ = io.CopyN(io.Discard, peer, int64(written)) }()
	require.Eventually(t, func() bool { return sendRoom(raw, &sndbuf, len(chunk)) }, 10*time.Second, time.Millisecond)
}
