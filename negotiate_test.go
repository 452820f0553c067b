package signalr

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func negotiateServer(t *testing.T, b ConnectionInfoBinding, cors *CORSOptions) *httptest.Server {
	t.Helper()
	in, err := b.Bind(&BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/api/negotiate", CORS(NegotiateHandler(in), cors))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestNegotiateHandler(t *testing.T) {
	t.Parallel()
	srv := negotiateServer(t, ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-ms-client-principal-id}"}, nil)

	for _, method := range []string{http.MethodPost, http.MethodGet} {
		req, _ := http.NewRequest(method, srv.URL+"/api/negotiate?negotiateVersion=1", nil)
		req.Header.Set("x-ms-client-principal-id", "alice")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, method)
		assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		assert.Len(t, body, 2, "exactly url and accessToken")
		assert.Equal(t, "http://localhost:8888/client/?hub=chat", body["url"])
		claims := verify(t, body["accessToken"], testKey, body["url"], time.Now())
		assert.Equal(t, "alice", claims["asrs.s.uid"])
	}
}

func TestNegotiateHandlerErrors(t *testing.T) {
	t.Parallel()
	srv := negotiateServer(t, ConnectionInfoBinding{HubName: "{query.hub}", UserID: "{headers.x-ms-client-principal-id}"}, nil)
	tests := []struct {
		name   string
		method string
		query  string
		user   string
		status int
		says   string
	}{
		{"anonymous caller", http.MethodPost, "?hub=chat", "", http.StatusUnauthorized, "x-ms-client-principal-id"},
		{"missing query parameter", http.MethodPost, "", "alice", http.StatusBadRequest, `query parameter "hub"`},
		{"bad hub", http.MethodPost, "?hub=no%20spaces", "alice", http.StatusBadRequest, "hub name"},
		{"wrong method", http.MethodDelete, "?hub=chat", "alice", http.StatusMethodNotAllowed, "POST and GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+"/api/negotiate"+tt.query, nil)
			if tt.user != "" {
				req.Header.Set("X-MS-CLIENT-PRINCIPAL-ID", tt.user)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Contains(t, strings.ToLower(body["error"]), strings.ToLower(tt.says))
			assert.NotContains(t, body, "accessToken")
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	any := negotiateServer(t, ConnectionInfoBinding{HubName: "chat"}, nil)
	only := negotiateServer(t, ConnectionInfoBinding{HubName: "chat"}, &CORSOptions{AllowedOrigins: []string{"https://app.example/"}})

	preflight := func(srv *httptest.Server, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/api/negotiate?negotiateVersion=1", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "x-requested-with,x-signalr-user-agent,authorization")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := preflight(any, "http://localhost:3000")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "http://localhost:3000", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), "any origin, but never with credentials")
	assert.Equal(t, "POST", resp.Header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "x-requested-with,x-signalr-user-agent,authorization", resp.Header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "600", resp.Header.Get("Access-Control-Max-Age"))

	resp = preflight(only, "https://APP.example")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "https://APP.example", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"), "listed origins get credentials")
	resp = preflight(only, "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

	// The actual request from an allowed origin carries the headers; one
	// from another origin is served without them, so the browser blocks it.
	for origin, allowed := range map[string]bool{"https://app.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest(http.MethodPost, only.URL+"/api/negotiate", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		if allowed {
			assert.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
		} else {
			assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		assert.Contains(t, resp.Header.Values("Vary"), "Origin")
	}
}
