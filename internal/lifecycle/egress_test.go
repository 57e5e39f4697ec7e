package lifecycle

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// registerEgress registers "web-svc", a workspace service whose template
// declares an application rule towards the FQDN in its "mirror" property.
func (f *fixture) registerEgress() {
	f.t.Helper()
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "web-svc", "1.0.0", schemaOf("Web", map[string]any{
		"mirror": map[string]any{"type": "string", "updateable": true},
	}, map[string]any{"egress": map[string]any{
		"rule_collections": []any{map[string]any{"name": "arc_web", "rules": []any{map[string]any{
			"name": "mirror", "protocols": []any{map[string]any{"port": "443", "type": "Https"}},
			"target_fqdns":     []any{"{{ resource.properties.mirror }}"},
			"source_addresses": []any{"{{ resource.parent.properties.address_space }}"},
		}}}},
	}}))
}

func (f *fixture) createWebService(ws *tre.Resource, mirror string) (*tre.Resource, *tre.Operation) {
	f.t.Helper()
	r, op, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: "web-svc", WorkspaceID: ws.ID,
		Properties: map[string]any{"display_name": "Web " + mirror, "description": "d", "mirror": mirror}, User: admin, Roles: admin.Roles})
	require.NoError(f.t, err)
	return r, op
}

func (f *fixture) patchService(r *tre.Resource, enabled *bool, props map[string]any) *tre.Operation {
	f.t.Helper()
	cur := f.resource(r.ID)
	op, err := f.svc.Patch(context.Background(), PatchRequest{Ref: Ref{Type: tre.TypeWorkspaceService, WorkspaceID: r.WorkspaceID, ID: r.ID},
		IsEnabled: enabled, Properties: props, ETag: cur.ETag, User: admin})
	require.NoError(f.t, err)
	return op
}

// fqdnsInFirewall returns the FQDNs of the application rules in the file
// backend, by group.
func (f *fixture) fqdnsInFirewall() map[string][]string {
	f.t.Helper()
	groups, err := f.fw.Groups(context.Background())
	require.NoError(f.t, err)
	out := map[string][]string{}
	for _, g := range groups {
		for _, c := range g.Collections {
			for _, r := range c.ApplicationRules {
				out[g.Name] = append(out[g.Name], r.TargetFQDNs...)
			}
		}
	}
	return out
}

func TestFirewallStepOpensEgressBeforeInstallAndClosesAfterUninstall(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	sent := len(f.sent.requests(t))

	svc, op := f.createWebService(ws, "pypi.org")
	require.Len(t, op.Steps, 2)
	assert.Equal(t, tre.StepFirewall, op.Steps[0].Kind)
	assert.Equal(t, tre.MainStepID, op.Steps[1].TemplateStepID)

	// The firewall step runs in the background; the bundle's request is
	// sent only once the rules are in the firewall.
	f.svc.WaitFirewall()
	cur := f.operation(op.ID)
	require.Equal(t, tre.PhaseSucceeded, cur.Steps[0].Status.Phase(), cur.Steps[0].Message)
	assert.Contains(t, cur.Steps[0].Message, "rcg-tre-application")
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
	reqs := f.sent.requests(t)
	require.Len(t, reqs, sent+1)
	assert.Equal(t, svc.ID, reqs[len(reqs)-1].ID)
	assert.Equal(t, tre.StatusAwaitingDeployment, f.resource(svc.ID).DeploymentStatus, "a firewall step does not change the bundle's status")

	f.status(op, 1, tre.StatusDeploying)
	f.status(op, 1, tre.StatusDeployed)
	require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status)

	// Uninstall: the bundle goes first, the rules after it.
	off := false
	dis := f.patchService(svc, &off, nil)
	f.svc.WaitFirewall()
	f.complete(dis)
	del, err := f.svc.Delete(context.Background(), Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, ID: svc.ID}, admin)
	require.NoError(t, err)
	require.Len(t, del.Steps, 2)
	assert.Equal(t, tre.MainStepID, del.Steps[0].TemplateStepID)
	assert.Equal(t, tre.StepFirewall, del.Steps[1].Kind)
	f.status(del, 0, tre.StatusDeleting)
	f.status(del, 0, tre.StatusDeleted)
	f.svc.WaitFirewall()
	end := f.operation(del.ID)
	assert.Equal(t, tre.StatusDeleted, end.Status, end.Steps[1].Message)
	assert.Empty(t, f.fqdnsInFirewall(), "the uninstalled service's rules are gone")
}

