package lifecycle

import (
	"context"
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
