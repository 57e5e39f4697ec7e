package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// TestInOneTransaction runs the lifecycle's tests again with the store
// and queue's shared transactions (Options.Atomic, the embedded adapters):
// the same behaviour, fewer commits. The crash tests are not among them:
// a transaction is all or nothing by the database's own guarantee.
func TestInOneTransaction(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"CreateInstallAndOutputs", TestCreateInstallAndOutputs},
		{"StatusValidation", TestStatusValidation},
		{"ChildrenNeedDeployedEnabledParents", TestChildrenNeedDeployedEnabledParents},
		{"PatchETagsAndHistory", TestPatchETagsAndHistory},
		{"DisableCascadeAndDelete", TestDisableCascadeAndDelete},
		{"FailedInstallCanBeDisabledAndDeleted", TestFailedInstallCanBeDisabledAndDeleted},
		{"PipelineStepOnSharedService", TestPipelineStepOnSharedService},
		{"UpgradeRulesAndAvailableUpgrades", TestUpgradeRulesAndAvailableUpgrades},
		{"InvokeAction", TestInvokeAction},
		{"ConcurrentWorkspaceCreationsGetDistinctAddressSpaces", TestConcurrentWorkspaceCreationsGetDistinctAddressSpaces},
		{"CustomAddressSpace", TestCustomAddressSpace},
		{"DispatchFailureIsRedelivered", TestDispatchFailureIsRedelivered},
		{"DeletedResourceKeepsItsRecords", TestDeletedResourceKeepsItsRecords},
		{"OneCommitPerCreateAndReport", testOneCommitPerCreateAndReport},
		{"OutcomesToldAfterTheCommit", testOutcomesToldAfterTheCommit},
		{"OutcomeRecordedInTheSameCommit", testOutcomeRecordedInTheSameCommit},
		{"StatusesRunAhead", testStatusesRunAhead},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// testOneCommitPerCreateAndReport: a create is one commit with its first
// message and nothing pending; each report is one more.
func testOneCommitPerCreateAndReport(t *testing.T) {
	f := newFixture(t)
	require.NotNil(t, f.atomic, "run under TestInOneTransaction")
	writes := &countingStore{Store: f.store}
	f.svc.store = writes
	_, op := f.createWorkspace(nil)
	require.Equal(t, 1, f.atomic.count(), "one transaction")
	require.Zero(t, writes.n, "no write outside it")
	stored := f.operation(op.ID)
	require.False(t, stored.Pending)
	require.Empty(t, stored.Changes)
	require.NotZero(t, stored.Steps[0].DispatchedWhen)
	require.Len(t, f.sent.requests(t), 1)

	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed)
	require.Equal(t, 3, f.atomic.count())
	require.Zero(t, writes.n)
	require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status)
}

// countingStore counts the writes made through it.
type countingStore struct {
	tre.Store
	n int
}

func (c *countingStore) Create(ctx context.Context, col tre.Collection, d tre.Document) (tre.Document, error) {
	c.n++
	return c.Store.Create(ctx, col, d)
}

func (c *countingStore) Replace(ctx context.Context, col tre.Collection, d tre.Document) (tre.Document, error) {
	c.n++
	return c.Store.Replace(ctx, col, d)
}

func (c *countingStore) Delete(ctx context.Context, col tre.Collection, id, etag string) error {
	c.n++
	return c.Store.Delete(ctx, col, id, etag)
}

// storingOutcomes writes a document for each ended operation, as the audit
// trail and the upgrade runner do, through the store outside any
// transaction.
type storingOutcomes struct {
	store tre.Store
	errs  []error
}

func (o *storingOutcomes) OperationEnded(ctx context.Context, op tre.Operation) {
	_, err := tre.CreateAs(ctx, o.store, tre.AuditRecords, "ended-"+op.ID, map[string]any{"id": "ended-" + op.ID})
	o.errs = append(o.errs, err)
}

