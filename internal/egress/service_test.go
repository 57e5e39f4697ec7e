package egress_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

func TestFirewallStepOpensEgressBeforeInstallAndClosesAfterUninstall(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	sent := f.sent.requests()

	svc, op := f.createWebService(ws, "pypi.org")
	require.Len(t, op.Steps, 2)
	assert.Equal(t, tre.StepFirewall, op.Steps[0].Kind)
	assert.Equal(t, tre.MainStepID, op.Steps[1].TemplateStepID)
	assert.NotZero(t, f.operation(op.ID).Steps[0].DispatchedWhen, "lifecycle marked the firewall step sent")
	assert.Equal(t, sent, f.sent.requests(), "and sent no request for it")

	// The firewall service runs the step; the bundle's request is sent
	// only once the rules are in the firewall.
	f.runSteps()
	cur := f.operation(op.ID)
	require.Equal(t, tre.PhaseSucceeded, cur.Steps[0].Status.Phase(), cur.Steps[0].Message)
	assert.Contains(t, cur.Steps[0].Message, "rcg-tre-application")
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
	require.Equal(t, sent+1, f.sent.requests())
	assert.Equal(t, svc.ID, f.sent.lastSession())
	assert.Equal(t, tre.StatusAwaitingDeployment, f.resource(svc.ID).DeploymentStatus, "a firewall step does not change the bundle's status")

	f.status(op, 1, tre.StatusDeploying)
	f.status(op, 1, tre.StatusDeployed)
	require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status)

	// Uninstall: the bundle goes first, the rules after it.
	off := false
	f.complete(f.patchService(svc, &off))
	del, err := f.lc.Delete(context.Background(), lifecycle.Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, ID: svc.ID}, admin)
	require.NoError(t, err)
	require.Len(t, del.Steps, 2)
	assert.Equal(t, tre.MainStepID, del.Steps[0].TemplateStepID)
	assert.Equal(t, tre.StepFirewall, del.Steps[1].Kind)
	f.status(del, 0, tre.StatusDeleting)
	f.status(del, 0, tre.StatusDeleted)
	f.runSteps()
	end := f.operation(del.ID)
	assert.Equal(t, tre.StatusDeleted, end.Status, end.Steps[1].Message)
	assert.Empty(t, f.fqdnsInFirewall(), "the uninstalled service's rules are gone")
}

func TestFirewallDisablingClosesEgress(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	svc, op := f.createWebService(ws, "pypi.org")
	f.complete(op)

	off := false
	up := f.patchService(svc, &off)
	require.Equal(t, tre.StepFirewall, up.Steps[0].Kind, "an upgrade applies the new rule set first")
	f.runSteps()
	assert.Empty(t, f.fqdnsInFirewall(), "a disabled resource has no egress")
}

func TestFirewallInvalidRulesFailOnlyTheirOperation(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	good, gop := f.createWebService(ws, "pypi.org")
	f.complete(gop)
	sent := f.sent.requests()

	bad, bop := f.createWebService(ws, "not a host name!")
	f.runSteps()
	end := f.operation(bop.ID)
	assert.Equal(t, tre.StatusDeploymentFailed, end.Status)
	msg := end.Steps[0].Message
	assert.Contains(t, msg, "arc_web", "the message names the collection")
	assert.Contains(t, msg, "mirror", "the message names the rule")
	assert.Contains(t, msg, "not a host name!")
	assert.Equal(t, tre.StatusAwaitingDeployment, end.Steps[1].Status, "the bundle never ran")
	assert.Equal(t, sent, f.sent.requests(), "no request was sent for the failed install")
	assert.Equal(t, tre.StatusDeploymentFailed, f.resource(bad.ID).DeploymentStatus)

	// The other service's rules are untouched, and the failed one is not a
	// standing problem (a failed install has no egress).
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
	view, err := f.fw.View(context.Background())
	require.NoError(t, err)
	assert.Empty(t, view.Problems)
	require.Len(t, view.Owners, 1)
	assert.Equal(t, good.ID, view.Owners[0].Owner.ID)
}

