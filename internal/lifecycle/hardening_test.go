package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// A pending operation whose root change the resource does not carry may be
// rolled back: a 409 must not name it (it may never exist).
func TestConflictNeverNamesAnOperationThatMayBeRolledBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	phantom := &tre.Operation{ID: "phantom-op", ResourceID: ws.ID, Action: tre.ActionUpgrade, Status: tre.StatusAwaitingUpdate, Pending: true,
		Steps: []tre.OperationStep{}}
	_, err := tre.CreateAs(ctx, f.store, tre.Operations, phantom.ID, phantom)
	require.NoError(t, err)
	op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "x"}, ETag: ws.ETag, IfMatch: true, User: admin})
	require.NoError(t, err, "the phantom is not in the way: the etag settles a real race")
	_, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "y"}, ETag: f.resource(ws.ID).ETag, IfMatch: true, User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), op.ID, "an operation whose change the resource carries is named")
	require.NotContains(t, tre.ErrorMessage(err), phantom.ID)
}

// address_spaces feeds the firewall rules of the workspace's children: a
// value that is not a CIDR is refused, naming the item, and changes
// nothing.
func TestAddressSpacesMustBeCIDRs(t *testing.T) {
	for name, tc := range map[string]struct {
		value any
		field string
	}{
		"not a CIDR":         {[]any{"10.1.4.0/24", "everywhere"}, "properties.address_spaces[1]"},
		"host bits set":      {[]any{"10.1.4.1/24"}, "properties.address_spaces[0]"},
		"IPv6":               {[]any{"fd00::/64"}, "properties.address_spaces[0]"},
		"a number in a list": {[]any{7}, "properties.address_spaces[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkAddressSpaces(map[string]any{"address_spaces": tc.value})
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
			var e *tre.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.field, e.Field)
		})
	}
	require.NoError(t, checkAddressSpaces(map[string]any{"address_spaces": []any{"10.1.4.0/24", "10.2.0.0/16"}}))
	require.NoError(t, checkAddressSpaces(map[string]any{"other": 1}))
}

// raceStore runs hook once, right after the watchdog's query of operations
// in progress: what happens there happens between the watchdog's read and
// its write.
type raceStore struct {
	tre.Store
	hook func()
}

func (r *raceStore) Query(ctx context.Context, c tre.Collection, q tre.Query) ([]tre.Document, error) {
	docs, err := r.Store.Query(ctx, c, q)
	if hook := r.hook; hook != nil && c == tre.Operations && len(q.Where) == 2 {
		r.hook = nil
		hook()
	}
	return docs, err
}

// The watchdog decides from its read; a step sent (or being sent) between
// that read and the watchdog's write is not failed, and the bundle's real
// result is applied. Deterministic: the clock is the fixture's, the
// interleaving the store hook's.
func TestWatchdogNeverFailsAStepThatMovedOn(t *testing.T) {
	for name, between := range map[string]func(f *fixture, opID string){
		"sent meanwhile": func(f *fixture, opID string) {
			require.NoError(t, f.svc.dispatch(context.Background(), opID))
		},
		"being sent meanwhile": func(f *fixture, opID string) {
			op := f.operation(opID)
			claimed, err := f.svc.claimSend(context.Background(), opID, op.Steps[0])
			require.NoError(t, err)
			require.True(t, claimed)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			f.sent.fail = context.DeadlineExceeded
			_, op := f.createWorkspace(nil)
			f.sent.fail = nil
			require.Zero(t, f.operation(op.ID).Steps[0].DispatchedWhen)
			f.clock.advance(f.svc.cfg.DispatchLimit + time.Second)

			base := f.svc.store
			f.svc.store = &raceStore{Store: base, hook: func() { between(f, op.ID) }}
			n, err := f.svc.Watchdog(ctx)
			f.svc.store = base
			require.NoError(t, err)
			require.Zero(t, n, "the step moved on after the watchdog's read")
			got := f.operation(op.ID)
			require.Equal(t, tre.StatusAwaitingDeployment, got.Steps[0].Status)

			require.Equal(t, Applied, f.status(got, 0, tre.StatusDeploying))
			require.Equal(t, Applied, f.status(got, 0, tre.StatusDeployed))
			require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status, "the real result is applied")
			require.Equal(t, tre.StatusDeployed, f.resource(got.ResourceID).DeploymentStatus)
		})
	}
}

