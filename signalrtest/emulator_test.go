package signalrtest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/stretchr/testify/require"
)

func TestNewEmulatorServesAndHandsOutItsConnectionString(t *testing.T) {
	t.Parallel()
	s := signalrtest.NewEmulator(t, nil)

	require.True(t, strings.HasPrefix(s.ConnectionString(), "Endpoint=http://127.0.0.1;Port="), "ConnectionString() = %q", s.ConnectionString())
	resp, err := http.Get(s.URL + "/api/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.False(t, resp.StatusCode != http.StatusOK, "GET /api/health = %d, want 200", resp.StatusCode)
	if got := s.Emulator.Snapshot("Chat"); got.Hub != "chat" || len(got.Connections) != 0 {
		require.FailNow(t, fmt.Sprintf("Snapshot(Chat) = %+v, want an empty hub named chat", got))
	}
}
