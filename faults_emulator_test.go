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

// restAttempts collects the REST answers on the feed for hub until want of
// them are seen.
func restAttempts(t *testing.T, feed *signalrtest.Feed, want int) []emulator.Event {
	t.Helper()
	var out []emulator.Event
	for len(out) < want {
		out = append(out, feed.WaitFor(t, signalrtest.Match{Kind: emulator.EventREST}, 5*time.Second))
	}
	return out
}

func restFeed(t *testing.T, emu *emulator.Server) *signalrtest.Feed {
	return signalrtest.NewFeed(t, emu, &emulator.EventFilter{Hub: "chat", Kinds: []emulator.EventKind{emulator.EventREST}})
}

var quickRetry = signalr.RetryOptions{MaxRetries: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second}

// A 429 with Retry-After: the Client waits what the service asks before
// the retry (not its own 1 ms), and the message is delivered once.
func TestClientHonoursRetryAfterOfAnInjected429(t *testing.T) {
	emu, _, c := emulatorClient(t, nil, &signalr.ClientOptions{Retry: quickRetry})
	_, err := emu.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Status: 429, RetryAfter: time.Second, Count: 1})
	require.NoError(t, err)
	feed := restFeed(t, emu)
	require.NoError(t, c.SendMessage(context.Background(), "chat", signalr.Message{Target: "m"}, nil))
	got := restAttempts(t, feed, 2)
	require.Equal(t, []int{429, 202}, []int{got[0].Status, got[1].Status})
	gap := got[1].Time.Sub(got[0].Time)
	require.GreaterOrEqual(t, gap, 900*time.Millisecond, "the retry waited for Retry-After: 1 (it came after %v)", gap)
}

// 502 and 500 leave the outcome unknown: by default a send answered 502 is
// retried (and delivered), one answered 500 is not; with AtMostOnce a 502
// stops the retries. Either way the error wraps ErrMaybeApplied, and a
// group action (idempotent) is retried through a 500.
func TestClientUnderInjected500And502(t *testing.T) {
	emu, _, c := emulatorClient(t, nil, &signalr.ClientOptions{Retry: quickRetry})
	feed := restFeed(t, emu)
	ctx := context.Background()
	arm := func(status int) {
		t.Helper()
		_, err := emu.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Status: status, Count: 1})
		require.NoError(t, err)
	}

	arm(502)
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "retried"}, nil))
	got := restAttempts(t, feed, 2)
	require.Equal(t, []int{502, 202}, []int{got[0].Status, got[1].Status}, "a 502 is retried by default")

	arm(502)
	err := c.SendMessage(ctx, "chat", signalr.Message{Target: "once"}, &signalr.SendMessageOptions{AtMostOnce: true})
	require.ErrorIs(t, err, signalr.ErrMaybeApplied)
	require.Equal(t, 502, restAttempts(t, feed, 1)[0].Status)

	arm(500)
	err = c.SendMessage(ctx, "chat", signalr.Message{Target: "after500"}, nil)
	require.ErrorIs(t, err, signalr.ErrMaybeApplied, "a send answered 500 is not retried")
	require.Equal(t, 500, restAttempts(t, feed, 1)[0].Status)

	arm(500)
	require.NoError(t, c.ApplyGroupAction(ctx, "chat", signalr.GroupAction{Action: signalr.GroupActionAdd, UserID: "u", GroupName: "g"}, nil))
	got = restAttempts(t, feed, 2)
	require.Equal(t, []int{500, 200}, []int{got[0].Status, got[1].Status}, "a group action is retried through a 500")

}

// Latency on REST longer than the Client's attempt timeout: by default the
// attempt is given up and retried, so the message may arrive twice (the
// service served the slow attempt too, as the docs warn); with AtMostOnce
// the error wraps ErrMaybeApplied and nothing is sent again.
func TestClientUnderInjectedRESTLatency(t *testing.T) {
	emu, _, c := emulatorClient(t, nil, &signalr.ClientOptions{Retry: quickRetry, AttemptTimeout: 200 * time.Millisecond})
	feed := restFeed(t, emu)
	ctx := context.Background()
	_, err := emu.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Delay: 2 * time.Second, Count: 1})
	require.NoError(t, err)
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "slow"}, nil), "retried after the attempt timed out")
	got := restAttempts(t, feed, 2)
	require.ElementsMatch(t, []int{202, 202}, []int{got[0].Status, got[1].Status}, "both attempts were served: at least once, possibly twice")

	_, err = emu.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/chat/", Delay: 2 * time.Second, Count: 1})
	require.NoError(t, err)
	err = c.SendMessage(ctx, "chat", signalr.Message{Target: "slowOnce"}, &signalr.SendMessageOptions{AtMostOnce: true})
	require.ErrorIs(t, err, signalr.ErrMaybeApplied)
	require.Equal(t, "slowOnce", restAttempts(t, feed, 1)[0].Target)
	require.Empty(t, emu.Emulator.Faults(), "the one slow attempt was all")
}

// An offline endpoint: Healthy reports false, a send is refused with 503
// through every retry (not applied, so not ErrMaybeApplied), a connected
// Go client is dropped abruptly; back online, everything works again.
func TestClientAgainstAnOfflineEndpoint(t *testing.T) {
	emu, cs, c := emulatorClient(t, nil, &signalr.ClientOptions{Retry: signalr.RetryOptions{MaxRetries: 2, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}})
	ctx := context.Background()
	conn := dialHub(t, cs, "chat", "u1", nil)
	emu.Emulator.SetOffline(true)
	select {
	case <-conn.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the client was not dropped")
	}
	healthy, err := c.Healthy(ctx, nil)
	require.NoError(t, err)
	require.False(t, healthy)
	err = c.SendMessage(ctx, "chat", signalr.Message{Target: "m"}, nil)
	var re *signalr.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 503, re.StatusCode)
	require.NotErrorIs(t, err, signalr.ErrMaybeApplied, "a 503 was not applied")

	emu.Emulator.SetOffline(false)
	healthy, err = c.Healthy(ctx, nil)
	require.NoError(t, err)
	require.True(t, healthy)
	require.NoError(t, c.SendMessage(ctx, "chat", signalr.Message{Target: "m"}, nil))
	dialHub(t, cs, "chat", "u1", nil)
}