func TestFirewallDisablingClosesEgress(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	svc, op := f.createWebService(ws, "pypi.org")
	f.svc.WaitFirewall()
	f.status(op, 1, tre.StatusDeploying)
	f.status(op, 1, tre.StatusDeployed)

	off := false
	up := f.patchService(svc, &off, nil)
	require.Equal(t, tre.StepFirewall, up.Steps[0].Kind, "an upgrade applies the new rule set first")
	f.svc.WaitFirewall()
	assert.Empty(t, f.fqdnsInFirewall(), "a disabled resource has no egress")
}

func TestFirewallInvalidRulesFailOnlyTheirOperation(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	good, gop := f.createWebService(ws, "pypi.org")
	f.svc.WaitFirewall()
	f.status(gop, 1, tre.StatusDeploying)
	f.status(gop, 1, tre.StatusDeployed)
	sent := len(f.sent.requests(t))

	bad, bop := f.createWebService(ws, "not a host name!")
	f.svc.WaitFirewall()
	end := f.operation(bop.ID)
	assert.Equal(t, tre.StatusDeploymentFailed, end.Status)
	msg := end.Steps[0].Message
	assert.Contains(t, msg, "arc_web", "the message names the collection")
	assert.Contains(t, msg, "mirror", "the message names the rule")
	assert.Contains(t, msg, "not a host name!")
	assert.Equal(t, tre.StatusAwaitingDeployment, end.Steps[1].Status, "the bundle never ran")
	assert.Len(t, f.sent.requests(t), sent, "no request was sent for the failed install")
	assert.Equal(t, tre.StatusDeploymentFailed, f.resource(bad.ID).DeploymentStatus)

	// The other service's rules are untouched, and the failed one is not a
	// standing problem (a failed install has no egress).
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
	view, err := f.svc.Firewall(context.Background())
	require.NoError(t, err)
	assert.Empty(t, view.Problems)
	require.Len(t, view.Owners, 1)
	assert.Equal(t, good.ID, view.Owners[0].Owner.ID)
}

