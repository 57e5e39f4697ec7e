package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// storeContents is every document of every collection, with its etag.
func storeContents(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for c := range tre.Collections {
		docs, err := e.store.Query(context.Background(), c, tre.Query{})
		require.NoError(t, err)
		for _, d := range docs {
			out[string(c)+"/"+d.ID] = d.ETag + " " + string(d.Data)
		}
	}
	return out
}

func TestBadInputChangesNothing(t *testing.T) {
	dir, w := buildWorld(t, worldEnabled)
	e := openEnv(t, copyDir(t, dir))
	admin := e.token("admin", "TREAdmin")
	owner := e.token("owner", "TREUser")
	ws := "/api/workspaces/" + w.ws
	svc := ws + "/workspace-services/" + w.svc
	big := `{"templateName":"ws","properties":{"display_name":"` + strings.Repeat("x", 70<<10) + `","description":"d"}}`

	cases := []struct {
		name, method, path, token, body string
		headers                         []string
		status                          int
		field                           string
	}{
		{"malformed JSON", "POST", "/api/workspaces", admin, `{"templateName": "ws", `, nil, 400, ""},
		{"not an object", "POST", "/api/workspaces", admin, `"ws"`, nil, 400, ""},
		{"unknown member", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{},"extra":1}`, nil, 400, "extra"},
		{"missing template", "POST", "/api/workspaces", admin, `{"properties":{"display_name":"a","description":"b"}}`, nil, 400, "templateName"},
		{"unknown template", "POST", "/api/workspaces", admin, `{"templateName":"nope","properties":{}}`, nil, 400, "templateName"},
		{"missing property", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"description":"b"}}`, nil, 400, "properties.display_name"},
		{"unknown property", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"display_name":"a","description":"b","colour":"red"}}`, nil, 400, "properties.colour"},
		{"wrong type", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"display_name":7,"description":"b"}}`, nil, 400, "properties.display_name"},
		{"properties not object", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":[1]}`, nil, 400, "properties"},
		{"oversize body", "POST", "/api/workspaces", admin, big, nil, 413, ""},
		{"bad workspace id", "GET", "/api/workspaces/not-a-uuid", admin, "", nil, 400, "workspace_id"},
		{"bad service id", "GET", ws + "/workspace-services/123", owner, "", nil, 400, "service_id"},
		{"bad operation id", "GET", ws + "/operations/xyz", admin, "", nil, 400, "operation_id"},
		{"stale If-Match", "PATCH", ws, admin, `{"properties":{"display_name":"z"}}`, []string{"If-Match", `"stale"`}, 412, "If-Match"},
		{"stale etag header", "PATCH", ws, admin, `{"properties":{"display_name":"z"}}`, []string{"etag", "stale"}, 409, "etag"},
		{"no etag", "PATCH", ws, admin, `{"properties":{"display_name":"z"}}`, nil, 428, "If-Match"},
		{"patch unknown member", "PATCH", ws, admin, `{"isEnabled":false,"colour":1}`, []string{"If-Match", w.wsETag}, 400, "colour"},
		{"patch wrong type", "PATCH", ws, admin, `{"isEnabled":"no"}`, []string{"If-Match", w.wsETag}, 400, "isEnabled"},
		{"patch not updateable", "PATCH", ws, admin, `{"properties":{"tre_id":"x"}}`, []string{"If-Match", w.wsETag}, 400, "properties.tre_id"},
		{"bad force flag", "PATCH", ws, admin, `{}`, []string{"If-Match", w.wsETag, "X-Ignore", "1"}, 400, "force_version_update"},
		{"bad version", "PATCH", ws, admin, `{"templateVersion":"latest"}`, []string{"If-Match", w.wsETag}, 400, "templateVersion"},
		{"delete enabled", "DELETE", ws, admin, "", nil, 400, ""},
		{"undefined action", "POST", ws + "/invoke-action?action=explode", admin, "", nil, 400, "action"},
		{"missing action", "POST", ws + "/invoke-action", admin, "", nil, 400, "action"},
		{"bad role", "POST", ws + "/users/assign", admin, `{"role_id":"God","user_ids":["x"]}`, nil, 400, "role_id"},
		{"no users", "POST", ws + "/users/assign", admin, `{"role_id":"WorkspaceOwner","user_ids":[]}`, nil, 400, "user_ids"},
		{"service in undeployed parent template", "POST", svc + "/user-resources", owner, `{"templateName":"nope","properties":{}}`, nil, 400, "templateName"},
		{"text body", "POST", "/api/workspaces", admin, `{}`, []string{"Content-Type", "text/plain"}, 415, ""},
		{"nested too deep", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"display_name":"a","description":"b","x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}}`, nil, 400, "properties.x" + strings.Repeat("[0]", 62)},
		{"NUL in a string", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"display_name":"a\u0000b","description":"b"}}`, nil, 400, "properties.display_name"},
		{"NUL in a member name", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"display_name":"a","description":"b","k\u0000":1}}`, nil, 400, "properties.k\x00"},
		{"duplicate member", "POST", "/api/workspaces", admin, `{"templateName":"ws","properties":{"display_name":"a","display_name":"b","description":"b"}}`, nil, 400, "properties.display_name"},
		{"too many users", "POST", ws + "/users/assign", admin, `{"role_id":"WorkspaceResearcher","user_ids":[` + strings.TrimSuffix(strings.Repeat(`"u",`, 101), ",") + `]}`, nil, 400, "user_ids"},
		{"patch nested too deep", "PATCH", ws, admin, `{"properties":{"display_name":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat("}", 100) + `}}`, []string{"If-Match", w.wsETag}, 400, "properties.display_name" + strings.Repeat(".a", 62)},
	}
	before := storeContents(t, e)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if c.name == "bad force flag" {
				path += "?force_version_update=perhaps"
			}
			status, body, hdr := e.do(c.method, path, c.token, c.body, c.headers...)
			require.Equal(t, c.status, status, body)
			require.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
			var p map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &p))
			require.NotEmpty(t, p["detail"])
			if c.field != "" {
				require.Equal(t, c.field, p["field"], body)
			}
			require.Equal(t, before, storeContents(t, e), "a rejected request changed the store")
		})
	}
	require.NotContains(t, e.logs.String(), `"level":"ERROR"`)
}

func TestSensitiveValuesNeverLeak(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	ctx := context.Background()
	_, err := e.reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: "ws", Version: "1.0.0", Current: true,
		JSONSchema: map[string]any{"title": "t", "description": "d", "type": "object", "properties": map[string]any{
			"client_secret": map[string]any{"type": "string", "sensitive": true, "updateable": true},
			"db":            map[string]any{"type": "object", "properties": map[string]any{"password": map[string]any{"type": "string", "sensitive": true}}},
		}}}, adminUser)
	require.NoError(t, err)
	admin := e.token("admin", "TREAdmin")
	const s1, s2, s3 = "first-SECRET-9f1c", "nested-SECRET-77ab", "patched-SECRET-31e0"

	status, body, hdr := e.do("POST", "/api/workspaces", admin,
		`{"templateName":"ws","properties":{"display_name":"a","description":"b","client_secret":"`+s1+`","db":{"password":"`+s2+`"}}}`)
	require.Equal(t, 202, status, body)
	responses := body
	var created struct {
		Operation tre.Operation `json:"operation"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	e.complete(&created.Operation)
	wsPath := "/api" + created.Operation.ResourcePath
	_, body, _ = e.do("GET", wsPath, admin, "")
	responses += body
	require.Contains(t, body, `"client_secret":"REDACTED"`)
	var got struct {
		Workspace tre.Resource `json:"workspace"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	status, body, _ = e.do("PATCH", wsPath, admin, `{"properties":{"client_secret":"`+s3+`"}}`, "If-Match", got.Workspace.ETag)
	require.Equal(t, 202, status, body)
	responses += body
	for _, p := range []string{wsPath, wsPath + "/history", wsPath + "/operations", "/api/workspaces", "/api/operations"} {
		_, b, _ := e.do("GET", p, admin, "")
		responses += b
	}
	_ = hdr
	e.close() // flush the database file

	var files strings.Builder
	for _, name := range []string{"tre.db", "tre.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		files.Write(b)
	}
	for _, secret := range []string{s1, s2, s3} {
		require.NotContains(t, responses, secret, "a response carries a secret")
		require.NotContains(t, files.String(), secret, "the store file carries a secret")
		require.NotContains(t, e.logs.String(), secret, "the logs carry a secret")
	}
	require.NotEmpty(t, files.String())
}

// A string a bundle could not be given (over 64 KiB) is refused at decode,
// naming the field, even when the body is under the size limit.
func TestLongStringRefusedAtDecode(t *testing.T) {
	dir, _ := buildWorld(t, worldEnabled)
	e := openEnv(t, copyDir(t, dir))
	e.api.MaxBodyBytes = 1 << 20
	before := storeContents(t, e)
	status, body, _ := e.do("POST", "/api/workspaces", e.token("admin", "TREAdmin"),
		`{"templateName":"ws","properties":{"display_name":"a","description":"`+strings.Repeat("x", 500<<10)+`"}}`)
	require.Equal(t, 400, status, body)
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	require.Equal(t, "properties.description", p["field"])
	require.Equal(t, before, storeContents(t, e))
}
