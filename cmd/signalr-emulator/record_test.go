package main

import (
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
