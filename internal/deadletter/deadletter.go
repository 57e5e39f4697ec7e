// Package deadletter is the admins' view of the messages nothing will
// process: the dead letters of both queues, and the status messages the
// control plane refused (kept with the reason, so that the queue does not
// retry them forever). An admin replays or discards each.
package deadletter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Operations retries an operation whose request was dead-lettered;
// *lifecycle.Service implements it.
type Operations interface {
	// Retry runs a failed operation again from its failed step. Returns
	// CodeNotFound, CodeConflict.
	Retry(ctx context.Context, r *tre.Resource, opID string, user tre.User) (*tre.Operation, error)
}

// Service lists, replays and discards dead letters and rejected messages.
type Service struct {
	store tre.Store
	// queue reads the queues' dead letters (nil: none to show).
	queue tre.DeadLetterQueue
	ops   Operations
	log   *slog.Logger
	now   func() time.Time
	limit int // of rejected messages kept (0: MaxRejected)
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
	// MaxRejected overrides MaxRejected (tests).
	MaxRejected int
}

// New returns the service. queue may be nil: then only rejected messages
// are shown.
func New(store tre.Store, queue tre.DeadLetterQueue, ops Operations, opt Options) *Service {
	s := &Service{store: store, queue: queue, ops: ops, log: opt.Log, now: opt.Now, limit: opt.MaxRejected}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// DeadLetter is one dead-lettered or rejected message as admins see it.
type DeadLetter struct {
	// Queue is workspacequeue or deploymentstatus for dead-lettered
	// messages, "rejected" for status messages the control plane refused.
	Queue          string
	ID             string
	MessageID      string
	SessionID      string
	Reason         string
	Description    string
	DeliveryCount  int
	OperationID    string
	StepID         string
	ResourceID     string
	DeadLetteredAt float64
	Body           string
}

// QueueRejected names the list of refused status messages.
const QueueRejected = "rejected"

// List lists the dead-lettered messages of the queues the control plane
// receives from (requests, statuses, the airlock's status changes) and the
// rejected messages, with the operation each belongs to.
func (s *Service) List(ctx context.Context) ([]DeadLetter, error) {
	var out []DeadLetter
	if s.queue != nil {
		for _, q := range []string{tre.QueueRequests, tre.QueueStatus, tre.QueueAirlockStatus} {
			list, err := s.queue.DeadLetters(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("deadletter: dead letters of %s: %w", q, err)
			}
			for _, d := range list {
				r := tre.RefOf(d.Body)
				out = append(out, DeadLetter{Queue: q, ID: fmt.Sprint(d.SequenceNumber), MessageID: d.MessageID, SessionID: d.SessionID,
					Reason: d.Reason, Description: d.Description, DeliveryCount: d.DeliveryCount, OperationID: r.OperationID,
					StepID: r.StepID, ResourceID: r.ID, DeadLetteredAt: tre.Timestamp(d.DeadLetteredAt), Body: string(d.Body)})
			}
		}
	}
	rejected, err := s.Rejected(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range rejected {
		r := tre.RefOf([]byte(m.Body))
		out = append(out, DeadLetter{Queue: QueueRejected, ID: m.ID, MessageID: m.MessageID, SessionID: m.SessionID, Reason: m.Reason,
			DeliveryCount: m.DeliveryCount, OperationID: m.OperationID, StepID: r.StepID, ResourceID: r.ID,
			DeadLetteredAt: m.RejectedWhen, Body: m.Body})
	}
	return out, nil
}

func (s *Service) findDeadLetter(ctx context.Context, queue, id string) (*DeadLetter, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Queue == queue && all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, tre.Errorf(tre.CodeNotFound, "No dead-lettered message %s in %s", id, queue)
}

// Replay gives a dead-lettered message another chance. A status
// message goes back to its queue (ingestion then applies or ignores it). A
// request whose step is still waiting goes back to its queue too; one whose
// step has been failed (as the watchdog does with dead-lettered requests)
// is replayed by retrying its operation, and the dead letter is removed.
// Rejected status messages cannot be replayed: they would be refused again.
// Returns CodeNotFound, CodeConflict.
func (s *Service) Replay(ctx context.Context, queue, id string, user tre.User) error {
	d, err := s.findDeadLetter(ctx, queue, id)
	if err != nil {
		return err
	}
	if queue == QueueRejected {
		return tre.Errorf(tre.CodeConflict, "A rejected message cannot be replayed: it was refused because %s", d.Reason)
	}
	seq, _ := parseSeq(id)
	if queue == tre.QueueStatus || queue == tre.QueueAirlockStatus {
		// Applying a status again is idempotent, and so is the airlock
		// processor's work on a status change.
		return s.queue.Replay(ctx, queue, seq)
	}
	op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, d.OperationID)
	if err != nil {
		if tre.IsCode(err, tre.CodeNotFound) {
			return tre.Errorf(tre.CodeConflict, "The operation %s of this request no longer exists: discard it instead", d.OperationID)
		}
		return err
	}
	st := op.Step(d.StepID)
	if st == nil {
		return tre.Errorf(tre.CodeConflict, "Step %s is not in operation %s: discard the message instead", d.StepID, op.ID)
	}
	if !st.Status.Terminal() {
		return s.queue.Replay(ctx, queue, seq)
	}
	r, err := tre.GetAs[tre.Resource](ctx, s.store, tre.Resources, op.ResourceID)
	if err != nil {
		return fmt.Errorf("deadletter: resource of operation %s: %w", op.ID, err)
	}
	if _, err := s.ops.Retry(ctx, r, op.ID, user); err != nil {
		return err
	}
	return s.queue.Discard(ctx, queue, seq)
}

// Discard removes a dead-lettered or rejected message.
// Returns CodeNotFound.
func (s *Service) Discard(ctx context.Context, queue, id string, user tre.User) error {
	if _, err := s.findDeadLetter(ctx, queue, id); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "dead letter discarded", "queue", queue, "id", id, "by", user.ID)
	if queue == QueueRejected {
		return s.store.Delete(ctx, tre.RejectedMessages, id, "")
	}
	seq, _ := parseSeq(id)
	return s.queue.Discard(ctx, queue, seq)
}

func parseSeq(id string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(id, &n)
	return n, err
}
