package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// A pipeline step of resourceType workspace (or workspace-service) without
// a resourceTemplateName changes the parent of that type, whatever its
// template, as AzureTRE's build_step_list resolves it (Guacamole, Gitea,
// OHDSI, Azure ML and Databricks have such steps).
func TestPipelineStepOnParentWithoutTemplateName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "guac", "1.0.0", schemaOf("Guac", map[string]any{}, map[string]any{
		"pipeline": map[string]any{"install": []any{
			map[string]any{"stepId": "main"},
			map[string]any{"stepId": "redirect", "stepTitle": "Tell the workspace", "resourceType": "workspace", "resourceAction": "upgrade",
				"properties": []any{map[string]any{"name": "client_secret", "type": "string", "value": "{{ resource.id }}"}}},
		}},
	}))
	f.register(registry.Kind{Type: tre.TypeUserResource, Parent: "guac"}, "guac-vm", "1.0.0", schemaOf("VM", map[string]any{}, map[string]any{
		"pipeline": map[string]any{"install": []any{
			map[string]any{"stepId": "main"},
			map[string]any{"stepId": "svc", "resourceType": "workspace-service", "resourceAction": "upgrade"},
			map[string]any{"stepId": "ws", "resourceType": "workspace", "resourceAction": "upgrade"},
		}},
	}))
	ws := f.deployedWorkspace()
	svc, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "guac",
		Properties: map[string]any{"display_name": "G", "description": "d"}, User: owner})
	require.NoError(t, err)
	require.Len(t, op.Steps, 2)
	require.Equal(t, ws.ID, op.Steps[1].ResourceID, "the parent workspace")
	require.Equal(t, "ws", op.Steps[1].ResourceTemplateName, "named by the target's own template")
	done := f.complete(op)
	require.Equal(t, tre.StatusDeployed, done.Status, done.Message)
	require.Equal(t, 1, f.resource(ws.ID).ResourceVersion, "the step changed the workspace")

	_, vmOp, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeUserResource, WorkspaceID: ws.ID, ServiceID: svc.ID, TemplateName: "guac-vm",
		Properties: map[string]any{"display_name": "V", "description": "d"}, User: owner})
	require.NoError(t, err)
	require.Len(t, vmOp.Steps, 3)
	require.Equal(t, svc.ID, vmOp.Steps[1].ResourceID, "the parent service")
	require.Equal(t, ws.ID, vmOp.Steps[2].ResourceID, "the workspace of the parent service")
}

// A child of a workspace has no workspace_id property: its bundle gets the
// workspace's full id (the request's workspaceId), as from AzureTRE's
// processor; Guacamole's Terraform finds the workspace by it. The
// workspace's own workspace_id is its last 4 characters.
func TestChildrenGetTheWorkspaceFullID(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	require.Equal(t, ws.ID[len(ws.ID)-4:], ws.Properties["workspace_id"])

	svc, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "plain-svc",
		Properties: map[string]any{"display_name": "S", "description": "d"}, User: owner})
	require.NoError(t, err)
	f.complete(op)
	_, vmOp, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeUserResource, WorkspaceID: ws.ID, ServiceID: svc.ID, TemplateName: "vm",
		Properties: map[string]any{"display_name": "V", "description": "d"}, User: owner})
	require.NoError(t, err)
	f.complete(vmOp)

	sources := bundle.Sources{}
	seen := map[string]bool{}
	for _, req := range f.sent.requests(t) {
		job := tre.Job{Action: req.Action, Installation: req.ID, Parameters: req.Parameters, Message: &req}
		v, _, _ := sources.Lookup("workspace_id", job)
		switch req.ID {
		case ws.ID:
			require.Equal(t, ws.ID[len(ws.ID)-4:], v, "the workspace's own short id")
		case svc.ID, vmOp.ResourceID:
			require.NotContains(t, req.Parameters, "workspace_id")
			require.Equal(t, ws.ID, v, "a child gets the workspace's full id")
		}
		seen[req.ID] = true
	}
	require.Len(t, seen, 3)
}
