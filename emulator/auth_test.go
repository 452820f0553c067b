package emulator_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// noneToken is an unsigned token (alg none) that says all the right things.
func noneToken(t *testing.T, aud string) string {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"aud": aud, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return token
}

func TestRESTTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	port := s.URL[strings.LastIndex(s.URL, ":"):]
	noPort := strings.TrimSuffix(s.URL, port)
	const path = "/api/hubs/chat/:send"
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{
		"aud": s.URL + path, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(testKey))
	cases := []struct {
		name   string
		token  string
		status int
		reason string
	}{
		{"aud is the URL", mint(t, testKey, s.URL+path, nil), 202, ""},
		{"aud without the port", mint(t, testKey, noPort+path, nil), 202, ""},
		{"aud with api-version as the SDK mints it", mint(t, testKey, noPort+path+"?api-version=2022-06-01", nil), 202, ""},
		{"aud with application and api-version", mint(t, testKey, s.URL+path+"?application=app&api-version=2022-06-01", nil), 202, ""},
		{"aud in an array", mint(t, testKey, "", jwt.MapClaims{"aud": []string{"x", s.URL + path}}), 202, ""},
		{"missing token", "", 401, "no access token"},
		{"bad signature", mint(t, "another key", s.URL+path, nil), 401, "signature"},
		{"expired", mint(t, testKey, s.URL+path, jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}), 401, "expired"},
		{"no exp", mint(t, testKey, s.URL+path, jwt.MapClaims{"exp": nil}), 401, "exp"},
		{"not yet valid", mint(t, testKey, s.URL+path, jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()}), 401, "nbf"},
		{"wrong aud path", mint(t, testKey, s.URL+"/api/hubs/other/:send", nil), 401, "audience"},
		{"wrong aud host", mint(t, testKey, "http://example.com"+path, nil), 401, "audience"},
		{"aud with another query", mint(t, testKey, s.URL+path+"?excluded=x", nil), 401, "audience"},
		{"no aud", mint(t, testKey, "", jwt.MapClaims{"aud": nil}), 401, "aud"},
		{"client token", mint(t, testKey, clientURL(s, "chat"), nil), 401, "audience"},
		{"alg none", noneToken(t, s.URL+path), 401, "HS256"},
		{"HS512", hs512, 401, "HS256"},
		{"garbage", "not.a.token", 401, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := restWithToken(t, s, "POST", path+"?api-version=2022-06-01&excluded=x", sendBody("m", "x"), tc.token)
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, tc.status, resp.StatusCode, "body %s", body)
			assert.Contains(t, string(body), tc.reason)
			if tc.status == 401 {
				assert.Equal(t, "Error.Unauthorized", resp.Header.Get("x-ms-error-code"))
			}
		})
	}
}

func TestClientTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	port := s.URL[strings.LastIndex(s.URL, ":"):]
	noPort := strings.TrimSuffix(s.URL, port)
	cases := []struct {
		name   string
		token  string
		query  bool // send it as access_token instead of the header
		status int
		reason string
	}{
		{"aud is the client URL", mint(t, testKey, s.URL+"/client/?hub=chat", nil), false, 200, ""},
		{"aud without the port", mint(t, testKey, noPort+"/client/?hub=chat", nil), false, 200, ""},
		{"access_token query", mint(t, testKey, s.URL+"/client/?hub=chat", nil), true, 200, ""},
		{"missing token", "", false, 401, "no access token"},
		{"bad signature", mint(t, "another key", s.URL+"/client/?hub=chat", nil), false, 401, "signature"},
		{"expired", mint(t, testKey, s.URL+"/client/?hub=chat", jwt.MapClaims{"exp": time.Now().Add(-time.Second).Unix()}), false, 401, "expired"},
		{"no exp", mint(t, testKey, s.URL+"/client/?hub=chat", jwt.MapClaims{"exp": nil}), false, 401, "exp"},
		{"other hub", mint(t, testKey, s.URL+"/client/?hub=other", nil), false, 401, "audience"},
		{"REST aud", mint(t, testKey, s.URL+"/api/hubs/chat", nil), false, 401, "audience"},
		{"alg none", noneToken(t, s.URL+"/client/?hub=chat"), false, 401, "HS256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := s.URL + "/client/negotiate?hub=Chat&negotiateVersion=1"
			if tc.query {
				u += "&access_token=" + tc.token
			}
			req, _ := http.NewRequest("POST", u, nil)
			if !tc.query && tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := httpClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, tc.status, resp.StatusCode, "negotiate: body %s", body)
			assert.Contains(t, string(body), tc.reason)
			if tc.status == 200 {
				return
			}
			// The WebSocket endpoint refuses the same token.
			_, wsResp, err := dialRaw(t, s, "chat", "", tc.token)
			require.Error(t, err, "connect with a bad token")
			require.NotNil(t, wsResp)
			assert.Equal(t, 401, wsResp.StatusCode, "connect with a bad token")
		})
	}
}

func TestUserIDComesFromUIDThenNameIDThenSub(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	cases := []struct {
		claims jwt.MapClaims
		want   string
	}{
		{jwt.MapClaims{"asrs.s.uid": "uid", "nameid": "nameid", "sub": "sub"}, "uid"},
		{jwt.MapClaims{"nameid": "nameid", "sub": "sub"}, "nameid"},
		{jwt.MapClaims{"sub": "sub"}, "sub"},
		{jwt.MapClaims{"asrs.s.uid": "", "nameid": "fallback"}, "fallback"},
		{jwt.MapClaims{}, ""},
	}
	for _, tc := range cases {
		token := mint(t, testKey, clientURL(s, "ids"), tc.claims)
		n := negotiate(t, s, "ids", token, 1)
		ws, _, err := dialRaw(t, s, "ids", "&id="+n.ConnectionToken, token)
		require.NoError(t, err)
		c := &client{t: t, ws: ws, id: n.ConnectionID}
		c.send(`{"protocol":"json","version":1}`)
		c.next()
		got, ok := s.Emulator.Snapshot("ids").Connection(n.ConnectionID)
		require.True(t, ok, "claims %v: not connected", tc.claims)
		assert.Equal(t, tc.want, got.UserID, "claims %v", tc.claims)
	}
}

func TestPrintingNeverShowsTheKey(t *testing.T) {
	t.Parallel()
	const secret = "MY-OWN-SECRET-KEY-0123456789"
	opts := &emulator.Options{AccessKey: secret}
	e, err := emulator.New(opts)
	require.NoError(t, err)
	defer e.Close()
	s := emulator.NewServer(opts)
	defer s.Close()
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s", e, e, e, e),
		fmt.Sprintf("%v %+v %#v %s", *opts, *opts, *opts, *opts),
		fmt.Sprintf("%v %+v %#v", opts, opts, opts),
		fmt.Sprintf("%v %+v", s, s),
	} {
		assert.NotContains(t, out, secret[:12], "printed the key")
	}
}