// A claimed send that never finished (the process died while sending) no
// longer holds the watchdog off once MutationTimeout has passed.
func TestWatchdogFailsAStepWhoseSendDied(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.sent.fail = context.DeadlineExceeded
	_, op := f.createWorkspace(nil)
	claimed, err := f.svc.claimSend(ctx, op.ID, f.operation(op.ID).Steps[0])
	require.NoError(t, err)
	require.True(t, claimed)
	f.clock.advance(f.svc.cfg.DispatchLimit + f.svc.cfg.MutationTimeout + time.Second)
	n, err := f.svc.Watchdog(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Contains(t, f.operation(op.ID).Message, "could not be sent to the Resource Processor")
}

// An operation interrupted by a crash (its root change written, the rest
// not) is recovered once it is RecoverAfter old, and stops refusing other
// operations then; RecoverAfter follows the settings (the handler makes it
// twice the queue lock), not a fixed 5 minutes.
func TestCrashedOperationRecoveredAfterRecoverAfter(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	f.svc.cfg.MutationTimeout, f.svc.cfg.RecoverAfter = 5*time.Second, 10*time.Second
	svc, cs := f.crashAt(2) // the pending operation and the root's change, then the crash
	_, err := svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "x"}, ETag: ws.ETag, IfMatch: true, User: admin})
	require.True(t, cs.crashed, "the patch was interrupted: %v", err)
	// f.svc is the restarted process, on the same store.
	patch := func() error {
		_, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "y"}, ETag: f.resource(ws.ID).ETag, IfMatch: true, User: admin})
		return err
	}
	require.NoError(t, f.svc.Sweep(ctx))
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(patch()), "in progress until recovered")
	f.clock.advance(10 * time.Second)
	require.NoError(t, f.svc.Sweep(ctx))
	pending, err := tre.QueryAs[tre.Operation](ctx, f.store, tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("pending", true)}})
	require.NoError(t, err)
	require.Empty(t, pending, "recovered after RecoverAfter")
	require.NotZero(t, f.operation(f.resource(ws.ID).LastOperationID).Steps[0].DispatchedWhen, "and dispatched")
}

// A sensitive array shrunk by a patch: the references into the dropped
// items go with them (their secrets are deleted), and every later upgrade
// still resolves each reference it sends.
func TestSensitiveArrayShrinkThenPatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.register(registry.Kind{Type: tre.TypeWorkspace}, "ws-list", "1.0.0", schemaOf("List", map[string]any{
		"secret_list": map[string]any{"type": "array", "updateable": true, "items": map[string]any{"type": "string", "sensitive": true}},
		"colour":      map[string]any{"type": "string", "updateable": true},
	}, nil))
	r, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws-list", User: admin, Roles: admin.Roles,
		Properties: map[string]any{"display_name": "W", "description": "d", "secret_list": []any{"first-SECRET", "second-SECRET"}}})
	require.NoError(t, err)
	f.complete(op)
	before := f.resource(r.ID).SecretRefs
	require.Len(t, before, 2)

	patch := func(props map[string]any) {
		t.Helper()
		op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(r.ID), Properties: props, ETag: f.resource(r.ID).ETag, IfMatch: true, User: admin})
		require.NoError(t, err)
		f.complete(op)
		// Every reference the request carries points at a value it sends:
		// the processor puts each there ("is not in the request" otherwise).
		reqs := f.sent.requests(t)
		last := reqs[len(reqs)-1]
		for ptr := range last.SecretRefs {
			v, ok := tre.PointerGet(last.Parameters, ptr)
			require.True(t, ok, "reference %s is not in the request", ptr)
			require.Equal(t, tre.Redacted, v)
		}
	}
	// Keep the first (sent back as GET shows it), drop the second.
	patch(map[string]any{"secret_list": []any{tre.Redacted}})
	after := f.resource(r.ID).SecretRefs
	require.Equal(t, map[string]string{"/secret_list/0": before["/secret_list/0"]}, after)
	_, err = f.secrets.Get(ctx, before["/secret_list/1"])
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err), "the dropped value's secret is deleted")
	kept, err := f.secrets.Get(ctx, before["/secret_list/0"])
	require.NoError(t, err)
	require.Equal(t, `"first-SECRET"`, kept)

	patch(map[string]any{"colour": "blue"}) // a later upgrade
	patch(map[string]any{"secret_list": []any{}})
	require.Empty(t, f.resource(r.ID).SecretRefs)
	_, err = f.secrets.Get(ctx, before["/secret_list/0"])
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	patch(map[string]any{"secret_list": []any{"third-SECRET", "fourth-SECRET", "fifth-SECRET"}})
	require.Len(t, f.resource(r.ID).SecretRefs, 3)
	patch(map[string]any{"colour": "green"})
}
