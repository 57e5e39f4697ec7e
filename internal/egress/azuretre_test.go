package egress_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// AzureTRE's firewall pipelines land in the firewall service: the network
// rule collection an AzureTRE-shaped step asks tre-shared-service-firewall
// for is the resource's own egress, applied by the step, with IP groups of
// the core resource group resolved; admins' rules PATCHed onto the
// built-in firewall shared service are a manual rule set.
func TestAzureTREFirewallPipelinesAndRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.fw.EnsureFirewallService(ctx, f.reg, "tre1"))
	require.NoError(t, f.fw.EnsureFirewallService(ctx, f.reg, "tre1"), "idempotent")
	step := func(id, action string) map[string]any {
		value := map[string]any{"name": "nrc_svc_{{ resource.id }}"}
		if action == "replace" {
			value["rules"] = []any{map[string]any{"name": "AzureAD for guacamole", "source_ip_groups_in_core": []any{"ipg-web-app"},
				"source_addresses":      []any{"{{ resource.parent.properties.address_space }}"},
				"destination_addresses": []any{"AzureActiveDirectory"}, "destination_ports": []any{"*"}, "protocols": []any{"TCP"}}}
		}
		return map[string]any{"stepId": id, "resourceTemplateName": "tre-shared-service-firewall", "resourceType": "shared-service",
			"resourceAction": "upgrade", "properties": []any{map[string]any{"name": "network_rule_collections", "type": "array",
				"arraySubstitutionAction": action, "arrayMatchField": "name", "value": value}}}
	}
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "guac-like", schemaOf("Guac", map[string]any{}, map[string]any{
		"pipeline": map[string]any{
			"install":   []any{map[string]any{"stepId": "main"}, step("fw-add", "replace")},
			"uninstall": []any{step("fw-remove", "remove"), map[string]any{"stepId": "main"}},
		}}))
	ws := f.deployedWorkspace()
	svc, op := f.createService(ws, "guac-like", nil)
	done := f.complete(op)
	require.Equal(t, tre.StatusDeployed, done.Status, done.Message)

	view, err := f.fw.View(ctx)
	require.NoError(t, err)
	require.Empty(t, view.Problems)
	var owned bool
	for _, o := range view.Owners {
		if o.Owner.ID == svc.ID {
			owned = true
			rule := o.Rules.NetworkRuleCollections[0].Rules[0]
			require.Equal(t, "AzureAD for guacamole", rule.Name, "AzureTRE's rule names, spaces and all")
		}
	}
	require.True(t, owned, "the service owns its rules: %+v", view.Owners)
	groups, err := f.file.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	rule := groups[0].Collections[0].NetworkRules[0]
	require.Equal(t, []string{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tre1/providers/Microsoft.Network/ipGroups/ipg-web-app"},
		rule.SourceIPGroupIDs, "the core IP group, by its id")

	// Admins' rules on the built-in record: a firewall-only operation.
	id := egressFirewallID(t, f)
	rec := f.resource(id)
	require.Equal(t, tre.StatusDeployed, rec.DeploymentStatus)
	patch, err := f.lc.Patch(ctx, lifecycle.PatchRequest{Ref: lifecycle.Ref{Type: tre.TypeSharedService, ID: id}, ETag: rec.ETag, User: admin,
		Properties: map[string]any{"rule_collections": []any{map[string]any{"name": "e2e-rule-collection-1", "action": "Allow", "priority": 501,
			"rules": []any{map[string]any{"name": "e2e test rule 1", "protocols": []any{map[string]any{"port": "5555", "type": "Http"}},
				"target_fqdns": []any{"one.two.three.microsoft.com"}, "source_addresses": []any{"172.196.0.0"}}}}}}})
	require.NoError(t, err)
	end := f.complete(patch)
	require.Equal(t, tre.StatusUpdated, end.Status, end.Message)
	require.Equal(t, []string{"one.two.three.microsoft.com"}, f.fqdnsInFirewall()["rcg-tre-manual-application"])

	// Invalid admin rules fail the operation naming the rule.
	rec = f.resource(id)
	bad, err := f.lc.Patch(ctx, lifecycle.PatchRequest{Ref: lifecycle.Ref{Type: tre.TypeSharedService, ID: id}, ETag: rec.ETag, User: admin,
		Properties: map[string]any{"rule_collections": []any{map[string]any{"name": "c", "rules": []any{map[string]any{"name": "r",
			"protocols": []any{map[string]any{"port": "443", "type": "Https"}}, "target_fqdns": []any{"not a host!"}, "source_addresses": []any{"*"}}}}}}})
	require.NoError(t, err)
	end = f.complete(bad)
	require.Equal(t, tre.StatusUpdatingFailed, end.Status)
	require.Contains(t, end.Message, "not a host!")

	// Uninstall removes the service's collection by name.
	off := false
	f.complete(f.patchService(svc, &off))
	del, err := f.lc.Delete(ctx, lifecycle.Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, ID: svc.ID}, admin)
	require.NoError(t, err)
	require.Equal(t, tre.StatusDeleted, f.complete(del).Status)
	require.Empty(t, f.resource(svc.ID).PipelineEgress["network_rule_collections"])
}

// egressFirewallID finds the built-in firewall record.
func egressFirewallID(t *testing.T, f *fixture) string {
	t.Helper()
	list, err := tre.QueryAs[tre.Resource](context.Background(), f.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Eq("templateName", tre.FirewallTemplateName)}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0].ID
}