// testOutcomesToldAfterTheCommit: the end of an operation is told once its
// report has committed, so that what the listeners write is not refused
// (a write beside an open SQLite transaction would deadlock).
func testOutcomesToldAfterTheCommit(t *testing.T) {
	f := newFixture(t)
	require.NotNil(t, f.atomic, "run under TestInOneTransaction")
	ended := &storingOutcomes{store: f.store}
	f.svc.outcomes = ended
	_, op := f.createWorkspace(nil)
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed)
	require.Len(t, ended.errs, 1, "told once")
	require.NoError(t, ended.errs[0])
	_, err := f.store.Get(context.Background(), tre.AuditRecords, "ended-"+op.ID)
	require.NoError(t, err, "the listener's write is stored")
}

// recordingOutcomes records each ended operation through the store it is
// given, as the audit trail does; fail makes the write fail.
type recordingOutcomes struct {
	fail  error
	after int
}

func (o *recordingOutcomes) RecordEnded(ctx context.Context, store tre.Store, op tre.Operation) (func(), error) {
	if o.fail != nil {
		return nil, o.fail
	}
	if _, err := tre.CreateAs(ctx, store, tre.AuditRecords, "ended-"+op.ID, map[string]any{"id": "ended-" + op.ID}); err != nil {
		return nil, err
	}
	return func() { o.after++ }, nil
}

// testOutcomeRecordedInTheSameCommit: the record of an ended operation is
// written in the commit of the report that ended it (one commit per
// report still, none beside it), its after-work runs once committed, and
// a record that cannot be written fails the report: nothing of it is
// kept, and it can be delivered again.
func testOutcomeRecordedInTheSameCommit(t *testing.T) {
	f := newFixture(t)
	require.NotNil(t, f.atomic, "run under TestInOneTransaction")
	rec := &recordingOutcomes{fail: errors.New("the audit container is gone")}
	f.svc.records = rec
	writes := &countingStore{Store: f.store}
	_, op := f.createWorkspace(nil)
	f.svc.store = writes
	f.status(op, 0, tre.StatusDeploying)
	step := f.operation(op.ID).Steps[0]
	_, err := f.svc.ApplyStatus(context.Background(), tre.StatusUpdate{OperationID: op.ID, StepID: step.ID, ID: step.ResourceID,
		Status: tre.StatusDeployed, Message: "done"})
	require.ErrorContains(t, err, "the audit container is gone")
	require.Equal(t, tre.StatusDeploying, f.operation(op.ID).Status, "the report was rolled back")
	_, err = f.store.Get(context.Background(), tre.AuditRecords, "ended-"+op.ID)
	require.True(t, tre.IsCode(err, tre.CodeNotFound))

	rec.fail = nil
	before := f.atomic.count()
	f.status(op, 0, tre.StatusDeployed)
	require.Equal(t, before+1, f.atomic.count(), "one commit")
	require.Zero(t, writes.n, "no write beside it")
	require.Equal(t, 1, rec.after, "after-work once, after the commit")
	_, err = f.store.Get(context.Background(), tre.AuditRecords, "ended-"+op.ID)
	require.NoError(t, err)
	require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status)
}

// testStatusesRunAhead: a report runs ahead of the writer (tre.Ahead) and
// its plan is applied as it was made, fn run once; a report for an
// unknown step fails as it does in the writer.
func testStatusesRunAhead(t *testing.T) {
	f := newFixture(t)
	require.NotNil(t, f.atomic, "run under TestInOneTransaction")
	_, op := f.createWorkspace(nil)
	before := f.atomic.q.AheadStats()
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed)
	after := f.atomic.q.AheadStats()
	require.Equal(t, before.Applied+2, after.Applied, "both reports applied from their plans")
	require.Equal(t, before.Reran, after.Reran)
	require.Equal(t, 2, f.atomic.ahead)
	stored := f.operation(op.ID)
	require.Equal(t, tre.StatusDeployed, stored.Status)
	require.Equal(t, tre.StatusDeployed, f.resource(stored.ResourceID).DeploymentStatus)

	_, err := f.svc.ApplyStatus(context.Background(), tre.StatusUpdate{OperationID: op.ID, StepID: "no-such-step", ID: stored.ResourceID,
		Status: tre.StatusDeployed})
	require.True(t, tre.IsCode(err, tre.CodeNotFound), "%v", err)
	require.Equal(t, after.Unplanned+1, f.atomic.q.AheadStats().Unplanned, "a failing fn runs again in the writer")
}