func ntpRules() firewall.RuleSet {
	return firewall.RuleSet{NetworkRuleCollections: []firewall.NetworkRuleCollection{{Name: "nrc_ntp", Rules: []tre.NetworkRule{{
		Name: "ntp-time", Protocols: []string{"UDP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"123"}, SourceAddresses: []string{"10.0.0.0/12"}}}}}}
}

func TestFirewallManualRulesTakePrecedence(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	_, op := f.createWebService(ws, "pypi.org")
	f.runSteps()
	require.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())

	rules := ntpRules()
	m, err := f.fw.PutManualRules(context.Background(), "ntp", rules, admin)
	require.NoError(t, err)
	assert.Equal(t, "ntp", m.Name)
	f.sync()

	groups, err := f.file.Groups(context.Background())
	require.NoError(t, err)
	prio := map[string]int32{}
	for _, g := range groups {
		prio[g.Name] = g.Priority
	}
	require.Contains(t, prio, "rcg-tre-manual-network")
	require.Contains(t, prio, "rcg-tre-application")
	assert.Less(t, prio["rcg-tre-manual-network"], prio["rcg-tre-application"], "manual rules are evaluated first")

	sets, err := f.fw.ManualRuleSets(context.Background())
	require.NoError(t, err)
	require.Len(t, sets, 1)

	// Invalid manual rules are refused naming the field; nothing changes.
	bad := rules
	bad.NetworkRuleCollections = []firewall.NetworkRuleCollection{{Name: "nrc_x", Rules: []tre.NetworkRule{{
		Name: "bad-port", Protocols: []string{"UDP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"99999"}, SourceAddresses: []string{"10.0.0.0/12"}}}}}
	_, err = f.fw.PutManualRules(context.Background(), "x", bad, admin)
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
	_, err = f.fw.PutManualRules(context.Background(), "../x", rules, admin)
	assert.True(t, tre.IsCode(err, tre.CodeInvalid), err)

	require.NoError(t, f.fw.DeleteManualRules(context.Background(), "ntp", admin))
	f.sync()
	assert.True(t, tre.IsCode(f.fw.DeleteManualRules(context.Background(), "ntp", admin), tre.CodeNotFound))
	groups, err = f.file.Groups(context.Background())
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
	require.NoError(t, f.file.Put(ctx, foreign))
	require.NoError(t, f.file.Put(ctx, orphan))

	rep := f.sync()
	assert.Equal(t, []string{"rcg-tre-network"}, rep.Result.Deleted, "an orphaned TRE group is removed")
	groups, err := f.file.Groups(ctx)
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
	f.runSteps()
	require.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())

	// As if the process had marked the step sent and died before running
	// it: the step is back to awaiting, the rules are not in the firewall.
	cur := f.operation(op.ID)
	cur.Steps[0].Status, cur.Steps[0].Message = tre.StatusesFor(tre.StepFirewall).Awaiting, "Waiting to update the firewall"
	cur.Status, cur.Message = tre.StatusAwaitingDeployment, tre.AwaitingMessage(tre.ActionInstall)
	_, err := tre.ReplaceAs(ctx, f.store, tre.Operations, cur.ID, cur.ETag, cur)
	require.NoError(t, err)
	groups, err := f.file.Groups(ctx)
	require.NoError(t, err)
	for _, g := range groups {
		require.NoError(t, f.file.Delete(ctx, g.Name))
	}

	// The firewall-reconcile timer runs it.
	f.runSteps()
	assert.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
	require.NoError(t, f.fw.RunSteps(ctx), "nothing left to run")
}

func TestFirewallEgressUsesTemplateDefaultsAndExplainsBadValues(t *testing.T) {
	f := newFixture(t)
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "sites-svc", schemaOf("Sites", map[string]any{
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
		_, op := f.createService(ws, "sites-svc", props)
		f.runSteps()
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
	_, op := f.createService(ws, "plain-svc", nil)
	require.Len(t, op.Steps, 1, "nothing declared: no firewall step")
	out := `{"rule_collections":[{"name":"arc_cran","rules":[{"name":"cran-mirror","protocols":[{"port":443,"type":"Https"}],` +
		`"target_fqdns":["cran.r-project.org"],"source_addresses":["10.1.4.0/24"]}]}]}`
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed, tre.Output{Name: tre.EgressOutput, Value: out, Type: "string"})
	f.sync()
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
	f.runSteps()
	require.Equal(t, tre.PhaseSucceeded, f.operation(op.ID).Steps[0].Status.Phase())

	store := templatesDown{f.store}
	lc := lifecycle.New(store, registry.New(store, f.clock.now), f.secrets, f.sent, lifecycle.Config{}, lifecycle.Options{Now: f.clock.now})
	down, err := egress.New(store, f.file, lc, nil, egress.Config{Holder: "down"}, egress.Options{Now: f.clock.now})
	require.NoError(t, err)
	_, err = down.Sync(context.Background())
	require.Error(t, err, "the reconcile stops rather than compute a state without the service")
	assert.True(t, tre.IsCode(err, tre.CodeUnavailable), err)
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"], "the service's rules are still there")
}

// Run does what lifecycle and the manual rule routes signal, in the
// background, until its context ends; then it returns nil.
func TestRunDoesTheSignalledWork(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.fw.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)

	_, op := f.createWebService(ws, "pypi.org")
	require.Eventually(t, func() bool { return f.operation(op.ID).Steps[0].Status.Phase() == tre.PhaseSucceeded },
		10*time.Second, 5*time.Millisecond, "the firewall step ran once lifecycle signalled it")
	assert.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])

	_, err := f.fw.PutManualRules(context.Background(), "ntp", ntpRules(), admin)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		groups, err := f.file.Groups(context.Background())
		require.NoError(t, err)
		for _, g := range groups {
			if g.Name == "rcg-tre-manual-network" {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "a saved rule set is reconciled in the background")

	stop()
	_, op = f.createWebService(ws, "files.pythonhosted.org")
	assert.Equal(t, tre.PhaseAwaiting, f.operation(op.ID).Steps[0].Status.Phase(), "nothing runs once Run returned")
}

func TestFirewallServiceOff(t *testing.T) {
	f := newFixture(t)
	off, err := egress.New(f.store, nil, f.lc, nil, egress.Config{}, egress.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	assert.False(t, off.Enabled())
	_, err = off.View(ctx)
	assert.True(t, tre.IsCode(err, tre.CodeUnavailable), err)
	_, err = off.Sync(ctx)
	assert.True(t, tre.IsCode(err, tre.CodeUnavailable), err)
	_, err = off.PutManualRules(ctx, "ntp", ntpRules(), admin)
	assert.True(t, tre.IsCode(err, tre.CodeUnavailable), err)
	assert.True(t, tre.IsCode(off.DeleteManualRules(ctx, "ntp", admin), tre.CodeUnavailable))
	sets, err := off.ManualRuleSets(ctx)
	require.NoError(t, err)
	assert.Empty(t, sets)
	require.NoError(t, off.RunSteps(ctx))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, off.Run(cctx), "Run returns nil when its context ends")
}
