package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Retry runs a failed operation again from its failed step: steps that had
// succeeded are not run again. Only a resource's latest operation can be
// retried, and only once at a time: the operation is changed with its
// etag, so of two concurrent retries one wins and the other finds the
// operation no longer failed. A step whose bundle may have half-run before
// failing relies on the bundle's actions being idempotent (Porter's
// contract: install/upgrade converge, uninstall of what is gone succeeds).
// Returns CodeNotFound, CodeConflict (not failed, not the latest).
func (s *Service) Retry(ctx context.Context, r *tre.Resource, opID string, user tre.User) (*tre.Operation, error) {
	op, err := s.Operation(ctx, r, opID)
	if err != nil {
		return nil, err
	}
	ops, err := s.Operations(ctx, r)
	if err != nil {
		return nil, err
	}
	if latest := ops[len(ops)-1]; latest.ID != op.ID {
		return nil, tre.Errorf(tre.CodeConflict, "Only the latest operation of a resource can be retried; operation %s (%s) came after this one", latest.ID, latest.Action)
	}
	var after tre.Operation
	err = s.atomically(ctx, func(ctx context.Context, tx *Service) error {
		return tx.retry(ctx, op.ID, user, &after)
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "operation retried", "operation_id", op.ID, "resource_id", r.ID, "attempt", len(after.Attempts), "by", user.ID)
	return &after, nil
}

// retry resets an operation's steps from the failed one, and sends it
// again.
func (s *Service) retry(ctx context.Context, opID string, user tre.User, after *tre.Operation) error {
	err := s.updateOperation(ctx, opID, func(o *tre.Operation) error {
		if o.Status.Phase() != tre.PhaseFailed {
			return tre.Errorf(tre.CodeConflict, "Operation %s is %s: only a failed operation can be retried", o.ID, o.Status)
		}
		from := o.NextStep()
		if from < 0 {
			return tre.Errorf(tre.CodeConflict, "Operation %s has no failed step to retry", o.ID)
		}
		now := s.ts()
		for j := from; j < len(o.Steps); j++ {
			st := &o.Steps[j]
			if st.DispatchedWhen != 0 || st.SendingWhen != 0 || st.Status.Phase() != tre.PhaseAwaiting {
				st.Attempt++
			}
			st.Status, st.Message = tre.StatusesFor(st.ResourceAction).Awaiting, tre.AwaitingMessage(st.ResourceAction)
			st.UpdatedWhen, st.DispatchedWhen, st.SendingWhen, st.StartedWhen, st.HeartbeatWhen, st.CancelRequested = now, 0, 0, 0, 0, nil
		}
		o.Attempts = append(o.Attempts, tre.OperationAttempt{Number: len(o.Attempts) + 1, StartedWhen: now, StartedBy: user, FromStep: from})
		recompute(o)
		return nil
	}, after)
	if err != nil {
		return err
	}
	s.setStatus(ctx, after.ResourceID, tre.StatusesFor(after.Action).Awaiting)
	s.dispatchSoon(ctx, opID)
	return nil
}

// setStatus sets a resource's deployment status (retrying on etag races).
func (s *Service) setStatus(ctx context.Context, id string, status tre.Status) {
	for attempt := 0; attempt < 20; attempt++ {
		r, err := s.getResource(ctx, id)
		if err != nil || !r.Active() {
			return
		}
		r.DeploymentStatus, r.UpdatedWhen = status, s.ts()
		if _, err := tre.ReplaceAs(ctx, s.store, tre.Resources, r.ID, r.ETag, r); !tre.IsCode(err, tre.CodePreconditionFailed) {
			return
		}
	}
}

// Cancel stops an operation in progress. A step not yet sent is withdrawn
// and fails at once; a step sent or running is asked to stop: a cancel
// message goes on its resource's session, and the processor stops the
// bundle (gracefully, then by force) and reports the step failed with
// "cancelled by <user>". If no processor confirms within CancelGrace, the
// watchdog fails the step.
// Returns CodeNotFound, CodeConflict (the operation has ended).
func (s *Service) Cancel(ctx context.Context, r *tre.Resource, opID string, user tre.User) (*tre.Operation, error) {
	op, err := s.Operation(ctx, r, opID)
	if err != nil {
		return nil, err
	}
	if op.Status.Terminal() || op.Pending {
		return nil, tre.Errorf(tre.CodeConflict, "Operation %s is %s: only an operation in progress can be cancelled", op.ID, op.Status)
	}
	i := op.NextStep()
	step := op.Steps[i]
	msg := fmt.Sprintf("cancelled by %s", who(user))
	if step.DispatchedWhen == 0 && step.Status.Phase() == tre.PhaseAwaiting {
		if err := s.failStep(ctx, op.ID, step.ID, msg+" before it was sent"); err != nil {
			return nil, err
		}
	} else {
		now := s.ts()
		err := s.atomically(ctx, func(ctx context.Context, tx *Service) error {
			err := tx.updateOperation(ctx, op.ID, func(o *tre.Operation) error {
				if st := o.Step(step.ID); st != nil && !st.Status.Terminal() && st.CancelRequested == nil {
					st.CancelRequested = &tre.CancelRequest{OperationID: o.ID, StepID: st.ID, Attempt: st.Attempt, By: who(user), When: now}
				}
				return nil
			}, nil)
			if err != nil {
				return err
			}
			return tx.sendCancel(ctx, op.ID, step, user, "")
		})
		if err != nil {
			return nil, err
		}
	}
	s.log.InfoContext(ctx, "operation cancel requested", "operation_id", op.ID, "step_id", step.ID, "by", user.ID)
	return tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, op.ID)
}

