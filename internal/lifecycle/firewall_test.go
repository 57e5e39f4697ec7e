package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// registerEgress registers "web-svc", a workspace service whose template
// declares egress.
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

func (f *fixture) createWebService(ws *tre.Resource) *tre.Operation {
	f.t.Helper()
	_, op, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: "web-svc", WorkspaceID: ws.ID,
		Properties: map[string]any{"display_name": "Web", "description": "d", "mirror": "pypi.org"}, User: admin, Roles: admin.Roles})
	require.NoError(f.t, err)
	return op
}

// A firewall step is recorded as sent in the store and signalled; no
// request goes to the Resource Processor for it. The firewall service's
// reports move it on like any step's.
func TestFirewallStepIsRecordedAndSignalled(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	sent := len(f.sent.requests(t))

	op := f.createWebService(ws)
	require.Len(t, op.Steps, 2)
	require.Equal(t, tre.StepFirewall, op.Steps[0].Kind, "the egress opens before the bundle installs")
	cur := f.operation(op.ID)
	assert.NotZero(t, cur.Steps[0].DispatchedWhen)
	assert.Equal(t, tre.PhaseAwaiting, cur.Steps[0].Status.Phase())
	assert.Len(t, f.sent.requests(t), sent)
	due, _ := f.signal.counts()
	assert.Equal(t, 1, due)

	st := tre.StatusesFor(tre.StepFirewall)
	f.status(op, 0, st.Running)
	f.status(op, 0, st.Succeeded)
	reqs := f.sent.requests(t)
	require.Len(t, reqs, sent+1, "the bundle's request goes once the egress is open")
	assert.Equal(t, tre.ActionInstall, reqs[len(reqs)-1].Action)
}

// Rules a bundle reports are signalled once it has run.
func TestReportedEgressIsSignalled(t *testing.T) {
	f := newFixture(t)
	ws := f.deployedWorkspace()
	_, op, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: "plain-svc", WorkspaceID: ws.ID,
		Properties: map[string]any{"display_name": "Plain", "description": "d"}, User: admin, Roles: admin.Roles})
	require.NoError(t, err)
	require.Len(t, op.Steps, 1, "nothing declared: no firewall step")
	f.status(op, 0, tre.StatusDeploying)
	_, resyncs := f.signal.counts()
	require.Zero(t, resyncs)
	f.status(op, 0, tre.StatusDeployed, tre.Output{Name: tre.EgressOutput, Value: `{"rule_collections":[]}`, Type: "string"})
	_, resyncs = f.signal.counts()
	assert.Equal(t, 1, resyncs)
}

func TestFirewallStepWithoutFirewallServiceFailsVisibly(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	op := f.createWebService(ws)

	// An instance configured without the firewall service meets a firewall
	// step (another instance created it).
	fw := f.svc.firewall
	f.svc.firewall = nil
	t.Cleanup(func() { f.svc.firewall = fw })
	require.NoError(t, f.svc.updateOperation(context.Background(), op.ID, func(o *tre.Operation) error {
		o.Steps[0].Status, o.Steps[0].DispatchedWhen = tre.StatusesFor(tre.StepFirewall).Awaiting, 0
		recompute(o)
		return nil
	}, nil))
	require.NoError(t, f.svc.dispatch(context.Background(), op.ID))
	end := f.operation(op.ID)
	assert.Equal(t, tre.PhaseFailed, end.Steps[0].Status.Phase())
	assert.Contains(t, end.Steps[0].Message, "firewall service is off")
}
