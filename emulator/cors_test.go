package emulator_test

import (
	"net/http"
	"testing"
)

func TestCORS(t *testing.T) {
	s := newServer(t, nil)
	for _, path := range []string{"/client/negotiate?hub=chat&negotiateVersion=1", "/client/?hub=chat", "/api/hubs/chat/:send", "/api/v1/health"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, s.URL+path, nil)
			req.Header.Set("Origin", "http://app.example:3000")
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "x-requested-with,x-signalr-user-agent,authorization,content-type")
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent ||
				h.Get("Access-Control-Allow-Origin") != "http://app.example:3000" ||
				h.Get("Access-Control-Allow-Credentials") != "true" ||
				h.Get("Access-Control-Allow-Headers") != "x-requested-with,x-signalr-user-agent,authorization,content-type" ||
				h.Get("Access-Control-Allow-Methods") == "" {
				t.Fatalf("preflight = %d %v", resp.StatusCode, h)
			}
		})
	}

	// The actual request echoes the origin too, even when it fails.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/client/negotiate?hub=chat", nil)
	req.Header.Set("Origin", "https://other.example")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "https://other.example" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("negotiate without token from a browser = %d %v", resp.StatusCode, resp.Header)
	}

	// Without an Origin nothing CORS-related is added.
	resp, err = httpClient.Get(s.URL + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS headers without an Origin")
	}
}
