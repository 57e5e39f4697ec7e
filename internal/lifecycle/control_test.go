package lifecycle

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func (r *recorder) cancels(t *testing.T) []tre.CancelRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []tre.CancelRequest
	for _, m := range r.msgs {
		if m.Subject == tre.SubjectCancel {
			var c tre.CancelRequest
			require.NoError(t, json.Unmarshal(m.Body, &c))
			out = append(out, c)
		}
	}
	return out
}

func TestRetryFromTheFailedStep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, op := f.createWorkspace(nil)
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeploymentFailed)
	require.Equal(t, tre.StatusDeploymentFailed, f.resource(ws.ID).DeploymentStatus)
	first := f.operation(op.ID).Steps[0]

	// Two retries at once: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Retry(ctx, f.resource(ws.ID), op.ID, admin)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
		}
	}
	require.Equal(t, 1, wins)

	got := f.operation(op.ID)
	require.Equal(t, tre.StatusAwaitingDeployment, got.Status)
	require.Equal(t, 2, got.Steps[0].Attempt)
	require.Len(t, got.Attempts, 2)
	require.Equal(t, tre.StatusDeploymentFailed, got.Attempts[0].Outcome)
	require.Equal(t, admin.ID, got.Attempts[1].StartedBy.ID)
	require.Equal(t, tre.StatusAwaitingDeployment, f.resource(ws.ID).DeploymentStatus)

	// The retry's request is a new message (attempt 2), not a duplicate.
	reqs := f.sent.requests(t)
	last := reqs[len(reqs)-1]
	require.Equal(t, 2, last.Attempt)
	f.sent.mu.Lock()
	require.Equal(t, first.ID+":2", f.sent.msgs[len(f.sent.msgs)-1].MessageID)
	f.sent.mu.Unlock()

	// A late report of the first attempt changes nothing.
	out, err := f.svc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: op.ID, StepID: first.ID, ID: ws.ID, Attempt: 1, Status: tre.StatusDeployed})
	require.NoError(t, err)
	require.Equal(t, Ignored, out)
	_, err = f.svc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: op.ID, StepID: first.ID, ID: ws.ID, Attempt: 2, Status: tre.StatusDeployed})
	require.NoError(t, err)
	got = f.operation(op.ID)
	require.Equal(t, tre.StatusDeployed, got.Status)
	require.Equal(t, tre.StatusDeployed, got.Attempts[1].Outcome)
	require.NotZero(t, got.Attempts[1].EndedWhen)

	_, err = f.svc.Retry(ctx, f.resource(ws.ID), op.ID, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err), "a deployed operation is not retried")
}

func TestRetryOnlyTheLatestOperation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, op := f.createWorkspace(nil)
	f.status(op, 0, tre.StatusDeploymentFailed)
	r := f.resource(ws.ID)
	off := false
	_, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), IsEnabled: &off, ETag: r.ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	_, err = f.svc.Retry(ctx, f.resource(ws.ID), op.ID, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), "Only the latest operation")
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()

	// Not yet sent: withdrawn at once.
	f.sent.fail = context.DeadlineExceeded
	r := f.resource(ws.ID)
	op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), ETag: r.ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	f.sent.fail = nil
	got, err := f.svc.Cancel(ctx, f.resource(ws.ID), op.ID, owner)
	require.NoError(t, err)
	require.Equal(t, tre.StatusUpdatingFailed, got.Status)
	require.Equal(t, "cancelled by owner (owner-1) before it was sent", got.Message)
	n, err := f.svc.redeliverDue(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a withdrawn step is never sent")

	// Running: the processor is asked to stop, on the resource's session.
	r = f.resource(ws.ID)
	op, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), ETag: r.ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	f.status(op, 0, tre.StatusUpdating)
	got, err = f.svc.Cancel(ctx, f.resource(ws.ID), op.ID, admin)
	require.NoError(t, err)
	require.Equal(t, tre.StatusUpdating, got.Status, "still running until the processor stops it")
	require.NotNil(t, got.Steps[0].CancelRequested)
	cancels := f.sent.cancels(t)
	require.Len(t, cancels, 1)
	require.Equal(t, got.Steps[0].ID, cancels[0].StepID)
	// The processor confirms.
	_, err = f.svc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: op.ID, StepID: got.Steps[0].ID, ID: ws.ID, Attempt: 1,
		Status: tre.StatusUpdatingFailed, Message: "cancelled by admin (admin-1)"})
	require.NoError(t, err)
	require.Equal(t, tre.StatusUpdatingFailed, f.operation(op.ID).Status)
	_, err = f.svc.Cancel(ctx, f.resource(ws.ID), op.ID, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
}

func TestForceFail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, op := f.createWorkspace(nil)
	f.status(op, 0, tre.StatusDeploying)
	_, err := f.svc.ForceFail(ctx, f.resource(ws.ID), op.ID, " ", admin)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	got, err := f.svc.ForceFail(ctx, f.resource(ws.ID), op.ID, "the VM was deleted by hand", admin)
	require.NoError(t, err)
	require.Equal(t, tre.StatusDeploymentFailed, got.Status)
	require.Equal(t, "failed by admin (admin-1): the VM was deleted by hand", got.Message)
	require.Equal(t, tre.StatusDeploymentFailed, f.resource(ws.ID).DeploymentStatus)
	require.Len(t, f.sent.cancels(t), 1, "a processor still running it is told to stop")
}

func TestWatchdog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	limits := f.svc.cfg

	// Sent, never picked up.
	_, picked := f.createWorkspace(nil)
	// Running, then silent.
	_, silent := f.createWorkspace(nil)
	f.status(silent, 0, tre.StatusDeploying)
	// Never sent: the queue is down.
	f.sent.fail = context.DeadlineExceeded
	_, unsent := f.createWorkspace(nil)
	f.sent.fail = nil
	// Running and reporting: left alone.
	_, healthy := f.createWorkspace(nil)
	f.status(healthy, 0, tre.StatusDeploying)

	n, err := f.svc.Watchdog(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is late yet")

	f.clock.advance(limits.HeartbeatLimit + time.Second)
	f.status(healthy, 0, tre.StatusDeploying) // a heartbeat
	n, err = f.svc.Watchdog(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Contains(t, f.operation(silent.ID).Message, "stopped reporting on the step: last heartbeat at")

	f.clock.advance(limits.DispatchLimit)
	f.status(healthy, 0, tre.StatusDeploying)
	n, err = f.svc.Watchdog(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Contains(t, f.operation(unsent.ID).Message, "could not be sent to the Resource Processor")

	f.clock.advance(limits.PickupLimit)
	f.status(healthy, 0, tre.StatusDeploying)
	n, err = f.svc.Watchdog(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Contains(t, f.operation(picked.ID).Message, "No Resource Processor picked up the step within")
	require.Equal(t, tre.StatusDeploying, f.operation(healthy.ID).Status)
	for _, id := range []string{picked.ID, silent.ID, unsent.ID} {
		require.Equal(t, tre.StatusDeploymentFailed, f.operation(id).Status)
	}
}
