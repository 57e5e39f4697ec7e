package egress_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// recorder is a Sender that keeps the request messages sent.
type recorder struct {
	mu   sync.Mutex
	msgs []tre.Message
}

func (r *recorder) Send(_ context.Context, _ string, msgs ...tre.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msgs...)
	return nil
}

// requests counts the request messages sent (cancels left out).
func (r *recorder) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m.Subject != tre.SubjectCancel {
			n++
		}
	}
	return n
}

// lastSession is the session (resource) of the last request sent.
func (r *recorder) lastSession() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs[len(r.msgs)-1].SessionID
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

var admin = tre.User{ID: "admin-1", Name: "admin", Roles: []string{"TREAdmin"}}

// fixture is the resource lifecycle and the firewall service on one store,
// writing to a firewall file. Run is not running: tests run the firewall
// work themselves (RunSteps, Sync), or start Run.
type fixture struct {
	t       *testing.T
	lc      *lifecycle.Service
	fw      *egress.Service
	signal  *egress.Signal
	store   tre.Store
	reg     *registry.Registry
	secrets tre.Secrets
	sent    *recorder
	clock   *clock
	file    *firewallfile.Backend
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.OpenStore(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	f := &fixture{t: t, store: st, reg: registry.New(st, c.now), secrets: sec, sent: &recorder{}, clock: c,
		file: &firewallfile.Backend{Path: filepath.Join(dir, "firewall.json")}, signal: egress.NewSignal()}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.lc = lifecycle.New(st, f.reg, sec, f.sent, lifecycle.Config{
		TREID: "tre1", Location: "westeurope",
		AddressSpace: cidr.MustParse("10.0.0.0/12"), CoreAddressSpace: cidr.MustParse("10.1.0.0/22"),
	}, lifecycle.Options{Now: c.now, Log: log, Firewall: f.signal})
	f.fw, err = egress.New(st, f.file, f.lc, f.signal, egress.Config{Holder: "test",
		Firewall: firewall.Config{CoreIPGroups: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tre1"}}, egress.Options{Now: c.now, Log: log})
	require.NoError(t, err)
	f.register(registry.Kind{Type: tre.TypeWorkspace}, "ws", schemaOf("Workspace", map[string]any{
		"address_space_size": map[string]any{"type": "string", "enum": []any{"small", "medium", "large", "custom"}},
	}, nil))
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "plain-svc", schemaOf("Plain", map[string]any{}, nil))
	return f
}

func schemaOf(title string, props map[string]any, extra map[string]any) map[string]any {
	s := map[string]any{"title": title, "description": title + " template", "type": "object", "properties": props}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func (f *fixture) register(k registry.Kind, name string, s map[string]any) {
	f.t.Helper()
	_, err := f.reg.Register(context.Background(), k, registry.Registration{Name: name, Version: "1.0.0", Current: true, JSONSchema: s}, admin)
	require.NoError(f.t, err)
}

// registerEgress registers "web-svc", a workspace service whose template
// declares an application rule towards the FQDN in its "mirror" property.
func (f *fixture) registerEgress() {
	f.t.Helper()
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "web-svc", schemaOf("Web", map[string]any{
		"mirror": map[string]any{"type": "string", "updateable": true},
	}, map[string]any{"egress": map[string]any{
		"rule_collections": []any{map[string]any{"name": "arc_web", "rules": []any{map[string]any{
			"name": "mirror", "protocols": []any{map[string]any{"port": "443", "type": "Https"}},
			"target_fqdns":     []any{"{{ resource.properties.mirror }}"},
			"source_addresses": []any{"{{ resource.parent.properties.address_space }}"},
		}}}},
	}}))
}

// status sends a status update for the operation's step.
func (f *fixture) status(op *tre.Operation, stepIndex int, st tre.Status, outputs ...tre.Output) {
	f.t.Helper()
	step := f.operation(op.ID).Steps[stepIndex]
	_, err := f.lc.ApplyStatus(context.Background(), tre.StatusUpdate{
		OperationID: op.ID, StepID: step.ID, ID: step.ResourceID, Status: st, Message: string(st), Outputs: outputs,
	})
	require.NoError(f.t, err)
}

// complete drives every step of an operation to success, as the Resource
// Processor and the firewall service would.
func (f *fixture) complete(op *tre.Operation) *tre.Operation {
	f.t.Helper()
	for i := range f.operation(op.ID).Steps {
		step := f.operation(op.ID).Steps[i]
		if step.Kind == tre.StepFirewall {
			require.NoError(f.t, f.fw.RunSteps(context.Background()))
			continue
		}
		st := tre.StatusesFor(step.ResourceAction)
		f.status(op, i, st.Running)
		f.status(op, i, st.Succeeded)
	}
	return f.operation(op.ID)
}

func (f *fixture) operation(id string) *tre.Operation {
	f.t.Helper()
	op, err := tre.GetAs[tre.Operation](context.Background(), f.store, tre.Operations, id)
	require.NoError(f.t, err)
	return op
}

func (f *fixture) resource(id string) *tre.Resource {
	f.t.Helper()
	r, err := tre.GetAs[tre.Resource](context.Background(), f.store, tre.Resources, id)
	require.NoError(f.t, err)
	return r
}

// deployedWorkspace creates a workspace and completes its install.
func (f *fixture) deployedWorkspace() *tre.Resource {
	f.t.Helper()
	r, op, err := f.lc.Create(context.Background(), lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws",
		Properties: map[string]any{"display_name": "WS", "description": "d"}, User: admin, Roles: admin.Roles})
	require.NoError(f.t, err)
	require.Equal(f.t, tre.StatusDeployed, f.complete(op).Status)
	return f.resource(r.ID)
}

func (f *fixture) createService(ws *tre.Resource, template string, props map[string]any) (*tre.Resource, *tre.Operation) {
	f.t.Helper()
	p := map[string]any{"display_name": "Service", "description": "d"}
	for k, v := range props {
		p[k] = v
	}
	r, op, err := f.lc.Create(context.Background(), lifecycle.CreateRequest{Type: tre.TypeWorkspaceService, TemplateName: template,
		WorkspaceID: ws.ID, Properties: p, User: admin, Roles: admin.Roles})
	require.NoError(f.t, err)
	return r, op
}

func (f *fixture) createWebService(ws *tre.Resource, mirror string) (*tre.Resource, *tre.Operation) {
	f.t.Helper()
	return f.createService(ws, "web-svc", map[string]any{"display_name": "Web " + mirror, "mirror": mirror})
}

func (f *fixture) patchService(r *tre.Resource, enabled *bool) *tre.Operation {
	f.t.Helper()
	op, err := f.lc.Patch(context.Background(), lifecycle.PatchRequest{Ref: lifecycle.Ref{Type: tre.TypeWorkspaceService, WorkspaceID: r.WorkspaceID, ID: r.ID},
		IsEnabled: enabled, ETag: f.resource(r.ID).ETag, User: admin})
	require.NoError(f.t, err)
	return op
}

// runSteps runs the due firewall steps, as Run does when signalled.
func (f *fixture) runSteps() {
	f.t.Helper()
	require.NoError(f.t, f.fw.RunSteps(context.Background()))
}

// sync reconciles, as Run does when signalled.
func (f *fixture) sync() *egress.Report {
	f.t.Helper()
	rep, err := f.fw.Sync(context.Background())
	require.NoError(f.t, err)
	return rep
}

// fqdnsInFirewall returns the FQDNs of the application rules in the
// firewall file, by group.
func (f *fixture) fqdnsInFirewall() map[string][]string {
	f.t.Helper()
	groups, err := f.file.Groups(context.Background())
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
