package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Watchdog fails the steps that nothing will move any more: one not sent
// for DispatchLimit (the queue is unreachable), one sent but not picked up
// within PickupLimit (no processor takes it), one running whose processor
// has been silent for HeartbeatLimit (it died), one asked to cancel that
// no processor confirmed within CancelGrace, one whose request was
// dead-lettered. The message says which, and since when; the operation and
// its resource follow. Returns how many steps it failed.
func (s *Service) Watchdog(ctx context.Context) (int, error) {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.In("status", tre.InProgressStatuses()...), tre.Ne("pending", true),
	}})
	if err != nil {
		return 0, fmt.Errorf("lifecycle: watchdog: %w", err)
	}
	now := s.now()
	failed := 0
	var errs []error
	for _, op := range ops {
		i := op.NextStep()
		if i < 0 {
			continue
		}
		st := op.Steps[i]
		msg := s.stuck(st, now)
		if msg == "" {
			continue
		}
		// The decision is taken again on the step as it is when the
		// failure is written (conditionally on its etag): a step sent,
		// started or being sent since this read is not failed.
		fresh := st
		outcome, err := s.failStepIf(ctx, op.ID, st.ID, msg, func(cur tre.OperationStep) bool {
			fresh = cur
			return cur.Attempt == st.Attempt && s.stuck(cur, now) != ""
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if outcome != Applied {
			continue
		}
		if (fresh.DispatchedWhen != 0 || fresh.SendingWhen != 0) && fresh.Kind == "" {
			// A processor that is alive after all must not go on with it.
			_ = s.sendCancel(ctx, op.ID, fresh, tre.User{Name: "the watchdog"}, msg)
		}
		s.log.WarnContext(ctx, "watchdog failed a step", "operation_id", op.ID, "step_id", st.ID, "resource_id", st.ResourceID, "reason", msg)
		failed++
	}
	dead, err := s.failDeadLettered(ctx)
	return failed + dead, errors.Join(append(errs, err)...)
}

// stuck says why a step will not move any more, or "" if it may.
func (s *Service) stuck(st tre.OperationStep, now time.Time) string {
	at := func(ts float64) string { return time.Unix(0, int64(ts*1e9)).UTC().Format(time.RFC3339) }
	older := func(ts float64, limit time.Duration) bool {
		return ts != 0 && now.Sub(time.Unix(0, int64(ts*1e9))) > limit
	}
	lastHeard := max(st.HeartbeatWhen, st.StartedWhen, st.UpdatedWhen)
	switch {
	case st.CancelRequested != nil && older(st.CancelRequested.When, s.cfg.CancelGrace):
		return fmt.Sprintf("cancelled by %s (no Resource Processor confirmed the cancellation within %s of %s)",
			st.CancelRequested.By, s.cfg.CancelGrace, at(st.CancelRequested.When))
	case st.Status.Phase() == tre.PhaseAwaiting && st.DispatchedWhen == 0 && older(st.UpdatedWhen, s.cfg.DispatchLimit) &&
		(st.SendingWhen == 0 || older(st.SendingWhen, s.cfg.MutationTimeout)):
		return fmt.Sprintf("The step could not be sent to the Resource Processor for %s (waiting since %s): the request queue was unreachable",
			s.cfg.DispatchLimit, at(st.UpdatedWhen))
	case st.Status.Phase() == tre.PhaseAwaiting && older(st.DispatchedWhen, s.cfg.PickupLimit):
		if st.Kind == tre.StepFirewall {
			return fmt.Sprintf("The firewall step did not run within %s of %s: is the firewall-reconcile timer running?", s.cfg.PickupLimit, at(st.DispatchedWhen))
		}
		return fmt.Sprintf("No Resource Processor picked up the step within %s of it being sent at %s", s.cfg.PickupLimit, at(st.DispatchedWhen))
	case st.Status.Phase() == tre.PhaseRunning && older(lastHeard, s.cfg.HeartbeatLimit):
		agent := st.Agent
		if agent == "" {
			agent = "unknown agent"
		}
		return fmt.Sprintf("The Resource Processor (%s) stopped reporting on the step: last heartbeat at %s, more than %s ago",
			agent, at(lastHeard), s.cfg.HeartbeatLimit)
	}
	return ""
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
		r := tre.RefOf(d.Body)
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
		outcome, err := s.failStepIf(ctx, op.ID, st.ID, msg, func(cur tre.OperationStep) bool {
			return !cur.Status.Terminal() && (r.Attempt == 0 || cur.Attempt == r.Attempt)
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if outcome == Applied {
			failed++
		}
	}
	return failed, errors.Join(errs...)
}
