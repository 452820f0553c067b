package signalr

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// swaggerRoutes returns, for each operation of a published swagger file,
// "METHOD" + a regexp matching its escaped request paths.
func swaggerRoutes(t *testing.T, file string) map[string][]*regexp.Regexp {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "rest-api", file))
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	param := regexp.MustCompile(`\\\{[^}]*\\\}`)
	out := map[string][]*regexp.Regexp{}
	for path, methods := range doc.Paths {
		re := regexp.MustCompile("^" + param.ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
		for method := range methods {
			if method != "parameters" {
				m := strings.ToUpper(method)
				out[m] = append(out[m], re)
			}
		}
	}
	return out
}

// TestClientRequestsMatchSwagger sends every operation and checks each
// request's method and path against the published swagger of the API
// version, independently of the shared route table.
func TestClientRequestsMatchSwagger(t *testing.T) {
	for _, v := range []struct {
		version APIVersion
		file    string
	}{{APIVersion20220601, "V20220601.json"}, {APIVersionV1, "v1.json"}} {
		t.Run(string(v.version), func(t *testing.T) {
			routes := swaggerRoutes(t, v.file)
			rr := newRestRecorder(t, nil)
			c := mustClient(t, rr.cs, &ClientOptions{APIVersion: v.version})
			defer c.CloseIdleConnections()
			ctx := context.Background()
			calls := []error{
				c.SendMessage(ctx, "chat", Message{Target: "t"}, nil),
				c.SendMessage(ctx, "chat", Message{Target: "t", UserID: "u 1"}, nil),
				c.SendMessage(ctx, "chat", Message{Target: "t", GroupName: "g/1"}, nil),
				c.SendMessage(ctx, "chat", Message{Target: "t", ConnectionID: "c1"}, nil),
				c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, UserID: "u", GroupName: "g"}, nil),
				c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, UserID: "u", GroupName: "g"}, nil),
				c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, UserID: "u"}, nil),
				c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionAdd, ConnectionID: "c", GroupName: "g"}, nil),
				c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemove, ConnectionID: "c", GroupName: "g"}, nil),
				c.ApplyGroupAction(ctx, "chat", GroupAction{Action: GroupActionRemoveAll, ConnectionID: "c"}, nil),
				c.CloseConnection(ctx, "chat", "c", nil),
				c.CloseAllConnections(ctx, "chat", nil),
				c.CloseGroupConnections(ctx, "chat", "g", nil),
				c.CloseUserConnections(ctx, "chat", "u", nil),
				exists(c.ConnectionExists(ctx, "chat", "c", nil)),
				exists(c.GroupExists(ctx, "chat", "g", nil)),
				exists(c.UserExists(ctx, "chat", "u", nil)),
				exists(c.UserInGroup(ctx, "chat", "g", "u", nil)),
				exists(c.Healthy(ctx, nil)),
			}
			sent := 0
			for i, err := range calls {
				if v.version == APIVersionV1 && err != nil {
					assert.ErrorIs(t, err, ErrUnsupportedOperation, "call %d", i)
					continue
				}
				require.NoError(t, err, "call %d", i)
				sent++
			}
			reqs := rr.requests()
			require.Len(t, reqs, sent)
			for _, r := range reqs {
				matched := false
				for _, re := range routes[r.Method] {
					matched = matched || re.MatchString(r.Path)
				}
				assert.True(t, matched, "%s %s is not an operation of %s", r.Method, r.Path, v.file)
			}
		})
	}
}