func TestFirewallManualRulesTakePrecedence(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	_, op := f.createWebService(ws, "pypi.org")
	f.svc.WaitFirewall()
	require.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())

	rules := firewall.RuleSet{NetworkRuleCollections: []firewall.NetworkRuleCollection{{Name: "nrc_ntp", Rules: []tre.NetworkRule{{
		Name: "ntp-time", Protocols: []string{"UDP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"123"}, SourceAddresses: []string{"10.0.0.0/12"}}}}}}
	m, err := f.svc.PutManualRules(context.Background(), "ntp", rules, admin)
	require.NoError(t, err)
	assert.Equal(t, "ntp", m.Name)
	f.svc.WaitFirewall()

	groups, err := f.fw.Groups(context.Background())
	require.NoError(t, err)
	prio := map[string]int32{}
	for _, g := range groups {
		prio[g.Name] = g.Priority
	}
	require.Contains(t, prio, "rcg-tre-manual-network")
	require.Contains(t, prio, "rcg-tre-application")
	assert.Less(t, prio["rcg-tre-manual-network"], prio["rcg-tre-application"], "manual rules are evaluated first")

	sets, err := f.svc.ManualRuleSets(context.Background())
	require.NoError(t, err)
	require.Len(t, sets, 1)

	// Invalid manual rules are refused naming the field; nothing changes.
	bad := rules
	bad.NetworkRuleCollections = []firewall.NetworkRuleCollection{{Name: "nrc_x", Rules: []tre.NetworkRule{{
		Name: "bad-port", Protocols: []string{"UDP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"99999"}, SourceAddresses: []string{"10.0.0.0/12"}}}}}
	_, err = f.svc.PutManualRules(context.Background(), "x", bad, admin)
	require.Error(t, err)
	assert.True(t, tre.IsCode(err, tre.CodeInvalid), err)
	var te *tre.Error
	require.ErrorAs(t, err, &te)
	var fields []string
	for _, fe := range te.Fields {
		fields = append(fields, fe.Field)
	}
	assert.Contains(t, strings.Join(fields, " "), `network_rule_collections[0] "nrc_x".rules[0] "bad-port"`)
	assert.Contains(t, err.Error(), "99999")
	_, err = f.svc.PutManualRules(context.Background(), "../x", rules, admin)
	assert.True(t, tre.IsCode(err, tre.CodeInvalid), err)

	require.NoError(t, f.svc.DeleteManualRules(context.Background(), "ntp", admin))
	f.svc.WaitFirewall()
	assert.True(t, tre.IsCode(f.svc.DeleteManualRules(context.Background(), "ntp", admin), tre.CodeNotFound))
	groups, err = f.fw.Groups(context.Background())
	require.NoError(t, err)
	for _, g := range groups {
		assert.NotEqual(t, "rcg-tre-manual-network", g.Name)
	}
}

func TestFirewallReconcileRemovesDriftAndLeavesForeignGroups(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ctx := context.Background()
	foreign := tre.RuleCollectionGroup{Name: "core-infrastructure", Priority: 100, Collections: []tre.RuleCollection{{
		Name: "core", Priority: 100, Action: tre.RuleAllow, NetworkRules: []tre.NetworkRule{{
			Name: "dns", Protocols: []string{"UDP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"53"}, SourceAddresses: []string{"*"}}}}}}
	orphan := tre.RuleCollectionGroup{Name: "rcg-tre-network", Priority: 500, Collections: []tre.RuleCollection{{
		Name: "gone.nrc", Priority: 1000, Action: tre.RuleAllow, NetworkRules: []tre.NetworkRule{{
			Name: "old", Protocols: []string{"TCP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"22"}, SourceAddresses: []string{"*"}}}}}}
	require.NoError(t, f.fw.Put(ctx, foreign))
	require.NoError(t, f.fw.Put(ctx, orphan))

	st, err := f.svc.SyncFirewall(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"rcg-tre-network"}, st.Result.Deleted, "an orphaned TRE group is removed")
	groups, err := f.fw.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	assert.Equal(t, "core-infrastructure", groups[0].Name, "groups without the prefix are never touched")
}

func TestFirewallStepSentBeforeACrashRunsOnTheTimer(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ctx := context.Background()
	ws := f.deployedWorkspace()
	_, op := f.createWebService(ws, "pypi.org")
	f.svc.WaitFirewall()
	require.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())

	// As if the process had marked the step sent and died before running
	// it: the step is back to awaiting, the rules are not in the firewall.
	require.NoError(t, f.svc.updateOperation(ctx, op.ID, func(o *tre.Operation) error {
		o.Steps[0].Status, o.Steps[0].Message = tre.StatusesFor(tre.StepFirewall).Awaiting, "Waiting to update the firewall"
		recompute(o)
		return nil
	}, nil))
	for _, g := range must(f.fw.Groups(ctx)) {
		require.NoError(t, f.fw.Delete(ctx, g.Name))
	}

	// The firewall-reconcile timer runs it.
	require.NoError(t, f.svc.RunFirewallSteps(ctx))
	assert.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
	require.NoError(t, f.svc.RunFirewallSteps(ctx), "nothing left to run")
}

func TestFirewallStepWithoutFirewallServiceFailsVisibly(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	_, op := f.createWebService(ws, "pypi.org")
	f.svc.WaitFirewall()

	// An instance configured without the firewall service meets a firewall
	// step (another instance created it).
	fw := f.svc.fw
	f.svc.fw = nil
	t.Cleanup(func() { f.svc.fw = fw })
	require.NoError(t, f.svc.updateOperation(context.Background(), op.ID, func(o *tre.Operation) error {
		o.Steps[0].Status, o.Steps[0].DispatchedWhen = tre.StatusesFor(tre.StepFirewall).Awaiting, 0
		recompute(o)
		return nil
	}, nil))
	require.NoError(t, f.svc.Dispatch(context.Background(), op.ID))
	end := f.operation(op.ID)
	assert.Equal(t, tre.PhaseFailed, end.Steps[0].Status.Phase())
	assert.Contains(t, end.Steps[0].Message, "firewall service is off")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestFirewallEgressUsesTemplateDefaultsAndExplainsBadValues(t *testing.T) {
	f := newFixture(t)
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "sites-svc", "1.0.0", schemaOf("Sites", map[string]any{
		"sites": map[string]any{"default": []any{"pypi.org", "files.pythonhosted.org"}, "updateable": true}, // untyped: the egress meets what it holds
		"port":  map[string]any{"type": "string"},
	}, map[string]any{"egress": map[string]any{
		"rule_collections": []any{map[string]any{"name": "arc_sites", "rules": []any{map[string]any{
			"name": "sites", "protocols": []any{map[string]any{"port": "443", "type": "Https"}},
			"target_fqdns": "{{ resource.properties.sites }}", "source_addresses": "{{ resource.parent.properties.address_spaces }}",
		}}}},
	}}))
	ws := f.deployedWorkspace()
	create := func(props map[string]any) *tre.Operation {
		p := map[string]any{"display_name": "Sites", "description": "d"}
		for k, v := range props {
			p[k] = v
		}
		_, op, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: "sites-svc", WorkspaceID: ws.ID,
			Properties: p, User: admin, Roles: admin.Roles})
		require.NoError(t, err)
		f.svc.WaitFirewall()
		return f.operation(op.ID)
	}

	op := create(nil)
	require.Equal(t, tre.PhaseSucceeded, op.Steps[0].Status.Phase(), op.Steps[0].Message)
	assert.ElementsMatch(t, []string{"pypi.org", "files.pythonhosted.org"}, f.fqdnsInFirewall()["rcg-tre-application"],
		"a property left out takes the template's default")

	op = create(map[string]any{"sites": "pypi.org"})
	require.Equal(t, tre.PhaseFailed, op.Steps[0].Status.Phase())
	assert.Contains(t, op.Steps[0].Message, "target_fqdns is a JSON string where a list belongs")
}

func TestFirewallRulesABundleReports(t *testing.T) {
	f := newFixture(t)
	ws := f.deployedWorkspace()
	_, op, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: "plain-svc", WorkspaceID: ws.ID,
		Properties: map[string]any{"display_name": "Plain", "description": "d"}, User: admin, Roles: admin.Roles})
	require.NoError(t, err)
	require.Len(t, op.Steps, 1, "nothing declared: no firewall step")
	out := `{"rule_collections":[{"name":"arc_cran","rules":[{"name":"cran-mirror","protocols":[{"port":443,"type":"Https"}],` +
		`"target_fqdns":["cran.r-project.org"],"source_addresses":["10.1.4.0/24"]}]}]}`
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed, tre.Output{Name: tre.EgressOutput, Value: out, Type: "string"})
	f.svc.WaitFirewall()
	assert.Equal(t, []string{"cran.r-project.org"}, f.fqdnsInFirewall()["rcg-tre-application"], "the reported rules apply once the bundle ran")
}

// templatesDown fails reads of templates, as a store that is unreachable
// part-way through a reconcile would.
type templatesDown struct{ tre.Store }

func (s templatesDown) Get(ctx context.Context, col tre.Collection, id string) (tre.Document, error) {
	if col == tre.ResourceTemplates {
		return tre.Document{}, tre.Errorf(tre.CodeUnavailable, "store unavailable")
	}
	return s.Store.Get(ctx, col, id)
}

func (s templatesDown) Query(ctx context.Context, col tre.Collection, q tre.Query) ([]tre.Document, error) {
	if col == tre.ResourceTemplates {
		return nil, tre.Errorf(tre.CodeUnavailable, "store unavailable")
	}
	return s.Store.Query(ctx, col, q)
}

func TestFirewallReadFailureKeepsTheRules(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	_, op := f.createWebService(ws, "pypi.org")
	f.svc.WaitFirewall()
	require.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())

	reg := registry.New(templatesDown{f.store}, f.clock.now)
	down, err := New(templatesDown{f.store}, reg, f.secrets, f.sent, f.svc.cfg, Options{Now: f.clock.now,
		Firewall: &FirewallOptions{Backend: f.fw, Holder: "down"}})
	require.NoError(t, err)
	_, err = down.SyncFirewall(context.Background())
	require.Error(t, err, "the reconcile stops rather than compute a state without the service")
	assert.True(t, tre.IsCode(err, tre.CodeUnavailable), err)
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"], "the service's rules are still there")
}
