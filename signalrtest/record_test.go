package signalrtest_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

func TestRecordAndFeedFollowATestsTraffic(t *testing.T) {
	var record bytes.Buffer
	s := emulator.NewServer(&emulator.Options{Record: &record})
	feed := signalrtest.NewFeed(t, s, &emulator.EventFilter{Hub: "chat"})
	require.NoError(t, s.Emulator.Send("chat", emulator.Recipient{Group: "room"}, "hello", json.RawMessage(`["x"]`)))
	require.NoError(t, s.Emulator.AddToGroup("chat", emulator.Recipient{User: "ann"}, "room"))
	ev := feed.WaitFor(t, signalrtest.Match{Kind: emulator.EventControl, Route: "group-add"}, 5*time.Second)
	require.Equal(t, "ann", ev.User)
	require.Len(t, feed.Seen, 2, "the send came first")
	s.Close()

	rec, err := signalrtest.ReadRecord(&record)
	require.NoError(t, err)
	rec.RequireSequence(t,
		signalrtest.Match{Kind: emulator.EventControl, Group: "room", Target: "hello"},
		signalrtest.Match{Kind: emulator.EventControl, User: "ann", Group: "room"},
	)
	require.Len(t, rec.Find(signalrtest.Match{Hub: "CHAT"}), 2)

	_, err = signalrtest.ReadRecord(strings.NewReader("{\"seq\":1}\nnot json\n"))
	require.ErrorContains(t, err, "line 2")
}
