package emulator_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRESTAnswersEverySwaggerOperation drives the emulator from the
// published swagger files (copied into the repository's testdata), not
// from the route table it shares with the client: every operation must be
// routed (no 404 "no such route", no 405) and answer one of the statuses
// the swagger lists, or a 404 that names the missing connection, group or
// user.
func TestRESTAnswersEverySwaggerOperation(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	param := regexp.MustCompile(`\{[^}]*\}`)
	for _, file := range []string{"V20220601.json", "v1.json"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "rest-api", file))
		require.NoError(t, err)
		var doc struct {
			Paths map[string]map[string]struct {
				Responses map[string]json.RawMessage `json:"responses"`
			} `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(data, &doc))
		for path, methods := range doc.Paths {
			for method, op := range methods {
				if method == "parameters" {
					continue
				}
				method = strings.ToUpper(method)
				escaped := param.ReplaceAllStringFunc(path, func(p string) string {
					if p == "{hub}" {
						return "chat"
					}
					return "x"
				})
				body := ""
				if method == http.MethodPost && !strings.Contains(path, ":closeConnections") {
					body = sendBody("t", "a")
				}
				t.Run(file+" "+method+" "+path, func(t *testing.T) {
					resp := rest(t, s, method, escaped, body)
					code := resp.Header.Get("x-ms-error-code")
					var listed []int
					for k := range op.Responses {
						if n, err := strconv.Atoi(k); err == nil {
							listed = append(listed, n)
						}
					}
					if resp.StatusCode == http.StatusNotFound && (strings.Contains(code, ".NotExisted") || strings.Contains(code, ".NotInGroup")) {
						return
					}
					assert.Contains(t, listed, resp.StatusCode, "x-ms-error-code %q", code)
				})
			}
		}
	}
}
