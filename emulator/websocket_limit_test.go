package emulator_test

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// frameHeader is a client's masked frame header announcing length bytes,
// with no payload after it.
func frameHeader(fin bool, opcode byte, length uint64) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, length)
	return append(h, 1, 2, 3, 4)
}

// wsUpgrade is the upgrade request for hub chat with a client token.
func wsUpgrade(t *testing.T, s *emulator.Server) []byte {
	token := mint(t, testKey, clientURL(s, "chat"), nil)
	return []byte("GET /client/?hub=chat HTTP/1.1\r\nHost: " + strings.TrimPrefix(s.URL, "http://") + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer " + token + "\r\n\r\n")
}

// wantClose reads frames until the server's Close and returns its status
// code; the deadline on conn bounds the wait.
func wantClose(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	for {
		op, payload := readServerFrame(t, r)
		if op == 0x8 {
			require.GreaterOrEqual(t, len(payload), 2, "a Close with a status code")
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

// TestWebSocketFrameHeaderOverLimitClosesAtOnce: a frame whose header
// announces more than the read limit (MaxMessageSize plus the batch
// allowance) gets a Close with 1009 as soon as the header is in, without
// the emulator waiting for a payload that never comes. The deadline is
// well below the 30 s after which a client would have given up anyway.
func TestWebSocketFrameHeaderOverLimitClosesAtOnce(t *testing.T) {
	s := newServer(t, &emulator.Options{MaxMessageSize: 1024})
	const limit = 1024 + 16<<10 // MaxMessageSize + maxBatchBytes
	handshake := maskedFrame(0x1, []byte(`{"protocol":"json","version":1}`+"\x1e"))
	small := maskedFrame(0x1, []byte(`{"type":6}`+"\x1e"))
	for _, tc := range []struct {
		name string
		// withUpgrade is sent with the upgrade request, before the 101
		// (net/http then holds it in its buffer); after is sent once the
		// handshake is answered.
		withUpgrade, after []byte
	}{
		{"2^62 bytes", nil, frameHeader(true, 0x1, 1<<62)},
		{"2^63 bytes and more", nil, frameHeader(true, 0x2, 1<<64-1)},
		{"one byte over the limit", nil, frameHeader(true, 0x1, limit+1)},
		{"after other frames", nil, append(append(small, small...), frameHeader(true, 0x1, 1<<62)...)},
		{"sent with the upgrade request", frameHeader(true, 0x1, 1<<62), nil},
		{"a continuation that takes the message over", nil,
			append(fragment(0x1, []byte(`{"type":6`)), frameHeader(true, 0x0, limit)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), 5*time.Second)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = conn.Write(append(append(wsUpgrade(t, s), handshake...), tc.withUpgrade...))
			require.NoError(t, err)
			r := bufio.NewReader(conn)
			resp, err := http.ReadResponse(r, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			if tc.after != nil {
				op, payload := readServerFrame(t, r)
				require.Equal(t, byte(0x1), op)
				require.Equal(t, "{}\x1e", string(payload))
				_, err = conn.Write(tc.after)
				require.NoError(t, err)
			}
			assert.Equal(t, 1009, wantClose(t, r), "status 1009, message too big")
		})
	}
}

// fragment is a masked first frame of a message, without FIN.
func fragment(opcode byte, payload []byte) []byte {
	f := maskedFrame(opcode, payload)
	f[0] &^= 0x80
	return f
}
