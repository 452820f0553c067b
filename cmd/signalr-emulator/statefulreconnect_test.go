package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// grantsStatefulReconnect negotiates with useStatefulReconnect=true and
// reports what the emulator answered.
func (r *running) grantsStatefulReconnect(t *testing.T) bool {
	t.Helper()
	base := "http://127.0.0.1:" + r.port
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": base + "/client/?hub=chat", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(r.key))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/client/negotiate?hub=chat&negotiateVersion=1&useStatefulReconnect=true", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		UseStatefulReconnect bool `json:"useStatefulReconnect"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.UseStatefulReconnect
}

func TestStatefulReconnectFlags(t *testing.T) {
	assert.True(t, start(t).grantsStatefulReconnect(t), "granted by default")
	assert.False(t, start(t, "-no-stateful-reconnect").grantsStatefulReconnect(t), "-no-stateful-reconnect")
	assert.True(t, start(t, "-stateful-reconnect-window", "3s").grantsStatefulReconnect(t))
	for _, args := range [][]string{{"-stateful-reconnect-window", "0s"}, {"-stateful-reconnect-window", "soon"}} {
		assert.Error(t, run(context.Background(), args, io.Discard, io.Discard), "run(%q)", args)
	}
}
