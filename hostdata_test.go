package signalr

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An Input from NewInputFunc answers negotiate with what its function
// resolved, and its errors map to the same statuses as a bound Input's.
func TestNewInputFuncServesNegotiate(t *testing.T) {
	in := NewInputFunc(func(r *http.Request) (ConnectionInfo, error) {
		if r.URL.Query().Get("userId") == "" {
			return ConnectionInfo{}, &BindingDataError{Field: "userId", Source: "query", Name: "userId"}
		}
		return ConnectionInfo{URL: "https://svc/client/?hub=chat", AccessToken: "tok-" + r.URL.Query().Get("userId")}, nil
	})

	rec := httptest.NewRecorder()
	NegotiateHandler(in).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate?userId=alice", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var info ConnectionInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
	assert.Equal(t, ConnectionInfo{URL: "https://svc/client/?hub=chat", AccessToken: "tok-alice"}, info)

	rec = httptest.NewRecorder()
	NegotiateHandler(in).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate", nil))
	assert.Equal(t, http.StatusBadRequest, rec.Code)

	_, err := NewInputFunc(nil).Resolve(httptest.NewRequest(http.MethodPost, "/", nil))
	assert.True(t, errors.Is(err, ErrInvalidBinding), "%v", err)
}

// SetParameterNames makes Argument find arguments by name, on a copy of the
// names.
func TestSetParameterNames(t *testing.T) {
	inv := &InvocationContext{Event: "sendToUser", Arguments: []Argument{JSONArgument([]byte(`"bob"`)), JSONArgument([]byte(`"hi"`))}}
	_, ok := inv.Argument("text")
	assert.False(t, ok, "no names yet")
	names := []string{"user", "text"}
	inv.SetParameterNames(names)
	names[1] = "changed"
	a, ok := inv.Argument("TEXT")
	require.True(t, ok)
	var s string
	require.NoError(t, a.Decode(&s))
	assert.Equal(t, "hi", s)
	assert.Equal(t, []string{"user", "text"}, inv.ParameterNames())
}
