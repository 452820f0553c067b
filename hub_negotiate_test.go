package signalr

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var callerKey = []byte("the app's own signing key for its users' tokens")

// callerToken is a token the app's identity provider issued to a user.
func callerToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(callerKey)
	require.NoError(t, err)
	return tok
}

func negotiateWith(t *testing.T, b ConnectionInfoBinding, opts *NegotiateOptions, r *http.Request) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	in, err := b.Bind(&BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})})
	require.NoError(t, err)
	h, err := NewNegotiateHandler(in, opts)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec, body
}

func TestValidatedNegotiate(t *testing.T) {
	validate := ValidateJWT(func(*jwt.Token) (any, error) { return callerKey, nil }, &JWTValidationOptions{
		CopyClaims:    []string{"role"},
		ParserOptions: []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("https://idp.example")},
	})
	opts := &NegotiateOptions{Validate: validate, CloseOnAuthenticationExpiration: true}
	b := ConnectionInfoBinding{HubName: "chat", UserID: "{query.userId}"}
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	good := callerToken(t, jwt.MapClaims{"sub": "ada", "role": "admin", "iss": "https://idp.example", "exp": exp.Unix()})

	r := httptest.NewRequest("POST", "/api/negotiate?userId=mallory", nil)
	r.Header.Set("Authorization", "Bearer "+good)
	rec, body := negotiateWith(t, b, opts, r)
	require.Equal(t, 200, rec.Code, body)
	claims := verify(t, body["accessToken"], testKey, body["url"], time.Now())
	assert.Equal(t, "ada", claims["asrs.s.uid"], "the validated user, not the query's")
	assert.Equal(t, "admin", claims["role"])
	assert.Equal(t, "true", claims["asrs.s.coae"])
	assert.Equal(t, strconv.FormatInt(exp.Unix(), 10), claims["asrs.s.aeo"], "closes when the caller's token expires")

	for name, tc := range map[string]struct{ header, says string }{
		"no header":     {"", "no Authorization: Bearer"},
		"not bearer":    {"Basic YWRhOnB3", "no Authorization: Bearer"},
		"bad signature": {"Bearer " + good[:len(good)-4] + "AAAA", "signature is invalid"},
		"expired":       {"Bearer " + callerToken(t, jwt.MapClaims{"sub": "ada", "iss": "https://idp.example", "exp": time.Now().Add(-time.Minute).Unix()}), "expired"},
		"no expiry":     {"Bearer " + callerToken(t, jwt.MapClaims{"sub": "ada", "iss": "https://idp.example"}), "exp claim is required"},
		"wrong issuer":  {"Bearer " + callerToken(t, jwt.MapClaims{"sub": "ada", "iss": "https://evil.example", "exp": exp.Unix()}), "issuer"},
		"alg none":      {"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ.", "signing method"},
		"sub not text":  {"Bearer " + callerToken(t, jwt.MapClaims{"sub": 7, "iss": "https://idp.example", "exp": exp.Unix()}), "sub"},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/negotiate?userId=ada", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			rec, body := negotiateWith(t, b, opts, r)
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			assert.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
			assert.NotContains(t, body, "accessToken")
			assert.Contains(t, body["error"], "not authenticated")
			assert.Contains(t, body["error"], tc.says)
			if tc.header != "" {
				assert.NotContains(t, body["error"], tc.header[7:], "the token is not echoed")
			}
		})
	}
}

func TestNegotiateOptionsClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	opts := &NegotiateOptions{
		TokenLifetime:                   5 * time.Minute,
		DiagnosticClient:                func(r *http.Request) bool { return r.URL.Query().Get("diag") == "yes" },
		EnableDetailedErrors:            true,
		CloseOnAuthenticationExpiration: true,
		ApplicationName:                 "MyApp",
		Now:                             func() time.Time { return now },
	}
	b := ConnectionInfoBinding{HubName: "Chat", UserID: "{query.userId}"}
	rec, body := negotiateWith(t, b, opts, httptest.NewRequest("GET", "/api/negotiate?userId=bo&diag=yes", nil))
	require.Equal(t, 200, rec.Code, body)
	assert.Equal(t, "http://localhost:8888/client/?hub=myapp_chat", body["url"])
	claims := verify(t, body["accessToken"], testKey, body["url"], now)
	assert.Equal(t, "bo", claims["asrs.s.uid"])
	assert.Equal(t, "true", claims["asrs.s.dc"])
	assert.Equal(t, "True", claims["asrs.s.derror"])
	assert.Equal(t, "true", claims["asrs.s.coae"])
	assert.Equal(t, strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10), claims["asrs.s.aeo"])
	assert.EqualValues(t, now.Add(5*time.Minute).Unix(), claims["exp"])

	// Not a diagnostic client without the query.
	_, body = negotiateWith(t, b, opts, httptest.NewRequest("GET", "/api/negotiate?userId=bo", nil))
	claims = verify(t, body["accessToken"], testKey, body["url"], now)
	assert.NotContains(t, claims, "asrs.s.dc")

	// Options are checked once, up front.
	in, err := b.Bind(&BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})})
	require.NoError(t, err)
	_, err = NewNegotiateHandler(in, &NegotiateOptions{TokenLifetime: time.Millisecond})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = NewNegotiateHandler(in, &NegotiateOptions{ApplicationName: "no spaces"})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = NewNegotiateHandler(nil, nil)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	// Without options it is NegotiateHandler.
	h, err := NewNegotiateHandler(in, nil)
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/negotiate?userId=x", nil))
	assert.Equal(t, 200, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/api/negotiate?userId=x", nil))
	assert.Equal(t, 405, rec.Code)
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Bearer ": "", "Basic abc": "", "": ""} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		got, ok := BearerToken(r)
		assert.Equal(t, want, got, header)
		assert.Equal(t, want != "", ok, header)
	}
}
