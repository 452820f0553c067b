package signalr

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// swaggerOp is one operation of a swagger file: its path pattern, the
// query parameters it declares and whether it takes a body.
type swaggerOp struct {
	name  string
	path  *regexp.Regexp
	query map[string]bool
	body  bool
}

// swaggerOps returns the operations of a published swagger file by method.
func swaggerOps(t *testing.T, file string) map[string][]swaggerOp {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "rest-api", file))
	require.NoError(t, err)
	type param struct {
		Name string `json:"name"`
		In   string `json:"in"`
		Ref  string `json:"$ref"`
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Parameters map[string]param                      `json:"parameters"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	pathParam := regexp.MustCompile(`\\\{[^}]*\\\}`)
	out := map[string][]swaggerOp{}
	for path, methods := range doc.Paths {
		re := regexp.MustCompile("^" + pathParam.ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
		for method, raw := range methods {
			if method == "parameters" {
				continue
			}
			var op struct {
				ID          string          `json:"operationId"`
				Parameters  []param         `json:"parameters"`
				RequestBody json.RawMessage `json:"requestBody"` // OpenAPI 3 (v1)
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			o := swaggerOp{name: op.ID, path: re, query: map[string]bool{}, body: op.RequestBody != nil}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					p = doc.Parameters[strings.TrimPrefix(p.Ref, "#/parameters/")]
				}
				switch p.In {
				case "query":
					o.query[p.Name] = true
				case "body":
					o.body = true
				}
			}
			m := strings.ToUpper(method)
			out[m] = append(out[m], o)
		}
	}
	return out
}

// clientCalls makes every Client operation once, with every option that
// adds a query parameter.
func clientCalls(c *Client) []error {
	ctx := context.Background()
	_, invokeErr := c.Invoke(ctx, "chat", "c1", "getAnswer", []any{1}, nil)
	_, listErr := c.listGroupMembers(ctx, "chat", "g", &GroupMembersOptions{MaxPageSize: 7, Top: 9})
	_, tokenErr := c.generateClientToken(ctx, "chat", "u", time.Minute)
	return []error{
		c.SendMessage(ctx, "chat", Message{Target: "t", Excluded: []string{"x"}}, nil),
		c.SendMessage(ctx, "chat", Message{Target: "t", UserID: "u 1"}, nil),
		c.SendMessage(ctx, "chat", Message{Target: "t", GroupName: "g/1", Excluded: []string{"x"}}, nil),
		c.SendMessage(ctx, "chat", Message{Target: "t", ConnectionID: "c1"}, nil),
		c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g", TTL: time.Minute}, nil),
		c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: "g"}, nil),
		c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, UserID: "u"}, nil),
		c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, ConnectionID: "c", GroupName: "g"}, nil),
		c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, ConnectionID: "c", GroupName: "g"}, nil),
		c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, ConnectionID: "c"}, nil),
		c.CloseConnection(ctx, "chat", "c", &CloseConnectionOptions{Reason: "r"}),
		c.CloseAllConnections(ctx, "chat", &BulkCloseOptions{Excluded: []string{"x"}, Reason: "r"}),
		c.CloseGroupConnections(ctx, "chat", "g", &BulkCloseOptions{Excluded: []string{"x"}, Reason: "r"}),
		c.CloseUserConnections(ctx, "chat", "u", &BulkCloseOptions{Excluded: []string{"x"}, Reason: "r"}),
		exists(c.ConnectionExists(ctx, "chat", "c", nil)),
		exists(c.GroupExists(ctx, "chat", "g", nil)),
		exists(c.UserExists(ctx, "chat", "u", nil)),
		exists(c.UserInGroup(ctx, "chat", "g", "u", nil)),
		exists(c.Healthy(ctx, nil)),
		c.Execute(ctx, "chat", Or(Eq(FilterUserID, "o'neil"), InGroup("g")), []Command{JoinGroupCommand{"g2"}, SendMessageCommand{Target: "t"}, LeaveGroupCommand{"g"}, CloseConnectionCommand{"bye"}}, nil),
		tokenErr,
		invokeErr,
		c.SendStreamItem(ctx, "chat", "c1", "s1", map[string]int{"n": 1}, &SendStreamItemOptions{Completed: true}),
		c.CompleteStream(ctx, "chat", "c1", "s1", &CompleteStreamOptions{Error: "boom"}),
		listErr,
	}
}

// swaggerAnswers answers like the service: bodies for the operations
// that return one, 202 for other POSTs, 200 for the rest.
func swaggerAnswers(_ int, r *http.Request, w http.ResponseWriter) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/:invoke"):
		_, _ = w.Write([]byte(`{"result":42}`))
	case strings.HasSuffix(r.URL.Path, "/:generateToken"):
		_, _ = w.Write([]byte(`{"token":"a.b.c"}`))
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/connections"):
		_, _ = w.Write([]byte(`{"value":[{"connectionId":"c1","userId":"u1"}]}`))
	case r.Method == http.MethodPost:
		w.WriteHeader(http.StatusAccepted)
	}
}

// TestClientRequestsMatchSwagger sends every operation and checks each
// request's method, path, query parameters and body against the published
// swagger of the API version it went out with, independently of the
// shared route table. Operations newer than the Client's version go out
// with the version that has them; v1 refuses them.
func TestClientRequestsMatchSwagger(t *testing.T) {
	t.Parallel()
	files := map[string]string{"2022-06-01": "V20220601.json", "2023-07-01": "V20230701.json", "2024-12-01": "V20241201.json", "v1": "v1.json"}
	ops := map[string]map[string][]swaggerOp{}
	for v, f := range files {
		ops[v] = swaggerOps(t, f)
	}
	for _, version := range []APIVersion{APIVersionV1, APIVersion20220601, APIVersion20230701, APIVersion20241201} {
		t.Run(string(version), func(t *testing.T) {
			rr := newRestRecorder(t, swaggerAnswers)
			c := mustClient(t, rr.cs, &ClientOptions{APIVersion: version})
			defer c.CloseIdleConnections()
			sent := 0
			for i, err := range clientCalls(c) {
				if version == APIVersionV1 && err != nil {
					assert.ErrorIs(t, err, ErrUnsupportedOperation, "call %d", i)
					continue
				}
				require.NoError(t, err, "call %d", i)
				sent++
			}
			reqs := rr.requests()
			require.Len(t, reqs, sent)
			used := map[string]bool{}
			for _, r := range reqs {
				q, err := parseQuery(r.Query)
				require.NoError(t, err)
				reqVersion := "v1"
				if strings.HasPrefix(r.Path, "/api/v1/") {
					assert.Empty(t, q["api-version"], "%s %s: v1 takes no api-version", r.Method, r.Path)
				} else {
					require.Len(t, q["api-version"], 1, "%s %s?%s", r.Method, r.Path, r.Query)
					reqVersion = q["api-version"][0]
					assert.False(t, apiVersionOrder[version] > apiVersionOrder[APIVersion(reqVersion)], "%s %s went out with %s, older than the Client's %s", r.Method, r.Path, reqVersion, version)
				}
				var match *swaggerOp
				for i, o := range ops[reqVersion][r.Method] {
					if o.path.MatchString(r.Path) {
						match = &ops[reqVersion][r.Method][i]
					}
				}
				if !assert.NotNil(t, match, "%s %s is not an operation of %s", r.Method, r.Path, files[reqVersion]) {
					continue
				}
				used[match.name] = true
				for name := range q {
					assert.True(t, match.query[name], "%s: query parameter %q is not in %s", match.name, name, files[reqVersion])
				}
				if match.body {
					assert.NotEmpty(t, r.Body, "%s takes a body", match.name)
					assert.True(t, json.Valid([]byte(r.Body)), "%s: body %q", match.name, r.Body)
				} else if !strings.Contains(r.Path, "/streams/") {
					// The stream item route declares no body; the
					// Client sends the item as JSON (see SendStreamItem).
					assert.Empty(t, r.Body, "%s takes no body", match.name)
				}
			}
			if version != APIVersionV1 {
				// Every operation of the Client's own version was sent,
				// except the access key, which the Client does not call.
				for _, list := range ops[string(version)] {
					for _, o := range list {
						if o.name != "Auth_GetAccessKey" {
							assert.True(t, used[o.name], "operation %s of %s was not sent", o.name, files[string(version)])
						}
					}
				}
			}
		})
	}
}

func parseQuery(raw string) (map[string][]string, error) {
	if raw == "" {
		return map[string][]string{}, nil
	}
	req, err := http.NewRequest("GET", "http://x/?"+raw, nil)
	if err != nil {
		return nil, err
	}
	return req.URL.Query(), nil
}
