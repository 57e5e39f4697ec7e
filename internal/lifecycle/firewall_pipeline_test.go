package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// nrcStep is a pipeline step of AzureTRE's shape that asks its firewall
// shared service for a network rule collection (replace) or to drop it
// (remove), as tre-workspace-unrestricted's do.
func nrcStep(id, action string) map[string]any {
	value := map[string]any{"name": "nrc_workspace_{{ resource.id }}"}
	if action == "replace" {
		value["action"] = "Allow"
		value["rules"] = []any{map[string]any{"name": "AllowAll", "description": "Unrestricted Access",
			"source_addresses": []any{"{{ resource.properties.address_space }}"}, "destination_addresses": []any{"*"},
			"destination_ports": []any{"*"}, "protocols": []any{"TCP", "UDP"}}}
	}
	return map[string]any{"stepId": id, "stepTitle": "Firewall rules (" + action + ")", "resourceTemplateName": tre.FirewallTemplateName,
		"resourceType": "shared-service", "resourceAction": "upgrade", "properties": []any{map[string]any{
			"name": "network_rule_collections", "type": "array", "arraySubstitutionAction": action, "arrayMatchField": "name", "value": value}}}
}

// A pipeline step that updates AzureTRE's firewall shared service is a
// firewall step of the resource whose pipeline it is: its rule collections
// become that resource's egress, merged by the step's array action.
func TestFirewallPipelineStepsBecomeEgress(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.register(registry.Kind{Type: tre.TypeWorkspace}, "open-ws", "1.0.0", schemaOf("Open", map[string]any{}, map[string]any{
		"pipeline": map[string]any{
			"install":   []any{map[string]any{"stepId": "main"}, nrcStep("add", "replace")},
			"uninstall": []any{nrcStep("remove", "remove"), map[string]any{"stepId": "main"}},
		}}))
	r, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "open-ws",
		Properties: map[string]any{"display_name": "O", "description": "d"}, User: admin})
	require.NoError(t, err)
	require.Len(t, op.Steps, 2)
	fw := op.Steps[1]
	require.Equal(t, tre.StepFirewall, fw.Kind, "no request to a bundle: the firewall service runs it")
	require.Equal(t, "add", fw.TemplateStepID)
	require.Equal(t, "Firewall rules (replace)", fw.StepTitle)
	require.Equal(t, r.ID, fw.ResourceID, "the rules are the workspace's own")

	due, _ := f.signal.counts()
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed)
	after, _ := f.signal.counts()
	require.Greater(t, after, due, "the firewall step was signalled")
	got := f.resource(r.ID)
	nrcs := got.PipelineEgress["network_rule_collections"].([]any)
	require.Len(t, nrcs, 1)
	nrc := nrcs[0].(map[string]any)
	require.Equal(t, "nrc_workspace_"+r.ID, nrc["name"])
	rule := nrc["rules"].([]any)[0].(map[string]any)
	require.Equal(t, []any{got.Properties["address_space"]}, rule["source_addresses"])
	st := tre.StatusesFor(tre.StepFirewall)
	f.status(op, 1, st.Running)
	f.status(op, 1, st.Succeeded)
	require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status)
	require.Equal(t, tre.StatusDeployed, f.resource(r.ID).DeploymentStatus)

	// Uninstall: the remove step drops the collection, then the bundle runs.
	off := false
	op, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(r.ID), IsEnabled: &off, ETag: "*", User: admin})
	require.NoError(t, err)
	f.complete(op)
	op, err = f.svc.Delete(ctx, WorkspaceRef(r.ID), admin)
	require.NoError(t, err)
	require.Equal(t, tre.StepFirewall, op.Steps[0].Kind)
	f.status(op, 0, st.Running)
	require.Empty(t, f.resource(r.ID).PipelineEgress["network_rule_collections"], "removed by name")
	f.status(op, 0, st.Succeeded)
	f.status(op, 1, tre.StatusDeleting)
	f.status(op, 1, tre.StatusDeleted)
	require.Equal(t, tre.StatusDeleted, f.operation(op.ID).Status)
}

// The firewall is built in: its shared service record cannot be created,
// disabled or deleted; a change of its rules is an operation with one
// firewall step, and the record takes the operation's status.
func TestBuiltInFirewallRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.register(registry.Kind{Type: tre.TypeSharedService}, tre.FirewallTemplateName, "0.1.0", schemaOf("Firewall", map[string]any{
		"rule_collections": map[string]any{"type": "array", "updateable": true},
	}, nil))
	_, _, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeSharedService, TemplateName: tre.FirewallTemplateName,
		Properties: map[string]any{"display_name": "F", "description": "d"}, User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), "built into this control plane")

	rec := &tre.Resource{ID: "3f1c2b7a-9d4e-4f60-8a1b-2c3d4e5f6a7b", TemplateName: tre.FirewallTemplateName, TemplateVersion: "0.1.0",
		IsEnabled: true, ResourceType: tre.TypeSharedService, DeploymentStatus: tre.StatusDeployed,
		ResourcePath: "/shared-services/3f1c2b7a-9d4e-4f60-8a1b-2c3d4e5f6a7b", Properties: map[string]any{"display_name": "Firewall"}}
	_, err = tre.CreateAs(ctx, f.store, tre.Resources, rec.ID, rec)
	require.NoError(t, err)
	ref := Ref{Type: tre.TypeSharedService, ID: rec.ID}

	op, err := f.svc.Patch(ctx, PatchRequest{Ref: ref, Properties: map[string]any{"rule_collections": []any{}}, ETag: "*", User: admin})
	require.NoError(t, err)
	require.Len(t, op.Steps, 1)
	require.Equal(t, tre.StepFirewall, op.Steps[0].Kind)
	require.Empty(t, f.sent.requests(t), "no bundle runs")
	st := tre.StatusesFor(tre.StepFirewall)
	f.status(op, 0, st.Running)
	require.Equal(t, tre.StatusUpdating, f.operation(op.ID).Status, "an upgrade's statuses, not an action's")
	f.status(op, 0, st.Succeeded)
	require.Equal(t, tre.StatusUpdated, f.operation(op.ID).Status)
	require.Equal(t, tre.StatusUpdated, f.resource(rec.ID).DeploymentStatus)

	off := false
	_, err = f.svc.Patch(ctx, PatchRequest{Ref: ref, IsEnabled: &off, ETag: "*", User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	_, err = f.svc.Delete(ctx, ref, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
}
