package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// swaggerDoc is the part of a swagger 2.0 or OpenAPI 3 (v1) file the
// contract test reads.
type swaggerDoc struct {
	Info        struct{ Version string } `json:"info"`
	Paths       map[string]map[string]json.RawMessage
	Definitions map[string]json.RawMessage `json:"definitions"`
	Components  struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
	Parameters map[string]swaggerParam `json:"parameters"`
}

type swaggerParam struct {
	Name   string          `json:"name"`
	In     string          `json:"in"`
	Ref    string          `json:"$ref"`
	Schema json.RawMessage `json:"schema"`
}

type swaggerOperation struct {
	ID          string                     `json:"operationId"`
	Parameters  []swaggerParam             `json:"parameters"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Responses   map[string]swaggerResponse `json:"responses"`
}

type swaggerResponse struct {
	Schema  json.RawMessage `json:"schema"` // swagger 2.0
	Content map[string]struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"content"` // OpenAPI 3
}

// schema returns the JSON schema of a response, or nil when it has none.
func (r swaggerResponse) schema() json.RawMessage {
	if r.Schema != nil {
		return r.Schema
	}
	if c, ok := r.Content["application/json"]; ok {
		return c.Schema
	}
	return nil
}

// schemaChecker validates JSON values against the swagger's schemas: the
// subset the SignalR files use ($ref, allOf, type, properties, required,
// additionalProperties, items, enum, minLength, maxLength, format uri).
type schemaChecker struct{ doc *swaggerDoc }

func (sc schemaChecker) resolve(ref string) json.RawMessage {
	if name, ok := strings.CutPrefix(ref, "#/definitions/"); ok {
		return sc.doc.Definitions[name]
	}
	if name, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
		return sc.doc.Components.Schemas[name]
	}
	return nil
}

// check returns the ways value breaks schema, at path.
func (sc schemaChecker) check(schema json.RawMessage, value any, path string) []string {
	var s struct {
		Ref                  string                     `json:"$ref"`
		AllOf                []json.RawMessage          `json:"allOf"`
		Type                 string                     `json:"type"`
		Properties           map[string]json.RawMessage `json:"properties"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Items                json.RawMessage            `json:"items"`
		Enum                 []any                      `json:"enum"`
		MinLength            *int                       `json:"minLength"`
		MaxLength            *int                       `json:"maxLength"`
		Format               string                     `json:"format"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		return []string{path + ": unreadable schema"}
	}
	if s.Ref != "" {
		target := sc.resolve(s.Ref)
		if target == nil {
			return []string{path + ": unknown $ref " + s.Ref}
		}
		return sc.check(target, value, path)
	}
	var problems []string
	for _, sub := range s.AllOf {
		problems = append(problems, sc.check(sub, value, path)...)
	}
	switch s.Type {
	case "object":
		obj, ok := value.(map[string]any)
		if !ok {
			return append(problems, fmt.Sprintf("%s: %v is not an object", path, value))
		}
		for _, name := range s.Required {
			if _, ok := obj[name]; !ok {
				problems = append(problems, path+": required property "+name+" is missing")
			}
		}
		for name, v := range obj {
			if sub, ok := s.Properties[name]; ok {
				problems = append(problems, sc.check(sub, v, path+"."+name)...)
			} else if s.AdditionalProperties != nil && !*s.AdditionalProperties && len(s.AllOf) == 0 {
				problems = append(problems, path+": property "+name+" is not in the schema")
			}
		}
	case "array":
		arr, ok := value.([]any)
		if !ok {
			return append(problems, fmt.Sprintf("%s: %v is not an array", path, value))
		}
		for i, v := range arr {
			if s.Items != nil {
				problems = append(problems, sc.check(s.Items, v, path+"["+strconv.Itoa(i)+"]")...)
			}
		}
	case "string":
		str, ok := value.(string)
		if !ok {
			return append(problems, fmt.Sprintf("%s: %v is not a string", path, value))
		}
		if s.MinLength != nil && len([]rune(str)) < *s.MinLength || s.MaxLength != nil && len([]rune(str)) > *s.MaxLength {
			problems = append(problems, path+": string length out of range")
		}
		if s.Format == "uri" {
			if u, err := url.Parse(str); err != nil || !u.IsAbs() {
				problems = append(problems, path+": "+str+" is not an absolute URI")
			}
		}
	case "integer":
		if n, ok := value.(float64); !ok || n != float64(int64(n)) {
			problems = append(problems, fmt.Sprintf("%s: %v is not an integer", path, value))
		}
	case "boolean":
		if _, ok := value.(bool); !ok {
			problems = append(problems, fmt.Sprintf("%s: %v is not a boolean", path, value))
		}
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(value)
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s: %v is not one of %v", path, value, s.Enum))
		}
	}
	return problems
}

