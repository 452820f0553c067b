package signalr

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9, item 6: a handler that hijacked the connection owns it; the
// flush failure goes to OnError and nothing is written onto the
// connection (net/http would log a write on a hijacked connection).
func TestWithOutputAfterHijack(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"ResponseController", "type assertion"} {
		t.Run(how, func(t *testing.T) {
			var mu sync.Mutex
			var hookErr error
			out, err := NewOutput(&failingSender{}, "chat", &OutputOptions{OnError: func(r *http.Request, err error) {
				mu.Lock()
				hookErr = err
				mu.Unlock()
			}})
			require.NoError(t, err)
			h := WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *Collector) {
				require.NoError(t, c.AddMessage(Message{Target: "bad"}))
				var conn net.Conn
				var err error
				if how == "type assertion" {
					hj, ok := w.(http.Hijacker)
					require.True(t, ok, "the writer WithOutput passes on still hijacks")
					conn, _, err = hj.Hijack()
				} else {
					conn, _, err = http.NewResponseController(w).Hijack()
				}
				require.NoError(t, err)
				_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nhijacked")
				go func() {
					// The connection outlives the handler, as a WebSocket does.
					time.Sleep(100 * time.Millisecond)
					_ = conn.Close()
				}()
			})
			var logs bytes.Buffer
			var logMu sync.Mutex
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ErrorLog = log.New(writerFunc(func(p []byte) (int, error) {
				logMu.Lock()
				defer logMu.Unlock()
				return logs.Write(p)
			}), "", 0)
			srv.Start()
			defer srv.Close()

			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
			got, _ := io.ReadAll(conn)
			assert.True(t, strings.HasSuffix(string(got), "\r\n\r\nhijacked"), "only the handler's bytes: %q", got)
			assert.NotContains(t, string(got), "502")

			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return hookErr != nil
			}, 5*time.Second, 5*time.Millisecond, "the failure reaches OnError")
			mu.Lock()
			assert.Len(t, DeliveryErrors(hookErr), 1)
			mu.Unlock()
			logMu.Lock()
			assert.NotContains(t, logs.String(), "hijacked", "net/http logged a write on the hijacked connection")
			logMu.Unlock()
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
