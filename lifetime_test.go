package signalr

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9, item 4: lifetimes are checked where they are configured, with
// errors naming the field, and a fraction of a second is rounded up, never
// down (a token is never born expired, a TTL never shorter than asked).
func TestLifetimesAreValidated(t *testing.T) {
	t.Parallel()
	settings := mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})
	binding := ConnectionInfoBinding{HubName: "chat"}

	t.Run("BindOptions.TokenLifetime", func(t *testing.T) {
		for _, d := range []time.Duration{-time.Hour, -time.Nanosecond, 500 * time.Millisecond, time.Nanosecond} {
			_, err := binding.Bind(&BindOptions{Settings: settings, TokenLifetime: d})
			require.Error(t, err, "%v", d)
			assert.ErrorIs(t, err, ErrInvalidBinding)
			assert.Contains(t, err.Error(), "BindOptions.TokenLifetime")
		}
		in, err := binding.bindAt(&BindOptions{Settings: settings, TokenLifetime: 1500 * time.Millisecond}, fixedClock)
		require.NoError(t, err)
		info, err := in.Resolve(request("/", nil))
		require.NoError(t, err)
		claims := verify(t, info.AccessToken, testKey, info.URL, fixedNow)
		assert.Equal(t, 2.0, claims["exp"].(float64)-claims["nbf"].(float64), "1.5s rounds up to 2s")
	})

	t.Run("ClientTokenOptions.Lifetime", func(t *testing.T) {
		cs := mustParse(t, emulatorCS)
		for _, d := range []time.Duration{-time.Second, 999 * time.Millisecond} {
			_, err := cs.connectionInfo("chat", &ClientTokenOptions{Lifetime: d})
			require.Error(t, err, "%v", d)
			assert.ErrorIs(t, err, ErrInvalidArgument)
			assert.Contains(t, err.Error(), "ClientTokenOptions.Lifetime")
		}
		for d, want := range map[time.Duration]float64{time.Second: 1, 1001 * time.Millisecond: 2, 0: 3600} {
			info, err := cs.connectionInfo("chat", &ClientTokenOptions{Lifetime: d, Now: fixedClock})
			require.NoError(t, err)
			claims := verify(t, info.AccessToken, testKey, info.URL, fixedNow)
			assert.Equal(t, want, claims["exp"].(float64)-claims["nbf"].(float64), "%v", d)
		}
	})

	t.Run("GroupAction.TTL", func(t *testing.T) {
		a := GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: 1500 * time.Millisecond}
		require.NoError(t, a.Validate())
		b, err := json.Marshal(a)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"ttl":2`)

		rr := newRestRecorder(t, func(n int, r *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
		c := mustClient(t, rr.cs, nil)
		defer c.CloseIdleConnections()
		require.NoError(t, c.ApplyGroupAction(context.Background(), "chat", a, nil))
		reqs := rr.requests()
		require.Len(t, reqs, 1)
		assert.Contains(t, reqs[0].Query, "ttl=2", "1.5s rounds up to 2s")

		for _, d := range []time.Duration{-time.Second, 999 * time.Millisecond} {
			a.TTL = d
			err := a.Validate()
			assert.ErrorIs(t, err, ErrInvalidGroupAction)
			assert.Contains(t, err.Error(), "ttl")
		}
	})

	t.Run("OutputOptions", func(t *testing.T) {
		_, err := NewOutput(&failingSender{}, "chat", &OutputOptions{FlushTimeout: -time.Second})
		assert.ErrorIs(t, err, ErrInvalidArgument)
		assert.Contains(t, err.Error(), "OutputOptions.FlushTimeout")
		_, err = NewOutput(&failingSender{}, "chat", &OutputOptions{MaxConcurrency: -1})
		assert.ErrorIs(t, err, ErrInvalidArgument)
		assert.Contains(t, err.Error(), "OutputOptions.MaxConcurrency")
	})
}
