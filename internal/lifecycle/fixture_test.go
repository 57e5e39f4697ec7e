package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// recorder is a Sender that keeps what was sent, or fails on demand.
type recorder struct {
	mu   sync.Mutex
	msgs []tre.Message
	fail error
}

func (r *recorder) Send(_ context.Context, queue string, msgs ...tre.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if queue != tre.QueueRequests {
		return tre.Errorf(tre.CodeInvalid, "unexpected queue %s", queue)
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) requests(t *testing.T) []tre.ResourceRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []tre.ResourceRequest
	for _, m := range r.msgs {
		if m.Subject == tre.SubjectCancel {
			continue
		}
		var req tre.ResourceRequest
		require.NoError(t, json.Unmarshal(m.Body, &req))
		wantID := req.StepID
		if req.Attempt > 1 {
			wantID = fmt.Sprintf("%s:%d", req.StepID, req.Attempt)
		}
		require.Equal(t, wantID, m.MessageID, "message id = step id (step:attempt for retries)")
		require.Equal(t, req.ID, m.SessionID, "session = the resource the step changes")
		out = append(out, req)
	}
	return out
}

type fixture struct {
	t       *testing.T
	svc     *Service
	store   tre.Store
	reg     *registry.Registry
	secrets *secretfile.Store
	sent    *recorder
	dir     string
	clock   *clock
	signal  *signal
	atomic  *recordingAtomic // nil: no shared transactions
}

// recordingAtomic runs the SQLite queue's transactions, recording their
// sends once they commit; a send fails as the recorder is told to.
type recordingAtomic struct {
	q   *sqlite.Queue
	rec *recorder

	mu      sync.Mutex
	commits int
	ahead   int // transactions run ahead (AtomicallyAhead)
}

func (a *recordingAtomic) Atomically(ctx context.Context, fn func(ctx context.Context, st tre.Store, snd tre.Sender) error) error {
	return a.run(ctx, a.q.Atomically, fn)
}

// AtomicallyAhead makes the fixture a tre.Ahead, as the SQLite queue is:
// status ingestion under TestInOneTransaction runs ahead of the writer.
func (a *recordingAtomic) AtomicallyAhead(ctx context.Context, fn func(ctx context.Context, st tre.Store, snd tre.Sender) error) error {
	a.mu.Lock()
	a.ahead++
	a.mu.Unlock()
	return a.run(ctx, a.q.AtomicallyAhead, fn)
}

func (a *recordingAtomic) run(ctx context.Context, atomically func(context.Context, func(context.Context, tre.Store, tre.Sender) error) error,
	fn func(ctx context.Context, st tre.Store, snd tre.Sender) error) error {
	var sent []tre.Message
	err := atomically(ctx, func(ctx context.Context, st tre.Store, snd tre.Sender) error {
		sent = nil
		return fn(ctx, st, senderFunc(func(ctx context.Context, queue string, msgs ...tre.Message) error {
			a.rec.mu.Lock()
			fail := a.rec.fail
			a.rec.mu.Unlock()
			if fail != nil {
				return fail
			}
			if queue != tre.QueueRequests {
				return tre.Errorf(tre.CodeInvalid, "unexpected queue %s", queue)
			}
			if err := snd.Send(ctx, queue, msgs...); err != nil {
				return err
			}
			sent = append(sent, msgs...)
			return nil
		}))
	})
	if err == nil {
		a.mu.Lock()
		a.commits++
		a.mu.Unlock()
		a.rec.mu.Lock()
		a.rec.msgs = append(a.rec.msgs, sent...)
		a.rec.mu.Unlock()
	}
	return err
}

func (a *recordingAtomic) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.commits
}

type senderFunc func(ctx context.Context, queue string, msgs ...tre.Message) error

func (f senderFunc) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	return f(ctx, queue, msgs...)
}

// signal counts what lifecycle signals to the firewall service.
type signal struct {
	mu                sync.Mutex
	stepsDue, resyncs int
}

func (s *signal) StepsDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stepsDue++
}

func (s *signal) EgressChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resyncs++
}

func (s *signal) counts() (stepsDue, resyncs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stepsDue, s.resyncs
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

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	admin = tre.User{ID: "admin-1", Name: "admin", Roles: []string{"TREAdmin"}}
	owner = tre.User{ID: "owner-1", Name: "owner", Roles: []string{"TREUser"}}
)

// newFixture returns a service on a SQLite store with a recording sender.
// Under TestInOneTransaction (atomic_test.go) the service has the store
// and queue's shared transactions (Options.Atomic), whose sends are
// recorded when they commit.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir)
	require.NoError(t, err)
	st := sqlite.NewStore(db)
	queue := sqlite.NewQueue(db, sqlite.QueueOptions{})
	t.Cleanup(func() {
		queue.Close()
		db.Close()
	})
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	reg := registry.New(st, c.now)
	rec := &recorder{}
	sig := &signal{}
	opts := Options{Now: c.now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Firewall: sig}
	var atomic *recordingAtomic
	if strings.HasPrefix(t.Name(), "TestInOneTransaction/") {
		atomic = &recordingAtomic{q: queue, rec: rec}
		opts.Atomic = atomic
	}
	svc := New(st, reg, sec, rec, Config{
		TREID: "tre1", Location: "westeurope",
		AddressSpace: cidr.MustParse("10.0.0.0/12"), CoreAddressSpace: cidr.MustParse("10.1.0.0/22"),
	}, opts)
	f := &fixture{t: t, svc: svc, store: st, reg: reg, secrets: sec, sent: rec, dir: dir, clock: c, signal: sig, atomic: atomic}
	f.registerTemplates()
	return f
}

