package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/tre"
)

// scriptBundleType is the bundle type AzureTRE's make targets pass to
// register_bundle_with_api.sh (its --bundle-type), which the script posts
// as resourceType.
var scriptBundleType = map[tre.ResourceType]string{
	tre.TypeWorkspace:        "workspace",
	tre.TypeWorkspaceService: "workspace_service",
	tre.TypeUserResource:     "user_resource",
	tre.TypeSharedService:    "shared_service",
}

// scriptPayload builds the body register_bundle_with_api.sh posts for a
// template: `porter explain -o json` (here: what Porter prints for the
// bundle built from porter.yaml), then, as its jq does,
// . + {"json_schema": <template_schema.json>, "resourceType": <bundle
// type>, "current": "<true|false>"}.
func scriptPayload(t *testing.T, tt bundle.Template, current string) map[string]any {
	t.Helper()
	m, err := bundle.Read(tt.Manifest)
	require.NoError(t, err)
	explained, err := json.Marshal(m.Explain())
	require.NoError(t, err)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(explained, &payload))
	b, err := os.ReadFile(tt.Schema)
	require.NoError(t, err)
	var schema any
	require.NoError(t, json.Unmarshal(b, &schema), tt.Schema)
	payload["json_schema"] = schema
	payload["resourceType"] = scriptBundleType[tt.Type]
	payload["current"] = current
	return payload
}

// registerRoute is where the script's `tre ... new --definition` posts.
func registerRoute(tt bundle.Template) string {
	switch tt.Type {
	case tre.TypeWorkspace:
		return "/api/workspace-templates"
	case tre.TypeWorkspaceService:
		return "/api/workspace-service-templates"
	case tre.TypeUserResource:
		return "/api/workspace-service-templates/" + url.PathEscape(tt.Parent) + "/user-resource-templates"
	}
	return "/api/shared-service-templates"
}

// registerAll registers every template of a templates directory laid out
// as AzureTRE's, the way AzureTRE's script does, parents first, and
// returns how many registered and the failures.
func registerAll(t *testing.T, h *handler, dir string) (registered int, total int, failures []string) {
	t.Helper()
	ix, err := bundle.Scan(dir)
	require.NoError(t, err)
	templates, problems := ix.Templates()
	require.Empty(t, problems, "the directory is laid out as AzureTRE's")
	order := map[tre.ResourceType]int{tre.TypeWorkspace: 0, tre.TypeWorkspaceService: 1, tre.TypeSharedService: 2, tre.TypeUserResource: 3}
	sort.SliceStable(templates, func(i, j int) bool { return order[templates[i].Type] < order[templates[j].Type] })
	admin := h.token("TREAdmin", "admin")
	for _, tt := range templates {
		r := h.do("POST", registerRoute(tt), admin, scriptPayload(t, tt, "true"))
		if r.status != 201 {
			rel, _ := filepath.Rel(dir, tt.Dir)
			failures = append(failures, fmt.Sprintf("%s (%s %s): %d %s", rel, tt.Name, tt.Version, r.status, r.body))
			continue
		}
		registered++
	}
	return registered, len(templates), failures
}

// Every template of AzureTRE registers here as AzureTRE's script registers
// it (AZURETRE_DIR: a checkout of microsoft/AzureTRE), user resources under
// their services.
func TestAzureTRETemplatesRegister(t *testing.T) {
	dir := os.Getenv("AZURETRE_DIR")
	if dir == "" {
		t.Skip("AZURETRE_DIR is not set: point it to a checkout of microsoft/AzureTRE to register its templates")
	}
	h := start(t, t.TempDir())
	registered, total, failures := registerAll(t, h, filepath.Join(dir, "templates"))
	t.Logf("%d of AzureTRE's %d templates registered", registered, total)
	require.Empty(t, failures, "templates that did not register:\n%s", strings.Join(failures, "\n"))
	require.Positive(t, total)
}

