package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// crashingStore passes calls to a store until `budget` writes have been
// made; from then on every call fails, as if the process had died.
type crashingStore struct {
	tre.Store
	mu      sync.Mutex
	budget  int
	crashed bool
}

var errCrashed = errors.New("crashed")

func (c *crashingStore) write() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed || c.budget <= 0 {
		c.crashed = true
		return tre.WrapError(tre.CodeUnavailable, errCrashed, "crashed")
	}
	c.budget--
	return nil
}

func (c *crashingStore) dead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return tre.WrapError(tre.CodeUnavailable, errCrashed, "crashed")
	}
	return nil
}

func (c *crashingStore) Create(ctx context.Context, col tre.Collection, d tre.Document) (tre.Document, error) {
	if err := c.write(); err != nil {
		return tre.Document{}, err
	}
	return c.Store.Create(ctx, col, d)
}

func (c *crashingStore) Replace(ctx context.Context, col tre.Collection, d tre.Document) (tre.Document, error) {
	if err := c.write(); err != nil {
		return tre.Document{}, err
	}
	return c.Store.Replace(ctx, col, d)
}

func (c *crashingStore) Delete(ctx context.Context, col tre.Collection, id, etag string) error {
	if err := c.write(); err != nil {
		return err
	}
	return c.Store.Delete(ctx, col, id, etag)
}

func (c *crashingStore) Get(ctx context.Context, col tre.Collection, id string) (tre.Document, error) {
	if err := c.dead(); err != nil {
		return tre.Document{}, err
	}
	return c.Store.Get(ctx, col, id)
}

func (c *crashingStore) Query(ctx context.Context, col tre.Collection, q tre.Query) ([]tre.Document, error) {
	if err := c.dead(); err != nil {
		return nil, err
	}
	return c.Store.Query(ctx, col, q)
}

// crashAt returns a service whose store dies after `writes` writes.
func (f *fixture) crashAt(writes int) (*Service, *crashingStore) {
	cs := &crashingStore{Store: f.store, budget: writes}
	return New(cs, f.reg, f.secrets, f.sent, f.svc.cfg, Options{Now: f.clock.now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}), cs
}

// restart recovers as a new process would, after the recovery age.
func (f *fixture) restart(t *testing.T) {
	t.Helper()
	f.clock.advance(f.svc.cfg.RecoverAfter + 1)
	_, _, err := f.svc.recoverPending(context.Background())
	require.NoError(t, err)
	_, err = f.svc.releaseOrphanAddresses(context.Background())
	require.NoError(t, err)
	_, err = f.svc.redeliverDue(context.Background())
	require.NoError(t, err)
}

func TestCrashDuringCreate(t *testing.T) {
	for writes := 0; ; writes++ {
		f := newFixture(t)
		svc, cs := f.crashAt(writes)
		_, op, err := svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: admin,
			Properties: map[string]any{"display_name": "W", "description": "d"}})
		if err == nil && !cs.crashed {
			require.False(t, f.operation(op.ID).Pending)
			t.Logf("create makes %d writes; every crash point checked", writes)
			return
		}
		f.restart(t)
		ops, err := tre.QueryAs[tre.Operation](context.Background(), f.store, tre.Operations, tre.Query{})
		require.NoError(t, err)
		res, err := tre.QueryAs[tre.Resource](context.Background(), f.store, tre.Resources, tre.Query{})
		require.NoError(t, err)
		require.Equal(t, len(ops), len(res), "crash after write %d: an operation without its resource or the reverse", writes)
		for _, o := range ops {
			require.False(t, o.Pending, "crash after write %d: still pending after recovery", writes)
		}
		if len(res) == 1 {
			require.NotZero(t, ops[0].Steps[0].DispatchedWhen, "crash after write %d: recovered but never dispatched", writes)
			require.Equal(t, ops[0].ID, res[0].LastOperationID)
		}
		// An allocation only for an existing workspace.
		require.Len(t, f.allocations(), len(res), "crash after write %d: address space leaked", writes)
		if writes > 20 {
			t.Fatal("create never succeeded")
		}
	}
}

func TestCrashDuringCascadingDisable(t *testing.T) {
	for writes := 0; ; writes++ {
		f := newFixture(t)
		ctx := context.Background()
		ws := f.deployedWorkspace()
		var children []string
		for range 2 {
			svc, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "plain-svc",
				Properties: map[string]any{"display_name": "S", "description": "d"}, User: owner})
			require.NoError(t, err)
			f.complete(op)
			children = append(children, svc.ID)
		}
		ws = f.resource(ws.ID)
		historyBefore := f.count(tre.ResourceHistory)

		crashing, cs := f.crashAt(writes)
		off := false
		op, err := crashing.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), IsEnabled: &off, ETag: ws.ETag, IfMatch: true, User: admin})
		if err == nil && !cs.crashed {
			require.False(t, f.operation(op.ID).Pending)
			t.Logf("a cascading disable of 3 resources makes %d writes; every crash point checked", writes)
			return
		}
		f.restart(t)
		root := f.resource(ws.ID)
		if root.IsEnabled {
			// Nothing happened: no child changed, no history, no operation left.
			for _, c := range children {
				require.True(t, f.resource(c).IsEnabled, "crash after write %d: a child changed without its root", writes)
			}
			require.Equal(t, historyBefore, f.count(tre.ResourceHistory), "crash after write %d", writes)
			busy, err := tre.QueryAs[tre.Operation](ctx, f.store, tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("action", "upgrade")}})
			require.NoError(t, err)
			require.Empty(t, busy, "crash after write %d: an operation without its change", writes)
			continue
		}
		// The root changed: the whole operation happened and was dispatched.
		for _, c := range children {
			require.False(t, f.resource(c).IsEnabled, "crash after write %d: root disabled, child not", writes)
		}
		require.Equal(t, historyBefore+3, f.count(tre.ResourceHistory), "crash after write %d: history incomplete", writes)
		o := f.operation(root.LastOperationID)
		require.False(t, o.Pending)
		require.NotZero(t, o.Steps[0].DispatchedWhen)
		require.Len(t, o.Steps, 3)
		if writes > 40 {
			t.Fatal("patch never succeeded")
		}
	}
}
