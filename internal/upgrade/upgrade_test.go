package upgrade_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
	"github.com/tre-go/tre/internal/upgrade"
)

var admin = tre.User{ID: "admin-id", Name: "admin", Roles: []string{"TREAdmin"}}

type env struct {
	t     *testing.T
	store tre.Store
	reg   *registry.Registry
	lc    *lifecycle.Service
	up    *upgrade.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st := sqlite.NewStore(db)
	q := sqlite.NewQueue(db, sqlite.QueueOptions{LockDuration: 5 * time.Second, MaxDeliveryCount: 3})
	t.Cleanup(func() { q.Close() })
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	reg := registry.New(st, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lc := lifecycle.New(st, reg, sec, q, lifecycle.Config{TREID: "tre1", AddressSpace: cidr.MustParse("10.0.0.0/12"),
		CoreAddressSpace: cidr.MustParse("10.1.0.0/22")}, lifecycle.Options{Log: log})
	e := &env{t: t, store: st, reg: reg, lc: lc, up: upgrade.New(st, lc, upgrade.Config{Holder: "test"}, upgrade.Options{Log: log})}
	return e
}

func (e *env) register(version string, props map[string]any, required ...string) {
	e.t.Helper()
	s := map[string]any{"title": "ws", "description": "ws", "type": "object", "properties": props}
	if len(required) > 0 {
		req := []any{}
		for _, r := range required {
			req = append(req, r)
		}
		s["required"] = req
	}
	_, err := e.reg.Register(context.Background(), registry.Kind{Type: tre.TypeWorkspace},
		registry.Registration{Name: "ws", Version: version, JSONSchema: s}, admin)
	require.NoError(e.t, err)
}

// finish drives an operation's steps to success or failure.
func (e *env) finish(opID string, ok bool) {
	e.t.Helper()
	ctx := context.Background()
	op, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, opID)
	require.NoError(e.t, err)
	for _, st := range op.Steps {
		s := tre.StatusesFor(st.ResourceAction)
		end := s.Succeeded
		if !ok {
			end = s.Failed
		}
		for _, status := range []tre.Status{s.Running, end} {
			_, err := e.lc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: opID, StepID: st.ID, ID: st.ResourceID, Status: status, Message: "bundle says " + string(status)})
			require.NoError(e.t, err)
		}
		if !ok {
			return
		}
	}
}

