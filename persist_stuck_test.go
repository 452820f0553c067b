package signalr_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/internal/serviceproto"
)

// stuckService accepts service connections, answers the handshake and
// then reads without ever answering, as a stuck service would.
func stuckService(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		if _, _, err := ws.Read(ctx); err != nil {
			return
		}
		reply, _ := serviceproto.Encode(&serviceproto.Message{Type: serviceproto.TypeHandshakeResponse, ConnectionID: "stuck"})
		_ = ws.Write(ctx, websocket.MessageBinary, reply)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() {
		close(done)
		_ = srv.Close()
	})
	return "Endpoint=http://127.0.0.1;Port=" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + ";AccessKey=" + "stuck-service-key-0123456789abcdefghijklmno" + ";Version=1.0;"
}

// TestPersistentBounds: against a service that never acknowledges, a send
// and a group action fail after AckTimeout as maybe applied; against no
// service at all, a send fails as not sent once the AttemptTimeout wait
// for a connection is over; Close returns at once in both cases.
func TestPersistentBounds(t *testing.T) {
	t.Parallel()
	c, err := signalr.NewClientFromConnectionString(stuckService(t), &signalr.ClientOptions{Transport: signalr.TransportPersistent,
		Persistent: &signalr.PersistentOptions{Connections: 1, AckTimeout: 200 * time.Millisecond}})
	require.NoError(t, err)
	ctx := context.Background()
	start := time.Now()
	err = c.SendMessage(ctx, "chat", signalr.Message{Target: "t"}, nil)
	require.ErrorIs(t, err, signalr.ErrMaybeApplied)
	err = c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, ConnectionID: "c", GroupName: "g"}, nil)
	require.ErrorIs(t, err, signalr.ErrMaybeApplied)
	require.Less(t, time.Since(start), 10*time.Second)
	require.NoError(t, c.Close())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close()) // nothing listens there now
	c, err = signalr.NewClientFromConnectionString("Endpoint=http://127.0.0.1;Port="+strconv.Itoa(port)+";AccessKey=stuck-service-key-0123456789abcdefghijklmno;Version=1.0;",
		&signalr.ClientOptions{Transport: signalr.TransportPersistent, AttemptTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	err = c.SendMessage(ctx, "chat", signalr.Message{Target: "t"}, nil)
	require.Error(t, err)
	require.False(t, errors.Is(err, signalr.ErrMaybeApplied), "never sent: %v", err)
	require.NoError(t, c.Close())
	require.Error(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "t"}, nil), "a closed Client sends nothing")
}

// TestTransportSetting: a binding reads AzureSignalRServiceTransportType
// and refuses a value it does not know, naming the setting.
func TestTransportSetting(t *testing.T) {
	t.Parallel()
	settings := signalr.SettingsFunc(func(name string) (string, bool) {
		if name == signalr.TransportSetting {
			return "sometimes", true
		}
		return "", false
	})
	_, err := signalr.OutputBinding{HubName: "chat", ConnectionStringSetting: "x"}.Bind(&signalr.BindOptions{Settings: signalr.SettingsFunc(func(name string) (string, bool) {
		if name == "x" {
			return "Endpoint=http://localhost;Port=8888;AccessKey=stuck-service-key-0123456789abcdefghijklmno;Version=1.0;", true
		}
		return settings(name)
	})}, nil)
	require.ErrorIs(t, err, signalr.ErrInvalidArgument)
	require.ErrorContains(t, err, signalr.TransportSetting)
}
