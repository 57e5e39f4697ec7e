package api_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The served document lists exactly the routes of the table, each with its
// path parameters and security, so document and code cannot disagree.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := openEnv(t, t.TempDir())
	status, body, _ := e.do("GET", "/api/openapi.json", "", "")
	require.Equal(t, 200, status)
	var doc struct {
		OpenAPI string                                       `json:"openapi"`
		Paths   map[string]map[string]map[string]interface{} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	require.Equal(t, "3.0.3", doc.OpenAPI)

	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	documented := 0
	for _, rt := range e.api.Routes() {
		if rt.Trigger {
			require.NotContains(t, body, `"`+rt.Pattern+`"`, "trigger routes are not part of the API")
			continue
		}
		p := strings.ReplaceAll(rt.Pattern, "{$}", "")
		op, ok := doc.Paths[p][strings.ToLower(rt.Method)]
		require.True(t, ok, "%s %s is not documented", rt.Method, p)
		documented++
		var names []string
		if params, ok := op["parameters"].([]any); ok {
			for _, pr := range params {
				names = append(names, pr.(map[string]any)["name"].(string))
			}
		}
		var want []string
		for _, m := range param.FindAllStringSubmatch(p, -1) {
			want = append(want, m[1])
		}
		require.Equal(t, want, names, "%s %s parameters", rt.Method, p)
		_, hasBody := op["requestBody"]
		require.Equal(t, rt.Request != nil, hasBody, "%s %s request body", rt.Method, p)
		security := op["security"].([]any)
		require.Equal(t, rt.Access.Public, len(security) == 0, "%s %s security", rt.Method, p)
	}
	total := 0
	for _, methods := range doc.Paths {
		total += len(methods)
	}
	require.Equal(t, documented, total, "the document has operations that are not routes")
	require.Contains(t, body, `"templateName"`, "request body schemas come from the Go types")
}
