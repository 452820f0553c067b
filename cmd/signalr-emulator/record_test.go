package main

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

func TestRecordFlagWritesTheFeedAndHidesTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "traffic.jsonl")
	key := "record-flag-key-0123456789abcdefghijklmn"
	r := start(t, "-key", key, "-record", path)
	require.Equal(t, http.StatusNotFound, r.get(t, "/api/hubs/chat/users/"+key, key))
	require.Equal(t, http.StatusOK, r.get(t, "/api/health", key))
	require.Contains(t, r.stderr.String(), "dashboard")
	r.stop()
	require.NoError(t, <-r.done)
	r.done <- nil

	rec := signalrtest.LoadRecord(t, path)
	rec.RequireSequence(t,
		signalrtest.Match{Kind: emulator.EventREST, Method: "GET", Status: http.StatusNotFound, Hub: "chat"},
		signalrtest.Match{Kind: emulator.EventREST, Route: "/api/health", Status: http.StatusOK},
	)
	require.Equal(t, "[redacted]", rec.Events[0].User, "the key, used as a user id, is redacted")
	for _, ev := range rec.Events {
		require.NotContains(t, ev.Route, key[:8])
	}
}

func TestFaultFlagArmsFaultsAndWarnsLoudly(t *testing.T) {
	r := start(t, "-fault", "kind=rest,route=/api/health,status=503,count=1", "-fault-seed", "3")
	require.Contains(t, r.stderr.String(), "WARNING: 1 FAULT(S) INJECTED")
	require.Equal(t, http.StatusServiceUnavailable, r.get(t, "/api/health", r.key))
	require.Equal(t, http.StatusOK, r.get(t, "/api/health", r.key), "the fault had a count of one")

	err := run(t.Context(), []string{"-port", "0", "-fault", "kind=rest,status=418"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "status 418")
}
