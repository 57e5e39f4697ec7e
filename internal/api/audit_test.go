package api_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

func TestAuditAnswersWhoDidWhatAndKeepsNoSecret(t *testing.T) {
	e := openEnv(t, t.TempDir())
	ctx := context.Background()
	s := minimal("ws")
	s["properties"] = map[string]any{"client_secret": map[string]any{"type": "string", "sensitive": true, "updateable": true}}
	_, err := e.reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: "ws", Version: "1.0.0", Current: true, JSONSchema: s}, adminUser)
	require.NoError(t, err)
	admin, bob := e.token("admin", "TREAdmin"), e.token("bob", "TREAdmin")
	const canary = "CANARY-s3cr3t-7f1d9c"

	status, body, _ := e.do("POST", "/api/workspaces", admin,
		`{"templateName":"ws","properties":{"display_name":"Audited","description":"d","client_secret":"`+canary+`"}}`, "X-Forwarded-For", "203.0.113.7")
	require.Equal(t, 202, status, body)
	var created struct {
		Operation struct{ ID, ResourceID string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	op, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, created.Operation.ID)
	require.NoError(t, err)
	e.complete(op)
	wsID := created.Operation.ResourceID

	// bob disables it, changing the secret on the way.
	r, err := tre.GetAs[tre.Resource](ctx, e.store, tre.Resources, wsID)
	require.NoError(t, err)
	status, body, _ = e.do("PATCH", "/api/workspaces/"+wsID, bob, `{"isEnabled":false,"properties":{"client_secret":"`+canary+`-2"}}`, "If-Match", r.ETag)
	require.Equal(t, 202, status, body)
	// A refused request is not recorded.
	status, _, _ = e.do("PATCH", "/api/workspaces/"+wsID, bob, `{"isEnabled":true}`, "If-Match", "stale")
	require.Equal(t, 412, status)

	// Who disabled the workspace: one request.
	status, body, _ = e.do("GET", "/api/audit?resource_id="+wsID+"&action=disable", admin, "")
	require.Equal(t, 200, status, body)
	var page struct {
		Records []map[string]any `json:"records"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Len(t, page.Records, 1, body)
	rec := page.Records[0]
	require.Equal(t, "bob", rec["user"].(map[string]any)["name"])
	require.Equal(t, []any{"TREAdmin"}, rec["user"].(map[string]any)["roles"])
	require.Equal(t, []any{"isEnabled", "properties.client_secret"}, rec["changed"])
	require.Equal(t, "/api/workspaces/{workspace_id}", rec["route"])
	require.Equal(t, wsID, rec["workspaceId"])
	require.NotEmpty(t, rec["operationId"])
	require.NotEmpty(t, rec["requestId"])

	// What admin did today: the create, with where it came from; and the
	// install's outcome is in the trail too.
	from := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	to := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	status, body, _ = e.do("GET", "/api/audit?user_id="+url.QueryEscape(adminUser.ID)+"&from="+from+"&to="+to, admin, "")
	require.Equal(t, 200, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	actions := map[string]map[string]any{}
	for _, r := range page.Records {
		actions[r["action"].(string)] = r
	}
	require.Contains(t, actions, "create")
	require.Equal(t, "203.0.113.7", actions["create"]["clientIp"])
	require.Contains(t, actions, "operation-install")
	require.Equal(t, "deployed", actions["operation-install"]["operationStatus"])

	// A workspace owner reads the workspace's trail, not the TRE's.
	require.NoError(t, e.roles.Assign(ctx, wsID, "WorkspaceOwner", []string{ownerUser.ID}, adminUser))
	owner := e.token("owner", "TREUser")
	status, _, _ = e.do("GET", "/api/workspaces/"+wsID+"/audit", owner, "")
	require.Equal(t, 200, status)
	status, _, _ = e.do("GET", "/api/audit", owner, "")
	require.Equal(t, 403, status)

	// The secret is nowhere: not in the trail, not in the logs, not in the
	// store's files.
	docs, err := e.store.Query(ctx, tre.AuditRecords, tre.Query{})
	require.NoError(t, err)
	require.Len(t, docs, 3, "create, the install's outcome, disable")
	for _, d := range docs {
		require.NotContains(t, string(d.Data), canary)
	}
	require.NotContains(t, e.logs.String(), canary)
	require.Contains(t, e.logs.String(), `"msg":"audit"`)
	e.close()
	files, err := filepath.Glob(filepath.Join(e.dir, "*"))
	require.NoError(t, err)
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(b), canary, f)
	}

	// No route changes or deletes the trail.
	for _, rt := range e.api.Routes() {
		if strings.Contains(rt.Pattern, "audit") {
			require.Equal(t, "GET", rt.Method, rt.Pattern)
		}
	}
}
