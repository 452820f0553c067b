package emulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, path := range []string{"/client/negotiate?hub=chat&negotiateVersion=1", "/client/?hub=chat", "/api/hubs/chat/:send", "/api/v1/health"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, s.URL+path, nil)
			req.Header.Set("Origin", "http://app.example:3000")
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "x-requested-with,x-signalr-user-agent,authorization,content-type")
			resp, err := httpClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			h := resp.Header
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			assert.Equal(t, "http://app.example:3000", h.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "true", h.Get("Access-Control-Allow-Credentials"))
			assert.Equal(t, "x-requested-with,x-signalr-user-agent,authorization,content-type", h.Get("Access-Control-Allow-Headers"))
			assert.NotEmpty(t, h.Get("Access-Control-Allow-Methods"))
		})
	}

	// The actual request echoes the origin too, even when it fails.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub=chat", nil)
	req.Header.Set("Origin", "https://other.example")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode, "negotiate without token from a browser")
	assert.Equal(t, "https://other.example", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))

	// Without an Origin nothing CORS-related is added.
	resp, err = httpClient.Get(s.URL + "/api/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "CORS headers without an Origin")
}
