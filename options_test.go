package signalr

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9, item 9: Bind keeps its own copy of ClaimTypeList, so changing
// the caller's slice later (from another goroutine, say) changes nothing.
func TestBindCopiesClaimTypeList(t *testing.T) {
	t.Parallel()
	settings := mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})
	types := []string{"name"}
	in, err := ConnectionInfoBinding{HubName: "chat", IDToken: "{headers.authorization}", ClaimTypeList: types}.
		bindAt(&BindOptions{Settings: settings}, fixedClock)
	require.NoError(t, err)
	types[0] = "secret"
	info, err := in.Resolve(request("/", map[string]string{"Authorization": "Bearer " + fakeIDToken(`{"name":"Alice","secret":"s3"}`)}))
	require.NoError(t, err)
	claims := verify(t, info.AccessToken, testKey, info.URL, fixedNow)
	assert.Equal(t, "Alice", claims["name"])
	assert.NotContains(t, claims, "secret")
}

// Issue 9, item 9: a negative AttemptTimeout used to mean "no limit" while
// the Client's transport kept 30s dial and 10s TLS limits. Every attempt
// has a bound, so it is now an error naming the field.
func TestNegativeAttemptTimeoutIsRejected(t *testing.T) {
	t.Parallel()
	cs := mustParse(t, emulatorCS)
	_, err := NewClient(cs, &ClientOptions{AttemptTimeout: -time.Second})
	require.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "ClientOptions.AttemptTimeout")
	c, err := NewClient(cs, &ClientOptions{AttemptTimeout: time.Hour})
	require.NoError(t, err)
	c.CloseIdleConnections()
}

// Issue 9, item 9: the default OnError logs counts and codes, not the user
// ids, group names or connection ids of the items (personal data), nor the
// request path.
func TestDefaultOnErrorLogsNoPersonalData(t *testing.T) {
	var buf bytes.Buffer
	log.SetOutput(&buf)
	defer log.SetOutput(os.Stderr)

	out, err := NewOutput(personalSender{}, "chat", nil)
	require.NoError(t, err)
	h := WithOutputFunc(out, func(w http.ResponseWriter, r *http.Request, c *Collector) {
		require.NoError(t, c.AddMessage(Message{Target: "t", UserID: "alice.private@example.com"}))
		require.NoError(t, c.AddGroupAction(GroupAction{Action: GroupActionAdd, UserID: "bob-private", GroupName: "secret-club"}))
		require.NoError(t, c.AddMessage(Message{Target: "t", ConnectionID: "conn-private"}))
		w.WriteHeader(http.StatusNoContent) // answered, so the failure can only be logged
	})
	mux := http.NewServeMux()
	mux.Handle("POST /users/{user}/send", h)
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/users/alice.private@example.com/send", nil))

	logged := buf.String()
	t.Log(logged)
	for _, private := range []string{"alice", "bob-private", "secret-club", "conn-private"} {
		assert.NotContains(t, logged, private)
	}
	assert.Contains(t, logged, "3 output item(s)")
	assert.Contains(t, logged, "503")
	assert.Contains(t, logged, "Error.Busy")
	assert.Contains(t, logged, "POST /users/{user}/send", "the route pattern, not the path")
}

// personalSender fails every item with errors that carry the ids, as real
// ones do (a ResponseError's URL, a transport error's URL).
type personalSender struct{}

func (personalSender) SendMessage(_ context.Context, _ string, m Message, _ *SendMessageOptions) error {
	if m.UserID != "" {
		return &ResponseError{Method: "POST", URL: "http://x/api/hubs/chat/users/" + m.UserID + "/:send", StatusCode: 503, ErrorCode: "Error.Busy", Message: "user " + m.UserID + " busy"}
	}
	return errors.New(`Post "http://x/api/hubs/chat/connections/` + m.ConnectionID + `/:send": connection reset by peer`)
}

func (personalSender) ApplyGroupAction(_ context.Context, _ string, a GroupAction, _ *ApplyGroupActionOptions) error {
	return &ResponseError{Method: "PUT", URL: "http://x/api/hubs/chat/groups/" + a.GroupName + "/users/" + a.UserID, StatusCode: 400, ErrorCode: "Error.Bad"}
}
