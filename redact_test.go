package signalr_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr"
)

// echoForm is one way a server may echo a secret back.
type echoForm struct {
	name   string
	encode func(string) string
	// before and after surround the echo.
	before, after string
}

// echoForms lists the encodings a URL or JSON may give a secret, and the
// secret shortened by up to 8 characters at either end or both.
func echoForms() []echoForm {
	perByte := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	}
	jsonEscapeAll := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	}
	forms := []echoForm{
		{name: "exact", encode: func(s string) string { return s }},
		{name: "query escaped", encode: url.QueryEscape},
		{name: "path escaped", encode: url.PathEscape},
		{name: "- as %2D", encode: func(s string) string { return strings.ReplaceAll(s, "-", "%2D") }},
		{name: "- as %2d, _ as %5f", encode: func(s string) string {
			return strings.NewReplacer("-", "%2d", "_", "%5f", "+", "%2b", "/", "%2f", "=", "%3d").Replace(s)
		}},
		{name: "every byte percent-encoded", encode: perByte},
		{name: "twice escaped", encode: func(s string) string { return url.QueryEscape(url.QueryEscape(s)) }},
		{name: "base64", encode: func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
		{name: "base64url", encode: func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
		{name: `- as \u002d`, encode: func(s string) string { return strings.ReplaceAll(s, "-", `\u002d`) }},
		{name: `every character as \u`, encode: jsonEscapeAll},
		{"embedded", func(s string) string { return s }, "token=", "&x=1"},
		{"between words", func(s string) string { return s }, "you sent ", ", which is bad"},
		{"- as %2D, embedded", func(s string) string { return strings.ReplaceAll(s, "-", "%2D") }, "abc", "def"},
	}
	for k := 1; k <= 8; k++ {
		forms = append(forms,
			echoForm{name: "without the first " + strconv.Itoa(k), encode: func(s string) string { return s[k:] }},
			echoForm{name: "without the last " + strconv.Itoa(k), encode: func(s string) string { return s[:len(s)-k] }},
			echoForm{name: "without " + strconv.Itoa(k) + " at both ends", encode: func(s string) string { return s[k : len(s)-k] }},
		)
	}
	return forms
}

// echoPlace is where the server puts the echo in its error answer.
type echoPlace struct {
	name  string
	write func(w http.ResponseWriter, echo string)
}

var echoPlaces = []echoPlace{
	{"JSON message", func(w http.ResponseWriter, echo string) {
		b, _ := json.Marshal(map[string]string{"code": "Error.Bad", "message": "you sent " + echo})
		writeError(w, "", string(b))
	}},
	{"JSON message, raw", func(w http.ResponseWriter, echo string) {
		writeError(w, "", `{"code":"Error.Bad","message":"you sent `+echo+`"}`)
	}},
	{"JSON code", func(w http.ResponseWriter, echo string) {
		b, _ := json.Marshal(map[string]string{"code": echo, "message": "bad"})
		writeError(w, "", string(b))
	}},
	{"JSON fields the API does not define", func(w http.ResponseWriter, echo string) {
		b, _ := json.Marshal(map[string]any{"code": "Error.Bad", "message": "bad", "target": echo,
			"details": []any{map[string]string{"code": echo, "message": echo}}, "inner": map[string]string{"code": echo}, "extra": echo})
		writeError(w, "", string(b))
	}},
	{"x-ms-error-code header", func(w http.ResponseWriter, echo string) {
		writeError(w, echo, `{"message":"bad"}`)
	}},
	{"WWW-Authenticate header", func(w http.ResponseWriter, echo string) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="you sent `+echo+`"`)
		w.WriteHeader(http.StatusUnauthorized)
	}},
	{"text body", func(w http.ResponseWriter, echo string) {
		writeError(w, "", "bad request: you sent "+echo)
	}},
}

func writeError(w http.ResponseWriter, code, body string) {
	if code != "" {
		w.Header().Set("x-ms-error-code", code)
	}
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, body)
}

// windows returns every 8-character substring of s.
func windows(s string) []string {
	var out []string
	for i := 0; i+8 <= len(s); i++ {
		out = append(out, s[i:i+8])
	}
	return out
}

// TestErrorsHoldNoEchoOfTheSecret: a REST server that echoes the bearer
// token, or the access key, in any encoding or shortened, in any part of its
// error answer, gets no 8 characters of it into the error the Client
// returns (its text, %+v and %#v) or into WithOutput's 502 body.
func TestErrorsHoldNoEchoOfTheSecret(t *testing.T) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key := base64.StdEncoding.EncodeToString(raw)

	var (
		mu     sync.Mutex
		token  string // the token of the last request
		form   echoForm
		place  echoPlace
		secret string // "token" or "key"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s := key
		if secret == "token" {
			s = token
		}
		place.write(w, form.before+form.encode(s)+form.after)
	}))
	defer srv.Close()
	c, err := signalr.NewClientFromConnectionString("Endpoint="+srv.URL+";AccessKey="+key+";Version=1.0;",
		&signalr.ClientOptions{Retry: signalr.RetryOptions{MaxRetries: -1}})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	out, err := signalr.NewOutput(c, "chat", nil)
	require.NoError(t, err)
	app := httptest.NewServer(signalr.WithOutputFunc(out, func(_ http.ResponseWriter, _ *http.Request, col *signalr.Collector) {
		_ = col.AddMessage(signalr.Message{Target: "t", UserID: "u"})
	}))
	defer app.Close()
	appClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	leaks := 0
	for _, sec := range []string{"token", "key"} {
		for _, p := range echoPlaces {
			for _, f := range echoForms() {
				mu.Lock()
				secret, place, form = sec, p, f
				mu.Unlock()
				name := sec + ", " + f.name + ", in " + p.name

				err := c.SendMessage(context.Background(), "chat", signalr.Message{Target: "t", UserID: "u"}, nil)
				require.Error(t, err, name)
				var re *signalr.ResponseError
				require.True(t, errors.As(err, &re), name)
				texts := map[string]string{
					"Error()": err.Error(), "%+v": fmt.Sprintf("%+v", err), "%#v": fmt.Sprintf("%#v", err),
					"ResponseError %#v": fmt.Sprintf("%#v", re),
				}

				resp, err := appClient.Get(app.URL)
				require.NoError(t, err, name)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusBadGateway, resp.StatusCode, name)
				texts["WithOutput's 502 body"] = string(body)

				mu.Lock()
				s := key
				if sec == "token" {
					s = token
				}
				mu.Unlock()
				// The secret's own windows, and those of the form it was
				// echoed in.
				check := append(windows(s), windows(f.encode(s))...)
			next:
				for where, text := range texts {
					for _, w := range check {
						if strings.Contains(text, w) {
							leaks++
							if leaks <= 20 {
								t.Errorf("%s: %s holds %q of the secret: %s", name, where, w, text)
							}
							break next
						}
					}
				}
			}
		}
	}
	assert.Zero(t, leaks, "echoes that reached an error")
}
