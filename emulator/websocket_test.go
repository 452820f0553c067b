package emulator_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maskedFrame is a client's WebSocket frame: FIN, opcode, masked payload.
func maskedFrame(opcode byte, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// readServerFrame reads one unmasked frame the server sent.
func readServerFrame(t *testing.T, r *bufio.Reader) (opcode byte, payload []byte) {
	t.Helper()
	var h [2]byte
	_, err := io.ReadFull(r, h[:])
	require.NoError(t, err)
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(r, l[:])
		require.NoError(t, err)
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(r, l[:])
		require.NoError(t, err)
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	require.NoError(t, err)
	return h[0] & 0x0f, payload
}

// A client that sends its first frames with the upgrade request, without
// waiting for the 101, is served: the bytes net/http read past the request
// are not lost when the connection gets its own buffers. The frames are
// larger than the emulator's read and write buffers, so that reads and
// writes past them are covered too.
func TestWebSocketFramesSentWithTheUpgrade(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))

	token := mint(t, testKey, clientURL(s, "chat"), map[string]any{"nameid": "alice"})
	req := "GET /client/?hub=chat HTTP/1.1\r\nHost: " + strings.TrimPrefix(s.URL, "http://") + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer " + token + "\r\n\r\n"
	// The handshake, then an invocation of a hub method no server
	// answers, whose argument is past the 512-byte read buffer.
	big := strings.Repeat("x", 3000)
	first := append([]byte(req), maskedFrame(0x1, []byte(`{"protocol":"json","version":1}`+"\x1e"))...)
	first = append(first, maskedFrame(0x1, []byte(`{"type":1,"target":"echo","arguments":["`+big+`"]}`+"\x1e"))...)
	_, err = conn.Write(first)
	require.NoError(t, err)

	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	op, payload := readServerFrame(t, r)
	require.Equal(t, byte(0x1), op)
	require.Equal(t, "{}\x1e", string(payload))

	// A broadcast larger than the emulator's write buffer arrives whole.
	res := rest(t, s, http.MethodPost, "/api/v1/hubs/chat", `{"target":"news","arguments":["`+big+`"]}`)
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	for {
		op, payload = readServerFrame(t, r)
		require.Equal(t, byte(0x1), op)
		if strings.Contains(string(payload), `"target":"news"`) {
			break
		}
	}
	require.Contains(t, string(payload), big)
	require.Equal(t, byte(0x1e), payload[len(payload)-1])
}