func loadSwagger(t *testing.T, file string) *swaggerDoc {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "rest-api", file))
	require.NoError(t, err)
	var doc swaggerDoc
	require.NoError(t, json.Unmarshal(data, &doc))
	return &doc
}

// answeringClient connects to hub as user and answers every Invocation
// that carries an invocation id with the result 42, until the test ends.
func answeringClient(t *testing.T, s *emulator.Server, hub, user string) *client {
	t.Helper()
	c := connect(t, s, hub, user)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := c.ws.Read(context.Background())
			if err != nil {
				return
			}
			for _, rec := range bytes.Split(bytes.TrimSuffix(data, []byte{0x1e}), []byte{0x1e}) {
				var m message
				if json.Unmarshal(rec, &m) == nil && m.Type == 1 && m.InvocationID != "" {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":3,"invocationId":"`+m.InvocationID+`","result":42}`+"\x1e"))
					cancel()
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = c.ws.CloseNow()
		<-done
	})
	return c
}

// TestRESTContract walks every operation of every swagger file in
// testdata/rest-api against the emulator, driven by the files rather than
// by the route table it shares with the client. Before each operation a
// client of user u1 is connected and in group g1, so every operation has
// something to act on; each must answer a status its file lists, and a
// body that matches the file's schema for that status (no body where the
// file gives no schema).
func TestRESTContract(t *testing.T) {
	t.Parallel()
	s := newServer(t, &emulator.Options{InvokeTimeout: 5 * time.Second})
	files, err := filepath.Glob(filepath.Join("..", "testdata", "rest-api", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 4, "v1, 2022-06-01, 2023-07-01 and 2024-12-01")
	param := regexp.MustCompile(`\{[^}]*\}`)
	total := 0
	for _, file := range files {
		file = filepath.Base(file)
		doc := loadSwagger(t, file)
		sc := schemaChecker{doc}
		dated := !strings.HasPrefix(file, "v1")
		var paths []string
		for p := range doc.Paths {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, path := range paths {
			for method, raw := range doc.Paths[path] {
				if method == "parameters" {
					continue
				}
				var op swaggerOperation
				require.NoError(t, json.Unmarshal(raw, &op))
				method = strings.ToUpper(method)
				total++
				t.Run(file+" "+op.ID, func(t *testing.T) {
					c := answeringClient(t, s, "chat", "u1")
					wantStatus(t, rest(t, s, http.MethodPut, "/api/hubs/chat/groups/g1/connections/"+c.id+"?api-version=2022-06-01", ""), http.StatusOK, "")
					escaped := param.ReplaceAllStringFunc(path, func(p string) string {
						switch p {
						case "{hub}":
							return "chat"
						case "{connectionId}":
							return url.PathEscape(c.id)
						case "{group}":
							return "g1"
						case "{streamId}":
							return "s1"
						}
						return "u1" // {user}, {id}
					})
					query := url.Values{}
					body := ""
					for _, p := range op.Parameters {
						if p.Ref != "" {
							p = doc.Parameters[strings.TrimPrefix(p.Ref, "#/parameters/")]
						}
						switch {
						case p.Name == "api-version":
							query.Set("api-version", doc.Info.Version)
						case p.Name == "maxpagesize":
							query.Set("maxpagesize", "1")
						case p.Name == "filter":
							query.Set("filter", "userId eq 'u1' and 'g1' in groups")
						case p.Name == "userId", p.Name == "minutesToExpire":
							query.Set("userId", "u1")
							query.Set("minutesToExpire", "5")
						case p.In == "body" && strings.Contains(string(p.Schema), "array"):
							body = `[{"type":"JoinGroup","group":"g2"},{"type":"SendMessage","message":{"target":"t","arguments":[1]}}]`
						case p.In == "body":
							body = sendBody("t", "a")
						}
					}
					if op.RequestBody != nil {
						body = sendBody("t", "a")
					}
					if len(query) > 0 {
						escaped += "?" + query.Encode()
					}
					resp := rest(t, s, method, escaped, body)
					data, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					// errorAnswer checks an error answer against the file's
					// response for its status (else the file's default):
					// a body matching the response's schema, or no body at
					// all where the response has none.
					errorAnswer := func(resp *http.Response, data []byte, what string) {
						t.Helper()
						listed, ok := op.Responses[strconv.Itoa(resp.StatusCode)]
						if !ok {
							listed, ok = op.Responses["default"]
						}
						if !ok && !dated {
							// v1.json lists no answer for most errors.
							return
						}
						require.True(t, ok, "%s lists no answer for %d", file, resp.StatusCode)
						switch schema := listed.schema(); {
						case method == http.MethodHead:
							assert.Empty(t, data, what)
						case !dated:
							assert.Contains(t, listed.Content, "text/plain", what)
							assert.NotEmpty(t, data, "%s: v1 answers a 400 with text", what)
						case schema != nil:
							var value any
							require.NoError(t, json.Unmarshal(data, &value), "%s: error body %q", what, data)
							assert.Empty(t, sc.check(schema, value, "error"), "%s: error body %s", what, data)
						default:
							assert.Empty(t, string(data), "%s: %s gives no schema for a %d", what, file, resp.StatusCode)
						}
						if dated {
							assert.NotEmpty(t, resp.Header.Get("x-ms-error-code"), what)
						}
					}
					if strings.Contains(path, "{hub}") {
						// A bad hub name: the error answer must match the
						// file too (its "default" or its listed 400).
						bad := strings.Replace(escaped, "/chat", "/1bad", 1)
						resp := rest(t, s, method, bad, body)
						data, err := io.ReadAll(resp.Body)
						require.NoError(t, err)
						require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s", method, bad)
						errorAnswer(resp, data, "bad hub name")
					}
					if !strings.HasSuffix(path, "/health") {
						// A token signed with another key: 401, answered as
						// the file says.
						base, _, _ := strings.Cut(escaped, "?")
						resp := restWithToken(t, s, method, escaped, body, mint(t, "not-the-access-key-0123456789abcdefghij", s.URL+base, nil))
						data, err := io.ReadAll(resp.Body)
						require.NoError(t, err)
						require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s", method, escaped)
						errorAnswer(resp, data, "bad token")
					}
					listed, ok := op.Responses[strconv.Itoa(resp.StatusCode)]
					require.True(t, ok, "%s %s answered %d (%s %s), which %s does not list", method, escaped, resp.StatusCode, resp.Header.Get("x-ms-error-code"), data, file)
					schema := listed.schema()
					if schema == nil || method == http.MethodHead {
						assert.Empty(t, data, "%s gives no schema for %d", file, resp.StatusCode)
						return
					}
					var value any
					require.NoError(t, json.Unmarshal(data, &value), "body %q", data)
					assert.Empty(t, sc.check(schema, value, "body"), "body %s", data)
					if dated {
						assert.Contains(t, resp.Header.Get("Content-Type"), "application/json")
					}
					if strings.HasSuffix(path, "/:invoke") {
						assert.JSONEq(t, `{"result":42}`, string(data))
					}
					if strings.HasSuffix(path, "/groups/{group}/connections") && method == http.MethodGet {
						// maxpagesize=1: one member (earlier tests' clients
						// may still be leaving the group).
						var members []map[string]string
						require.NoError(t, json.Unmarshal(mustField(t, data, "value"), &members))
						require.Len(t, members, 1)
						assert.Equal(t, "u1", members[0]["userId"])
					}
				})
			}
		}
	}
	assert.Equal(t, 19+19+22+26, total, "operations walked")
}

func mustField(t *testing.T, data []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	return m[name]
}
