package restapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// swaggerOps reads a swagger file and returns "METHOD /path/{}" -> the
// statuses it lists, with every parameter name replaced by {}.
func swaggerOps(t *testing.T, file string) map[string][]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "rest-api", file))
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	ops := map[string][]int{}
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			if method == "parameters" {
				continue
			}
			var op struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			var statuses []int
			for code := range op.Responses {
				if n, err := strconv.Atoi(code); err == nil {
					statuses = append(statuses, n)
				}
			}
			ops[key(method, path)] = statuses
		}
	}
	return ops
}

var param = regexp.MustCompile(`\{[^}]*\}`)

func key(method, path string) string {
	return strings.ToUpper(method) + " " + param.ReplaceAllString(path, "{}")
}

// TestRoutesMatchSwagger checks every route of the table against the
// published swagger of its API version, and that no swagger operation is
// missing from the table.
func TestRoutesMatchSwagger(t *testing.T) {
	t.Parallel()
	// path returns the route's template in a dated version, or "" when
	// the version predates the operation.
	dated := func(version string) func(*Route) string {
		return func(r *Route) string {
			if r.Since > version {
				return ""
			}
			return r.Path
		}
	}
	for _, v := range []struct {
		file   string
		path   func(*Route) string
		status func(*Route) int
	}{
		{"V20220601.json", dated("2022-06-01"), func(r *Route) int { return r.Status }},
		{"V20230701.json", dated(Version20230701), func(r *Route) int { return r.Status }},
		{"V20241201.json", dated(Version20241201), func(r *Route) int { return r.Status }},
		// The access key's v1 path is the one the SDKs call; v1's
		// swagger does not list it.
		{"v1.json", func(r *Route) string {
			if r.Since != "" {
				return ""
			}
			return r.PathV1
		}, (*Route).V1Status},
	} {
		t.Run(v.file, func(t *testing.T) {
			ops := swaggerOps(t, v.file)
			covered := map[string]bool{}
			for i := range Routes {
				r := &Routes[i]
				assert.Equal(t, Op(i), r.Op, "row %d holds op %d", i, r.Op)
				p := v.path(r)
				if p == "" {
					continue
				}
				k := key(r.Method, p)
				statuses, ok := ops[k]
				if assert.True(t, ok, "%s: %s is not in %s", r.Name, k, v.file) {
					assert.Contains(t, statuses, v.status(r), "%s: success status", r.Name)
				}
				covered[k] = true
			}
			for k := range ops {
				// v1 lists GET beside HEAD for its checks; the client uses
				// HEAD and the emulator answers both.
				if rest, ok := strings.CutPrefix(k, "GET "); ok && covered["HEAD "+rest] {
					continue
				}
				assert.True(t, covered[k], "%s in %s has no route", k, v.file)
			}
		})
	}
}

func TestRelative(t *testing.T) {
	t.Parallel()
	r := Routes[AddConnectionToGroup]
	assert.Equal(t, []string{"hubs/{hub}/groups/{group}/connections/{connection}", "hubs/{hub}/connections/{connection}/groups/{group}"}, r.Relative())
	r = Routes[Broadcast]
	assert.Equal(t, []string{"hubs/{hub}/:send", "hubs/{hub}"}, r.Relative())
	assert.True(t, Routes[UserInGroup].Uses("user"))
	assert.False(t, Routes[Broadcast].Uses("group"))
}
