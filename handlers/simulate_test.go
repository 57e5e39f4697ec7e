package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/bundle"
)

// shapesTemplate returns the template of testdata/azuretre named name.
func shapesTemplate(t *testing.T, name string) bundle.Template {
	t.Helper()
	ix, err := bundle.Scan("testdata/azuretre")
	require.NoError(t, err)
	templates, problems := ix.Templates()
	require.Empty(t, problems)
	for _, tt := range templates {
		if tt.Name == name {
			return tt
		}
	}
	t.Fatalf("no template %s in testdata/azuretre", name)
	return bundle.Template{}
}

// In local mode a template registered through the API as AzureTRE's
// script registers it, with a terraform bundle and no files here, is
// simulated: its pipeline runs (the step on the parent workspace, which
// names no template, really runs the sandbox workspace's upgrade), its
// main step checks the bundle's parameters as Porter would and says it
// was simulated, and its outputs are placeholders.
func TestSimulatesATemplateRegisteredThroughTheAPI(t *testing.T) {
	h := startLocal(t, t.TempDir(), nil)
	admin := h.token("TREAdmin", "alice")
	owner := h.token("TREUser", "olivia")

	loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "Sim", "description": "d", "address_space_size": "small"}})
	require.Equal(t, "deployed", h.waitOp(loc, admin)["status"])
	ws := idFrom(loc, 3)
	require.Equal(t, 202, h.do("POST", "/api/workspaces/"+ws+"/users/assign", admin,
		map[string]any{"role_id": "WorkspaceOwner", "user_ids": []string{auth.DevUserID("olivia")}}).status)

	payload := scriptPayload(t, shapesTemplate(t, "tre-service-shapes-azureml-like"), "true")
	r := h.do("POST", "/api/workspace-service-templates", admin, payload)
	require.Equal(t, 201, r.status, "body: %s", r.body)

	loc = h.mutate("POST", "/api/workspaces/"+ws+"/workspace-services", owner, map[string]any{
		"templateName": "tre-service-shapes-azureml-like", "properties": map[string]any{"display_name": "ML", "description": "d"}})
	op := h.waitOp(loc, owner)
	require.Equal(t, "deployed", op["status"], "%v", op)
	steps := op["steps"].([]any)
	require.Len(t, steps, 2)
	require.Equal(t, ws, steps[0].(map[string]any)["resourceId"], "the step without a template name changed the parent workspace")
	main := steps[1].(map[string]any)
	require.Contains(t, main["message"], "install action completed successfully. Simulated by the local runner: "+
		"tre-service-shapes-azureml-like 1.1.0 did not run because it was registered through the API and its files are not in the "+
		"templates directory (its steps use the terraform mixin); nothing was deployed, and its output internal_connection_uri is a placeholder.")
	svc := idFrom(loc, 5)
	props := h.do("GET", "/api/workspaces/"+ws+"/workspace-services/"+svc, owner, nil).json(t)["workspaceService"].(map[string]any)["properties"].(map[string]any)
	require.Equal(t, "simulated-internal_connection_uri-"+svc, props["internal_connection_uri"], "a placeholder output, marked")

	// A required parameter nothing gives fails the step with Porter's words.
	payload["name"] = "tre-service-shapes-needs-more"
	payload["parameters"] = append(payload["parameters"].([]any), map[string]any{
		"name": "needs_me", "type": "string", "default": nil, "applyTo": "All Actions", "required": true})
	r = h.do("POST", "/api/workspace-service-templates", admin, payload)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	loc = h.mutate("POST", "/api/workspaces/"+ws+"/workspace-services", owner, map[string]any{
		"templateName": "tre-service-shapes-needs-more", "properties": map[string]any{"display_name": "More", "description": "d"}})
	op = h.waitOp(loc, owner)
	require.Equal(t, "deployment_failed", op["status"], "%v", op)
	require.Contains(t, op["message"], `parameter "needs_me" is required`)
}

func TestSimulationIsRefusedWithTheAzureAdapters(t *testing.T) {
	_, err := loadConfig(envOf(t.TempDir(), map[string]string{
		"STATE_STORE_ENDPOINT": "https://cosmos.example:443/", "SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE": "sb.example",
		"KEY_VAULT_URL": "https://kv.example/", "TRE_FIREWALL": "off", "TRE_SIMULATE_BUNDLES": "true",
	}))
	require.ErrorContains(t, err, "TRE_SIMULATE_BUNDLES: simulating bundles is for local mode; it is refused with the Azure adapters")

	cfg, err := loadConfig(envOf(t.TempDir(), nil))
	require.NoError(t, err)
	require.True(t, cfg.SimulateBundles, "on by default with the embedded adapters")
}
