package deadletter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// retries records the operations the service retries.
type retries struct{ ops []string }

func (r *retries) Retry(_ context.Context, _ *tre.Resource, opID string, _ tre.User) (*tre.Operation, error) {
	r.ops = append(r.ops, opID)
	return &tre.Operation{ID: opID}, nil
}

var admin = tre.User{ID: "admin-1", Name: "admin", Roles: []string{"TREAdmin"}}

type fixture struct {
	store   *sqlite.Store
	queue   *sqlite.Queue
	retries *retries
	s       *deadletter.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	q := sqlite.NewQueue(db, sqlite.QueueOptions{LockDuration: 5 * time.Second, MaxDeliveryCount: 3})
	t.Cleanup(func() { q.Close() })
	st := sqlite.NewStore(db)
	r := &retries{}
	return &fixture{store: st, queue: q, retries: r, s: deadletter.New(st, q, r, deadletter.Options{})}
}

// deadLetter sends a message and dead-letters it; it returns its id.
func (f *fixture) deadLetter(t *testing.T, queue, session string, body string) string {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, f.queue.Send(ctx, queue, tre.Message{MessageID: session + "-m", SessionID: session, Body: []byte(body)}))
	sess, err := f.queue.AcceptNextSession(ctx, queue)
	require.NoError(t, err)
	msgs, err := sess.Receive(ctx, 1)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, sess.DeadLetter(ctx, msgs[0], "Test", "by the test"))
	require.NoError(t, sess.Close(ctx))
	return fmt.Sprint(msgs[0].SequenceNumber)
}

func TestListShowsBothQueuesAndRejectedMessages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	req := f.deadLetter(t, tre.QueueRequests, "res-1", `{"operationId":"op-1","stepId":"st-1","id":"res-1"}`)
	f.deadLetter(t, tre.QueueStatus, "op-2", `{"operationId":"op-2","stepId":"st-2","id":"res-2"}`)
	m := deadletter.RejectedMessage{Queue: tre.QueueStatus, MessageID: "m-3", SessionID: "op-3", Reason: "unknown operation",
		OperationID: "op-3", Body: `{"operationId":"op-3","stepId":"st-3","id":"res-3"}`}
	require.NoError(t, f.s.Reject(ctx, m))
	require.NoError(t, f.s.Reject(ctx, m), "a redelivered refusal is recorded once")

	list, err := f.s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, []string{tre.QueueRequests, tre.QueueStatus, deadletter.QueueRejected}, []string{list[0].Queue, list[1].Queue, list[2].Queue})
	require.Equal(t, req, list[0].ID)
	require.Equal(t, "op-1", list[0].OperationID)
	require.Equal(t, "st-1", list[0].StepID)
	require.Equal(t, "res-1", list[0].ResourceID)
	require.Equal(t, "Test", list[0].Reason)
	require.Equal(t, "st-3", list[2].StepID, "read from the refused body")
	require.Equal(t, "unknown operation", list[2].Reason)

	// A refused message would be refused again: it can only be discarded.
	err = f.s.Replay(ctx, deadletter.QueueRejected, list[2].ID, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.NoError(t, f.s.Discard(ctx, deadletter.QueueRejected, list[2].ID, admin))
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(f.s.Discard(ctx, deadletter.QueueRejected, list[2].ID, admin)))

	// A status message goes back to its queue.
	require.NoError(t, f.s.Replay(ctx, tre.QueueStatus, list[1].ID, admin))
	sess, err := f.queue.AcceptNextSession(ctx, tre.QueueStatus)
	require.NoError(t, err)
	require.Equal(t, "op-2", sess.ID())
	require.NoError(t, sess.Close(ctx))
}

func TestReplayOfAFailedRequestRetriesItsOperation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := &tre.Resource{ID: "res-1", ResourceType: tre.TypeWorkspace}
	_, err := tre.CreateAs(ctx, f.store, tre.Resources, r.ID, r)
	require.NoError(t, err)
	op := &tre.Operation{ID: "op-1", ResourceID: r.ID, Steps: []tre.OperationStep{{ID: "st-1", ResourceID: r.ID, Status: tre.StatusDeploymentFailed}}}
	_, err = tre.CreateAs(ctx, f.store, tre.Operations, op.ID, op)
	require.NoError(t, err)
	id := f.deadLetter(t, tre.QueueRequests, "res-1", `{"operationId":"op-1","stepId":"st-1","id":"res-1"}`)

	require.NoError(t, f.s.Replay(ctx, tre.QueueRequests, id, admin))
	require.Equal(t, []string{"op-1"}, f.retries.ops, "the watchdog had failed the step: the operation is retried")
	list, err := f.s.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list, "and the dead letter is gone")

	// Of an operation that no longer exists: discard it instead.
	id = f.deadLetter(t, tre.QueueRequests, "res-9", `{"operationId":"op-9","stepId":"st-9","id":"res-9"}`)
	err = f.s.Replay(ctx, tre.QueueRequests, id, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(f.s.Replay(ctx, tre.QueueRequests, "12345", admin)))
}

// Junk posted again and again cannot grow the store without limit: past
// MaxRejected a refused message is logged, not kept.
func TestRejectedMessagesAreCapped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	s := deadletter.New(f.store, f.queue, f.retries, deadletter.Options{MaxRejected: 5, Now: now})
	for i := range 12 {
		require.NoError(t, s.Reject(ctx, deadletter.RejectedMessage{Queue: tre.QueueStatus, MessageID: fmt.Sprint("junk-", i), Reason: "junk", Body: "x"}))
	}
	kept, err := s.Rejected(ctx)
	require.NoError(t, err)
	require.Len(t, kept, 5)
	require.Equal(t, "junk-0", kept[0].MessageID, "the first ones are kept")
	require.NoError(t, s.Discard(ctx, deadletter.QueueRejected, kept[0].ID, admin))
	require.NoError(t, s.Reject(ctx, deadletter.RejectedMessage{Queue: tre.QueueStatus, MessageID: "after-discard", Reason: "junk"}))
	kept, err = s.Rejected(ctx)
	require.NoError(t, err)
	require.Len(t, kept, 5)
	require.Equal(t, "after-discard", kept[4].MessageID, "a discard makes room")
}
