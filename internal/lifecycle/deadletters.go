package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tre-go/tre/internal/tre"
)

// DeadLetter is one dead-lettered or rejected message as admins see it.
type DeadLetter struct {
	// Queue is workspacequeue or deploymentstatus for dead-lettered
	// messages, "rejected" for status messages the control plane refused.
	Queue          string  `json:"queue"`
	ID             string  `json:"id"`
	MessageID      string  `json:"messageId"`
	SessionID      string  `json:"sessionId"`
	Reason         string  `json:"reason"`
	Description    string  `json:"description,omitempty"`
	DeliveryCount  int     `json:"deliveryCount"`
	OperationID    string  `json:"operationId,omitempty"`
	StepID         string  `json:"stepId,omitempty"`
	ResourceID     string  `json:"resourceId,omitempty"`
	DeadLetteredAt float64 `json:"deadLetteredAt,omitempty"`
	Body           string  `json:"body"`
}

// QueueRejected names the list of refused status messages.
const QueueRejected = "rejected"

// ref is what a message body says about its operation.
type ref struct {
	OperationID string `json:"operationId"`
	StepID      string `json:"stepId"`
	ID          string `json:"id"`
	Attempt     int    `json:"attempt"`
}

func refOf(body []byte) ref {
	var r ref
	_ = json.Unmarshal(body, &r)
	return r
}

// DeadLetters lists the dead-lettered messages of both queues and the
// rejected status messages, with the operation each belongs to.
func (s *Service) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	var out []DeadLetter
	if s.deadLetters != nil {
		for _, q := range []string{tre.QueueRequests, tre.QueueStatus} {
			list, err := s.deadLetters.DeadLetters(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("lifecycle: dead letters of %s: %w", q, err)
			}
			for _, d := range list {
				r := refOf(d.Body)
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
		r := refOf([]byte(m.Body))
		out = append(out, DeadLetter{Queue: QueueRejected, ID: m.ID, MessageID: m.MessageID, SessionID: m.SessionID, Reason: m.Reason,
			DeliveryCount: m.DeliveryCount, OperationID: m.OperationID, StepID: r.StepID, ResourceID: r.ID,
			DeadLetteredAt: m.RejectedWhen, Body: m.Body})
	}
	return out, nil
}

func (s *Service) findDeadLetter(ctx context.Context, queue, id string) (*DeadLetter, error) {
	all, err := s.DeadLetters(ctx)
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

// ReplayDeadLetter gives a dead-lettered message another chance. A status
// message goes back to its queue (ingestion then applies or ignores it). A
// request whose step is still waiting goes back to its queue too; one whose
// step has been failed (as the watchdog does with dead-lettered requests)
// is replayed by retrying its operation, and the dead letter is removed.
// Rejected status messages cannot be replayed: they would be refused again.
// Returns CodeNotFound, CodeConflict.
func (s *Service) ReplayDeadLetter(ctx context.Context, queue, id string, user tre.User) error {
	d, err := s.findDeadLetter(ctx, queue, id)
	if err != nil {
		return err
	}
	if queue == QueueRejected {
		return tre.Errorf(tre.CodeConflict, "A rejected message cannot be replayed: it was refused because %s", d.Reason)
	}
	seq, _ := parseSeq(id)
	if queue == tre.QueueStatus {
		return s.deadLetters.Replay(ctx, queue, seq)
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
		return s.deadLetters.Replay(ctx, queue, seq)
	}
	r, err := s.getResource(ctx, op.ResourceID)
	if err != nil {
		return err
	}
	if _, err := s.Retry(ctx, r, op.ID, user); err != nil {
		return err
	}
	return s.deadLetters.Discard(ctx, queue, seq)
}

// DiscardDeadLetter removes a dead-lettered or rejected message.
// Returns CodeNotFound.
func (s *Service) DiscardDeadLetter(ctx context.Context, queue, id string, user tre.User) error {
	if _, err := s.findDeadLetter(ctx, queue, id); err != nil {
		return err
	}
	s.log.Info("dead letter discarded", "queue", queue, "id", id, "by", user.ID)
	if queue == QueueRejected {
		return s.store.Delete(ctx, tre.RejectedMessages, id, "")
	}
	seq, _ := parseSeq(id)
	return s.deadLetters.Discard(ctx, queue, seq)
}

func parseSeq(id string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(id, &n)
	return n, err
}

// failDeadLettered fails the steps whose request was dead-lettered, with
// the reason: nothing will run them, and their operation must not wait.
func (s *Service) failDeadLettered(ctx context.Context) (int, error) {
	if s.deadLetters == nil {
		return 0, nil
	}
	list, err := s.deadLetters.DeadLetters(ctx, tre.QueueRequests)
	if err != nil {
		return 0, fmt.Errorf("lifecycle: dead letters: %w", err)
	}
	failed := 0
	var errs []error
	for _, d := range list {
		if d.Subject == tre.SubjectCancel {
			continue
		}
		r := refOf(d.Body)
		op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, r.OperationID)
		if err != nil {
			continue
		}
		st := op.Step(r.StepID)
		if st == nil || st.Status.Terminal() || (r.Attempt != 0 && st.Attempt != r.Attempt) {
			continue
		}
		msg := fmt.Sprintf("The request was dead-lettered after %d deliveries (%s)", d.DeliveryCount, d.Reason)
		if d.Description != "" {
			msg += ": " + d.Description
		}
		if err := s.failStep(ctx, op.ID, st.ID, msg); err != nil {
			errs = append(errs, err)
			continue
		}
		failed++
	}
	return failed, errors.Join(errs...)
}