func who(u tre.User) string {
	switch {
	case u.Name != "" && u.ID != "":
		return u.Name + " (" + u.ID + ")"
	case u.Name != "":
		return u.Name
	}
	return u.ID
}

// sendCancel puts a cancel request for a step on its resource's session.
func (s *Service) sendCancel(ctx context.Context, opID string, step tre.OperationStep, user tre.User, reason string) error {
	if s.sender == nil {
		return tre.Errorf(tre.CodeUnavailable, "no queue to send the cancel request to")
	}
	body, err := json.Marshal(tre.CancelRequest{OperationID: opID, StepID: step.ID, Attempt: step.Attempt, By: who(user), When: s.ts(), Reason: reason})
	if err != nil {
		return err
	}
	err = s.sender.Send(ctx, tre.QueueRequests, tre.Message{
		MessageID: fmt.Sprintf("cancel:%s:%d", step.ID, step.Attempt), SessionID: step.ResourceID, CorrelationID: opID,
		Subject: tre.SubjectCancel, Body: body,
	})
	if err != nil {
		return fmt.Errorf("lifecycle: send cancel of step %s: %w", step.ID, err)
	}
	return nil
}

// ForceFail fails an operation in progress at an admin's word, with their
// reason, and asks a processor that may still run the step to stop. It is
// recorded on the operation and in the log. Returns CodeNotFound,
// CodeInvalid (no reason), CodeConflict (the operation has ended).
func (s *Service) ForceFail(ctx context.Context, r *tre.Resource, opID, reason string, user tre.User) (*tre.Operation, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "reason", "A reason is required to fail an operation by hand")
	}
	op, err := s.Operation(ctx, r, opID)
	if err != nil {
		return nil, err
	}
	if op.Status.Terminal() || op.Pending {
		return nil, tre.Errorf(tre.CodeConflict, "Operation %s is %s: only an operation in progress can be failed", op.ID, op.Status)
	}
	step := op.Steps[op.NextStep()]
	if err := s.failStep(ctx, op.ID, step.ID, fmt.Sprintf("failed by %s: %s", who(user), reason)); err != nil {
		return nil, err
	}
	if step.DispatchedWhen != 0 {
		if err := s.sendCancel(ctx, op.ID, step, user, reason); err != nil {
			s.log.WarnContext(ctx, "could not ask the processor to stop a force-failed step", "operation_id", op.ID, "error", err.Error())
		}
	}
	s.log.WarnContext(ctx, "operation failed by an admin", "operation_id", op.ID, "resource_id", r.ID, "by", user.ID, "reason", reason)
	return tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, op.ID)
}
