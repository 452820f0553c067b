package signalrtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/funcsignalr/signalr/signalrtest"
)

func TestNewEmulatorServesAndHandsOutItsConnectionString(t *testing.T) {
	t.Parallel()
	s := signalrtest.NewEmulator(t, nil)

	if !strings.HasPrefix(s.ConnectionString(), "Endpoint=http://127.0.0.1;Port=") {
		t.Fatalf("ConnectionString() = %q", s.ConnectionString())
	}
	resp, err := http.Get(s.URL + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/health = %d, want 200", resp.StatusCode)
	}
	if got := s.Emulator.Snapshot("Chat"); got.Hub != "chat" || len(got.Connections) != 0 {
		t.Fatalf("Snapshot(Chat) = %+v, want an empty hub named chat", got)
	}
}
