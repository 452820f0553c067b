package signalr_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
)

// The Collector against an emulator that refuses 30% of sends with 503 and
// fails another 5% with 500: every item is delivered exactly once, except
// those reported as maybe-applied, which are never sent twice.
func TestCollectorUnderInjectedFaults(t *testing.T) {
	emu := signalrtest.NewEmulator(t, &emulator.Options{FaultSeed: 30})
	_, err := emu.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Status: 503, Fraction: 0.3})
	require.NoError(t, err)
	_, err = emu.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Status: 500, Fraction: 0.05})
	require.NoError(t, err)
	feed := signalrtest.NewFeed(t, emu, &emulator.EventFilter{Hub: "chat", Kinds: []emulator.EventKind{emulator.EventREST}})

	cs, err := signalr.ParseConnectionString(emu.ConnectionString())
	require.NoError(t, err)
	client, err := signalr.NewClient(cs, &signalr.ClientOptions{Retry: signalr.RetryOptions{MaxRetries: 10, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	out, err := signalr.NewOutput(client, "chat", &signalr.OutputOptions{AtMostOnce: true})
	require.NoError(t, err)
	col := out.NewCollector()
	const items = 200
	for i := 0; i < items; i++ {
		require.NoError(t, col.AddMessage(signalr.Message{Target: "m" + strconv.Itoa(i), Arguments: []any{i}}))
	}
	flushErr := col.Flush(context.Background())

	maybe := map[string]bool{}
	if flushErr != nil {
		for _, e := range flushErr.(interface{ Unwrap() []error }).Unwrap() {
			var de *signalr.DeliveryError
			require.True(t, errors.As(e, &de), "%v", e)
			require.True(t, de.MaybeApplied, "only a maybe-applied item may fail: %v", de.Err)
			maybe[de.Item.(signalr.Message).Target] = true
		}
	}
	// Wait until every attempt is on the feed: one answer per attempt.
	applied, refused := map[string]int{}, 0
	for seen := 0; seen < items; {
		ev := feed.WaitFor(t, signalrtest.Match{Kind: emulator.EventREST}, 5*time.Second)
		switch ev.Status {
		case 202:
			applied[ev.Target]++
			seen++
		case 500:
			require.True(t, maybe[ev.Target], "a 500 for %s was reported as maybe-applied", ev.Target)
			seen++
		case 503:
			refused++
		}
	}
	for i := 0; i < items; i++ {
		target := "m" + strconv.Itoa(i)
		if maybe[target] {
			require.Zero(t, applied[target], "%s: a maybe-applied item is not sent again", target)
			continue
		}
		require.Equal(t, 1, applied[target], "%s is applied exactly once", target)
	}
	require.Greater(t, refused, items/5, "the 503s were injected and retried")
	require.NotEmpty(t, maybe, "some 500s were injected")
}
