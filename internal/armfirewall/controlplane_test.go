package armfirewall_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/armfirewall"
	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// discard accepts request messages; the test plays the Resource Processor
// by applying statuses itself.
type discard struct{}

func (discard) Send(context.Context, string, ...tre.Message) error { return nil }

var admin = tre.User{ID: "admin-1", Name: "admin", Roles: []string{"TREAdmin"}}

// The control plane on the ARM fake: two instances (as two Function App
// instances) share one store and one firewall policy; 20 workspace services
// that declare egress are created at once, spread over both. ARM sees one
// write at a time, and ends with the 20 collections; drift in a TRE group
// is reverted, other groups are left alone.
func TestTwentyServicesAtOnceOnAzureFirewall(t *testing.T) {
	ctx := context.Background()
	fake := armfirewall.NewFakeARM(t)
	const core = `{"priority": 100, "ruleCollections": [{"ruleCollectionType": "FirewallPolicyFilterRuleCollection",
	  "name": "nrc-core", "priority": 100, "action": {"type": "Allow"}, "rules": [{"ruleType": "NetworkRule",
	  "name": "allow-dns", "sourceAddresses": ["*"], "destinationAddresses": ["*"], "destinationPorts": ["53"], "ipProtocols": ["UDP"]}]}]}`
	fake.SetGroup(t, "rcg-core", core)
	coreBefore := fake.GroupJSON(t, "rcg-core")

	dir := t.TempDir()
	st, err := sqlite.OpenStore(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	reg := registry.New(st, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Each instance is the resource lifecycle and its firewall service,
	// running in the background as in the handler.
	var instances []*lifecycle.Service
	var firewalls []*egress.Service
	var running sync.WaitGroup
	runCtx, stopRunning := context.WithCancel(ctx)
	stop := sync.OnceFunc(func() { stopRunning(); running.Wait() })
	t.Cleanup(stop)
	for i := range 2 {
		signal := egress.NewSignal()
		svc := lifecycle.New(st, reg, sec, discard{}, lifecycle.Config{TREID: "tre1", Location: "westeurope",
			AddressSpace: cidr.MustParse("10.0.0.0/12"), CoreAddressSpace: cidr.MustParse("10.1.0.0/22")},
			lifecycle.Options{Log: log, Firewall: signal})
		fw, err := egress.New(st, fake.Backend(t), svc, signal, egress.Config{Holder: fmt.Sprintf("instance-%d", i)}, egress.Options{Log: log})
		require.NoError(t, err)
		running.Add(1)
		go func() { defer running.Done(); _ = fw.Run(runCtx) }()
		instances, firewalls = append(instances, svc), append(firewalls, fw)
	}
	schema := func(title string, props map[string]any) map[string]any {
		return map[string]any{"title": title, "description": title, "type": "object", "properties": props}
	}
	_, err = reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: "ws", Version: "1.0.0", Current: true,
		JSONSchema: schema("WS", map[string]any{"address_space_size": map[string]any{"type": "string"}})}, admin)
	require.NoError(t, err)
	web := schema("Web", map[string]any{"site": map[string]any{"type": "string"}})
	web["egress"] = map[string]any{"rule_collections": []any{map[string]any{"name": "arc_web", "rules": []any{map[string]any{
		"name": "site", "protocols": []any{map[string]any{"port": "443", "type": "Https"}},
		"target_fqdns": []any{"{{ resource.properties.site }}"}, "source_addresses": "{{ resource.parent.properties.address_spaces }}"}}}},
		"network_rule_collections": []any{map[string]any{"name": "nrc_ntp", "rules": []any{map[string]any{
			"name": "ntp-time", "protocols": []any{"UDP"}, "destination_addresses": []any{"*"}, "destination_ports": []any{"123"},
			"source_addresses": "{{ resource.parent.properties.address_spaces }}"}}}}}
	_, err = reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, registry.Registration{Name: "web", Version: "1.0.0", Current: true, JSONSchema: web}, admin)
	require.NoError(t, err)

	// A deployed workspace.
	ws, op, err := instances[0].Create(ctx, lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: admin, Roles: admin.Roles,
		Properties: map[string]any{"display_name": "WS", "description": "d", "address_space_size": "small"}})
	require.NoError(t, err)
	finishBundleSteps(t, instances[0], st, op.ID)

	const n = 20
	ops := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, op, err := instances[i%2].Create(ctx, lifecycle.CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: "web", WorkspaceID: ws.ID,
				User: admin, Roles: admin.Roles, Properties: map[string]any{"display_name": fmt.Sprintf("Web %d", i), "description": "d",
					"site": fmt.Sprintf("site%d.example.org", i)}})
			assert.NoError(t, err)
			if op != nil {
				ops[i] = op.ID
			}
		}()
	}
	wg.Wait()
	// Each create signalled its instance's firewall service, which runs
	// every step due when it looks.
	firewallStepsEnded := func() bool {
		for _, id := range ops {
			got, err := tre.GetAs[tre.Operation](ctx, st, tre.Operations, id)
			require.NoError(t, err)
			if !got.Steps[0].Status.Terminal() {
				return false
			}
		}
		return true
	}
	require.Eventually(t, firewallStepsEnded, 60*time.Second, 10*time.Millisecond)
	stop()
	// The timer finds nothing left.
	for _, fw := range firewalls {
		require.NoError(t, fw.RunSteps(ctx))
	}
	for i, id := range ops {
		got, err := tre.GetAs[tre.Operation](ctx, st, tre.Operations, id)
		require.NoError(t, err)
		require.Equal(t, tre.StepFirewall, got.Steps[0].Kind)
		require.Equal(t, tre.PhaseSucceeded, got.Steps[0].Status.Phase(), "service %d: %s", i, got.Steps[0].Message)
	}

	writes, maxInFlight, overlaps := fake.Writes()
	assert.Empty(t, overlaps, "writes overlapped")
	assert.Equal(t, 1, maxInFlight)
	assert.NotEmpty(t, writes)
	groups, err := fake.Backend(t).Groups(ctx)
	require.NoError(t, err)
	byName := map[string]tre.RuleCollectionGroup{}
	for _, g := range groups {
		byName[g.Name] = g
	}
	require.Len(t, byName["rcg-tre-application"].Collections, n)
	require.Len(t, byName["rcg-tre-network"].Collections, n)
	assert.Equal(t, coreBefore, fake.GroupJSON(t, "rcg-core"))

	// Someone edits TRE's application group in the portal and adds a
	// group of their own: the reconcile puts TRE's back, leaves theirs.
	var props map[string]any
	require.NoError(t, json.Unmarshal([]byte(fake.GroupJSON(t, "rcg-tre-application")), &props))
	props["ruleCollections"] = props["ruleCollections"].([]any)[1:]
	drifted, err := json.Marshal(props)
	require.NoError(t, err)
	fake.SetGroup(t, "rcg-tre-application", string(drifted))
	fake.SetGroup(t, "rcg-admin-own", core)
	ownBefore := fake.GroupJSON(t, "rcg-admin-own")

	res, err := firewalls[1].Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"rcg-tre-application"}, res.Result.Written)
	groups, err = fake.Backend(t).Groups(ctx)
	require.NoError(t, err)
	for _, g := range groups {
		if g.Name == "rcg-tre-application" {
			assert.Len(t, g.Collections, n, "the drift is reverted")
		}
	}
	assert.Equal(t, ownBefore, fake.GroupJSON(t, "rcg-admin-own"))
	assert.Equal(t, coreBefore, fake.GroupJSON(t, "rcg-core"))
}

// finishBundleSteps plays the Resource Processor: every step of the
// operation runs and succeeds.
func finishBundleSteps(t *testing.T, svc *lifecycle.Service, store tre.Store, opID string) {
	t.Helper()
	ctx := context.Background()
	op, err := tre.GetAs[tre.Operation](ctx, store, tre.Operations, opID)
	require.NoError(t, err)
	for _, step := range op.Steps {
		s := tre.StatusesFor(step.ResourceAction)
		for _, status := range []tre.Status{s.Running, s.Succeeded} {
			_, err := svc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: opID, StepID: step.ID, ID: step.ResourceID, Status: status})
			require.NoError(t, err)
		}
	}
}