func schemaOf(title string, props map[string]any, extra map[string]any) map[string]any {
	s := map[string]any{"title": title, "description": title + " template", "type": "object", "properties": props}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func (f *fixture) register(k registry.Kind, name, version string, s map[string]any, actions ...string) {
	f.t.Helper()
	var ca []tre.CustomAction
	for _, a := range actions {
		ca = append(ca, tre.CustomAction{Name: a})
	}
	_, err := f.reg.Register(context.Background(), k, registry.Registration{Name: name, Version: version, Current: true, JSONSchema: s, CustomActions: ca}, admin)
	require.NoError(f.t, err)
}

func (f *fixture) registerTemplates() {
	f.register(registry.Kind{Type: tre.TypeWorkspace}, "ws", "1.0.0", schemaOf("Workspace", map[string]any{
		"address_space_size": map[string]any{"type": "string", "enum": []any{"small", "medium", "large", "custom"}},
		"address_space":      map[string]any{"type": "string"},
		"client_secret":      map[string]any{"type": "string", "sensitive": true, "updateable": true},
		"size":               map[string]any{"type": "string"},
	}, nil), "restart")
	f.register(registry.Kind{Type: tre.TypeSharedService}, "firewall", "1.0.0", schemaOf("Firewall", map[string]any{
		"rule_collections": map[string]any{"type": "array", "updateable": true},
	}, nil))
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "svc", "1.0.0", schemaOf("Service", map[string]any{
		"color": map[string]any{"type": "string", "updateable": true},
	}, map[string]any{"pipeline": map[string]any{
		"install": []any{
			map[string]any{"stepId": "main"},
			map[string]any{"stepId": "fw", "stepTitle": "Open egress", "resourceType": "shared-service",
				"resourceTemplateName": "firewall", "resourceAction": "upgrade", "properties": []any{map[string]any{
					"name": "rule_collections", "type": "array", "arraySubstitutionAction": "replace", "arrayMatchField": "name",
					"value": map[string]any{"name": "arc_{{ resource.id }}", "source": "{{ resource.parent.properties.address_space }}"}}}},
		},
	}}))
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "plain-svc", "1.0.0", schemaOf("Plain", map[string]any{}, nil))
	f.register(registry.Kind{Type: tre.TypeUserResource, Parent: "plain-svc"}, "vm", "1.0.0", schemaOf("VM", map[string]any{
		"os": map[string]any{"type": "string"},
	}, nil))
}

// status sends a status update for the operation's step on resource id.
func (f *fixture) status(op *tre.Operation, stepIndex int, st tre.Status, outputs ...tre.Output) Outcome {
	f.t.Helper()
	cur := f.operation(op.ID)
	step := cur.Steps[stepIndex]
	out, err := f.svc.ApplyStatus(context.Background(), tre.StatusUpdate{
		OperationID: op.ID, StepID: step.ID, ID: step.ResourceID, Status: st, Message: step.ResourceID + ": " + string(st), Outputs: outputs,
	})
	require.NoError(f.t, err)
	return out
}

// complete drives every step of an operation to success.
func (f *fixture) complete(op *tre.Operation) *tre.Operation {
	f.t.Helper()
	for i := range f.operation(op.ID).Steps {
		st := tre.StatusesFor(f.operation(op.ID).Steps[i].ResourceAction)
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
	r, err := f.svc.getResource(context.Background(), id)
	require.NoError(f.t, err)
	return r
}

func (f *fixture) createWorkspace(props map[string]any) (*tre.Resource, *tre.Operation) {
	f.t.Helper()
	p := map[string]any{"display_name": "WS", "description": "d"}
	for k, v := range props {
		p[k] = v
	}
	r, op, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", Properties: p, User: admin, Roles: admin.Roles})
	require.NoError(f.t, err)
	return r, op
}

// deployedWorkspace creates a workspace and completes its install.
func (f *fixture) deployedWorkspace() *tre.Resource {
	f.t.Helper()
	r, op := f.createWorkspace(nil)
	require.Equal(f.t, tre.StatusDeployed, f.complete(op).Status)
	return f.resource(r.ID)
}

// allocations lists every address-space allocation, by resource.
func (f *fixture) allocations() map[string][]string {
	f.t.Helper()
	blocks, err := tre.QueryAs[addressBlock](context.Background(), f.store, tre.Allocations, tre.Query{Where: []tre.Cond{tre.Eq("kind", blockKind)}})
	require.NoError(f.t, err)
	out := map[string][]string{}
	for _, b := range blocks {
		for _, e := range b.Entries {
			out[e.ResourceID] = append(out[e.ResourceID], e.CIDR)
		}
	}
	return out
}

// count returns how many documents a collection holds.
func (f *fixture) count(c tre.Collection) int {
	f.t.Helper()
	docs, err := f.store.Query(context.Background(), c, tre.Query{})
	require.NoError(f.t, err)
	return len(docs)
}