func (e *env) workspace(props map[string]any) *tre.Resource {
	e.t.Helper()
	p := map[string]any{"display_name": "w", "description": "d"}
	for k, v := range props {
		p[k] = v
	}
	r, op, err := e.lc.Create(context.Background(), lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", Properties: p, User: admin, Roles: admin.Roles})
	require.NoError(e.t, err)
	e.finish(op.ID, true)
	return r
}

func (e *env) batch(id string) *upgrade.Batch {
	e.t.Helper()
	b, err := e.up.Get(context.Background(), id)
	require.NoError(e.t, err)
	return b
}

func (e *env) advance() {
	e.t.Helper()
	require.NoError(e.t, e.up.Advance(context.Background()))
}

func TestPlanSaysWhatAndWhy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	props := map[string]any{"size": map[string]any{"type": "string"}}
	e.register("1.0.0", props)
	var ok []*tre.Resource
	for i := 0; i < 3; i++ {
		ok = append(ok, e.workspace(nil))
	}
	disabled := e.workspace(nil)
	off := false
	op, err := e.lc.Patch(ctx, lifecycle.PatchRequest{Ref: lifecycle.WorkspaceRef(disabled.ID), IsEnabled: &off, ETag: getRes(t, e, disabled.ID).ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	e.finish(op.ID, true)
	busy := e.workspace(nil)
	_, err = e.lc.Patch(ctx, lifecycle.PatchRequest{Ref: lifecycle.WorkspaceRef(busy.ID), Properties: map[string]any{}, IsEnabled: new(bool), ETag: getRes(t, e, busy.ID).ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	badSize := e.workspace(map[string]any{"size": "huge"})

	// 1.1.0 allows only small or large sizes.
	e.register("1.1.0", map[string]any{"size": map[string]any{"type": "string", "enum": []any{"small", "large"}}})
	e.register("2.0.0", props)

	plan, err := e.up.Plan(ctx, upgrade.Request{TemplateName: "ws", ToVersion: "1.1.0"})
	require.NoError(t, err)
	require.Equal(t, 6, plan.Summary.Total)
	require.Equal(t, 3, plan.Summary.Upgrade)
	require.Equal(t, map[string]int{"disabled": 1, "operation-in-progress": 1, "invalid-properties": 1}, plan.Summary.Skipped)
	byID := map[string]upgrade.Item{}
	for _, it := range plan.Items {
		byID[it.ResourceID] = it
		require.Equal(t, "1.0.0", it.FromVersion)
		require.Equal(t, "/workspaces/"+it.ResourceID, it.ResourcePath)
	}
	for _, r := range ok {
		require.Equal(t, upgrade.ActionUpgrade, byID[r.ID].Action)
	}
	require.Contains(t, byID[badSize.ID].Reason, "properties.size")
	require.Contains(t, byID[busy.ID].Reason, "is in progress")

	// A major version needs force.
	plan, err = e.up.Plan(ctx, upgrade.Request{TemplateName: "ws", ToVersion: "2.0.0", FromVersions: upgrade.Versions{Range: ">=1.0.0 <1.1.0"}})
	require.NoError(t, err)
	require.Equal(t, 0, plan.Summary.Upgrade)
	require.Equal(t, 4, plan.Summary.Skipped["major-version"])
	require.Equal(t, 1, plan.Summary.Skipped["operation-in-progress"])
	plan, err = e.up.Plan(ctx, upgrade.Request{TemplateName: "ws", ToVersion: "2.0.0", Force: true, WorkspaceIDs: []string{ok[0].ID}})
	require.NoError(t, err)
	require.Equal(t, 1, plan.Summary.Total)
	require.Equal(t, 1, plan.Summary.Upgrade)

	// Nothing changed.
	for _, r := range ok {
		require.Equal(t, "1.0.0", getRes(t, e, r.ID).TemplateVersion)
	}
	_, err = e.up.Plan(ctx, upgrade.Request{TemplateName: "", ToVersion: "x", FromVersions: upgrade.Versions{Range: "~1"}, MaxConcurrent: 99})
	require.True(t, tre.IsCode(err, tre.CodeInvalid))
	for _, f := range []string{"templateName", "toVersion", "fromVersions", "maxConcurrent"} {
		require.Contains(t, tre.ErrorMessage(err), f)
	}
}

func getRes(t *testing.T, e *env, id string) *tre.Resource {
	t.Helper()
	r, err := tre.GetAs[tre.Resource](context.Background(), e.store, tre.Resources, id)
	require.NoError(t, err)
	return r
}

func TestApplyRunsAtMostMaxConcurrentAndPausesAfterFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("1.0.0", nil)
	for i := 0; i < 5; i++ {
		e.workspace(nil)
	}
	e.register("1.1.0", nil)
	b, err := e.up.Apply(ctx, upgrade.Request{TemplateName: "ws", ToVersion: "1.1.0", MaxConcurrent: 2, StopAfterFailures: 2}, admin)
	require.NoError(t, err)
	require.Equal(t, upgrade.BatchRunning, b.Status)
	require.Equal(t, 5, b.Counts.Pending)

	e.advance()
	b = e.batch(b.ID)
	require.Equal(t, 2, b.Counts.Running)
	require.Equal(t, 3, b.Counts.Pending)
	running := func(b *upgrade.Batch) []upgrade.Item {
		var out []upgrade.Item
		for _, it := range b.Items {
			if it.Status == upgrade.ItemRunning {
				out = append(out, it)
			}
		}
		return out
	}
	// One succeeds, one fails: two more start (room for 2).
	r := running(b)
	e.finish(r[0].OperationID, true)
	e.finish(r[1].OperationID, false)
	e.advance()
	b = e.batch(b.ID)
	require.Equal(t, upgrade.Counts{Pending: 1, Running: 2, Succeeded: 1, Failed: 1}, b.Counts)
	require.Equal(t, "1.1.0", getRes(t, e, r[0].ResourceID).TemplateVersion)
	// Its history shows the upgrade.
	hist, err := e.lc.History(ctx, getRes(t, e, r[0].ResourceID))
	require.NoError(t, err)
	require.Equal(t, "1.0.0", hist[len(hist)-1].TemplateVersion)

	// A second failure pauses it: the last pending one waits.
	r = running(b)
	e.finish(r[0].OperationID, false)
	e.advance()
	b = e.batch(b.ID)
	require.Equal(t, upgrade.BatchPaused, b.Status)
	require.Contains(t, b.StatusMessage, "paused after 2 failed upgrade(s)")
	e.finish(r[1].OperationID, true)
	e.advance()
	b = e.batch(b.ID)
	require.Equal(t, upgrade.Counts{Pending: 1, Succeeded: 2, Failed: 2}, b.Counts, "running ones finish while paused")
	require.True(t, b.Active)
	e.advance()
	require.Equal(t, b.ETag, e.batch(b.ID).ETag, "a round that changes nothing writes nothing")

	_, err = e.up.Pause(ctx, b.ID, admin)
	require.True(t, tre.IsCode(err, tre.CodeConflict))
	_, err = e.up.Resume(ctx, b.ID, admin)
	require.NoError(t, err)
	e.advance()
	b = e.batch(b.ID)
	r = running(b)
	require.Len(t, r, 1)
	e.finish(r[0].OperationID, true)
	e.advance()
	b = e.batch(b.ID)
	require.Equal(t, upgrade.BatchCompleted, b.Status)
	require.False(t, b.Active)
	require.Equal(t, upgrade.Counts{Succeeded: 3, Failed: 2}, b.Counts)
	for _, it := range b.Items {
		require.NotEmpty(t, it.OperationID)
		if it.Status == upgrade.ItemFailed {
			require.Contains(t, it.Message, "bundle says updating_failed")
		}
	}
}

func TestCrashBetweenMarkAndRecordIsAdoptedOrRestarted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("1.0.0", nil)
	a, c := e.workspace(nil), e.workspace(nil)
	e.register("1.1.0", nil)
	b, err := e.up.Apply(ctx, upgrade.Request{TemplateName: "ws", ToVersion: "1.1.0"}, admin)
	require.NoError(t, err)

	// As if a handler died mid-round: both items marked starting; a's
	// upgrade was requested, c's was not.
	now := tre.Timestamp(time.Now())
	doc, err := tre.GetAs[upgrade.Batch](ctx, e.store, tre.UpgradeBatches, b.ID)
	require.NoError(t, err)
	for i := range doc.Items {
		doc.Items[i].Status, doc.Items[i].StartedWhen = upgrade.ItemStarting, now
	}
	_, err = tre.ReplaceAs(ctx, e.store, tre.UpgradeBatches, doc.ID, doc.ETag, doc)
	require.NoError(t, err)
	v := "1.1.0"
	op, err := e.lc.Patch(ctx, lifecycle.PatchRequest{Ref: lifecycle.WorkspaceRef(a.ID), TemplateVersion: &v, ETag: getRes(t, e, a.ID).ETag, IfMatch: true, User: admin})
	require.NoError(t, err)

	e.advance()
	b = e.batch(b.ID)
	ops := map[string]string{}
	for _, it := range b.Items {
		require.Equal(t, upgrade.ItemRunning, it.Status, it.ResourceID)
		ops[it.ResourceID] = it.OperationID
	}
	require.Equal(t, op.ID, ops[a.ID], "adopted, not run twice")
	require.NotEmpty(t, ops[c.ID])
	e.finish(ops[a.ID], true)
	e.finish(ops[c.ID], true)
	e.advance()
	require.Equal(t, upgrade.BatchCompleted, e.batch(b.ID).Status)
}

func TestCancelStopsWhatHasNotStarted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("1.0.0", nil)
	for i := 0; i < 3; i++ {
		e.workspace(nil)
	}
	e.register("1.1.0", nil)
	b, err := e.up.Apply(ctx, upgrade.Request{TemplateName: "ws", ToVersion: "1.1.0", MaxConcurrent: 1}, admin)
	require.NoError(t, err)
	e.advance()
	b, err = e.up.Cancel(ctx, b.ID, admin)
	require.NoError(t, err)
	require.Equal(t, upgrade.BatchCancelled, b.Status)
	require.Equal(t, 2, b.Counts.Cancelled)
	require.Equal(t, 1, b.Counts.Running)
	require.True(t, b.Active)
	for _, it := range b.Items {
		if it.Status == upgrade.ItemRunning {
			e.finish(it.OperationID, true)
		}
	}
	e.advance()
	b = e.batch(b.ID)
	require.Equal(t, upgrade.BatchCancelled, b.Status)
	require.False(t, b.Active)
	require.Equal(t, 1, b.Counts.Succeeded)
	_, err = e.up.Resume(ctx, b.ID, admin)
	require.True(t, tre.IsCode(err, tre.CodeConflict))
}