// Our own templates directory in AzureTRE's layout holds, in small, the
// shapes of AzureTRE's templates that registration must take (see
// testdata/azuretre/README.md): every one registers through the API from
// the payload AzureTRE's script would post.
func TestAzureTREShapesRegister(t *testing.T) {
	h := start(t, t.TempDir())
	registered, total, failures := registerAll(t, h, "testdata/azuretre")
	require.Empty(t, failures, "templates that did not register:\n%s", strings.Join(failures, "\n"))
	require.Equal(t, 6, total)
	require.Equal(t, total, registered)

	admin := h.token("TREAdmin", "admin")
	r := h.do("GET", "/api/workspace-service-templates/tre-service-shapes-guacamole-like", admin, nil)
	require.Equal(t, 200, r.status)
	steps := r.json(t)["pipeline"].(map[string]any)["install"].([]any)
	require.Len(t, steps, 4)
	workspaceStep := steps[0].(map[string]any)
	require.Equal(t, "workspace", workspaceStep["resourceType"])
	require.NotContains(t, workspaceStep, "resourceTemplateName", "the parent workspace, whatever its template")
	vms := h.do("GET", "/api/workspace-service-templates/tre-service-shapes-guacamole-like/user-resource-templates", admin, nil)
	require.Equal(t, 200, vms.status)
	require.Len(t, vms.json(t)["templates"], 1, "the user resource is under its service")
}

// AzureTRE's shapes run end to end on one machine, simulated: a workspace
// of the base shape is deployed, a service of Guacamole's shape runs its
// pipeline (the parent workspace's redirect URIs, its bundle, its
// firewall step) and its network rule collection is that service's
// egress in the firewall; the built-in firewall shared service is where
// AzureTRE's clients look for it; disabling the service closes its egress.
func TestAzureTREShapesRunSimulated(t *testing.T) {
	h := startLocal(t, t.TempDir(), map[string]string{"TRE_TEMPLATES_DIR": "testdata/azuretre"})
	admin := h.token("TREAdmin", "alice")

	loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-shapes-base-like",
		"properties": map[string]any{"display_name": "Base", "description": "d", "auth_type": "Automatic", "address_space_size": "small"}})
	op := h.waitOp(loc, admin)
	require.Equal(t, "deployed", op["status"], "%v", op)
	require.Contains(t, op["steps"].([]any)[0].(map[string]any)["message"], "Simulated by the local runner")
	ws := idFrom(loc, 3)
	w := h.do("GET", "/api/workspaces/"+ws, admin, nil).json(t)["workspace"].(map[string]any)
	require.Equal(t, "api://tre-dev", w["properties"].(map[string]any)["scope_id"], "AzureTRE's clients ask a token for it")

	// alice created the workspace: she is its owner, no assignment needed.
	loc = h.mutate("POST", "/api/workspaces/"+ws+"/workspace-services", admin, map[string]any{"templateName": "tre-service-shapes-guacamole-like",
		"properties": map[string]any{"display_name": "Guac", "description": "d"}})
	op = h.waitOp(loc, admin)
	require.Equal(t, "deployed", op["status"], "%v", op)
	steps := op["steps"].([]any)
	require.Len(t, steps, 4)
	fw := steps[2].(map[string]any)
	require.Equal(t, "Open the firewall for the service", fw["stepTitle"])
	require.Equal(t, "firewall", fw["kind"])
	svc := idFrom(loc, 5)

	view := h.do("GET", "/api/firewall", admin, nil).json(t)
	owners := map[string]bool{}
	for _, o := range view["owners"].([]any) {
		owners[o.(map[string]any)["owner"].(map[string]any)["id"].(string)] = true
	}
	require.True(t, owners[svc], "the service owns the collection its pipeline sent: %v", view["owners"])

	shared := h.do("GET", "/api/shared-services", admin, nil).json(t)["sharedServices"].([]any)
	var names []string
	for _, s := range shared {
		names = append(names, s.(map[string]any)["templateName"].(string))
	}
	require.Contains(t, names, "tre-shared-service-firewall")

	op = h.waitOp(h.mutate("PATCH", "/api/workspaces/"+ws+"/workspace-services/"+svc, admin, map[string]any{"isEnabled": false}, "etag", "*"), admin)
	require.Equal(t, "updated", op["status"], "%v", op)
	view = h.do("GET", "/api/firewall", admin, nil).json(t)
	require.Empty(t, view["owners"], "a disabled service has no egress")
}
