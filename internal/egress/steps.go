package egress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/tre"
)

// agentName is the agent the firewall steps report as.
const agentName = "firewall-service"

// due is a firewall step that was marked sent and has not ended.
type due struct {
	op   string
	step tre.OperationStep
}

// RunSteps runs every firewall step that is due (sent, not ended): one
// reconcile for all of them, then each succeeds, or fails with its
// resource's problem or the firewall's error. Off, it does nothing.
func (s *Service) RunSteps(ctx context.Context) error {
	if s.firewall == nil {
		return nil
	}
	steps, err := s.dueSteps(ctx)
	if err != nil || len(steps) == 0 {
		return err
	}
	running := tre.StatusesFor(tre.StepFirewall).Running
	for _, d := range steps {
		if d.step.Status.Phase() == tre.PhaseAwaiting {
			if _, err := s.ops.ApplyStatus(ctx, d.update(running, "Updating the firewall")); err != nil {
				return err
			}
		}
	}
	// Azure Firewall can take minutes to apply a policy: the steps beat
	// while it does, so the watchdog does not take them for stuck.
	stop := s.beat(ctx, steps)
	report, syncErr := s.Sync(ctx)
	stop()
	if ctx.Err() != nil {
		return s.timeUp(ctx, steps, report)
	}
	var errs []error
	for _, d := range steps {
		if _, err := s.ops.ApplyStatus(ctx, outcome(d, report, syncErr)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// timeUp ends a run whose context ended mid-reconcile (a timer
// invocation's time is bounded by the host's functionTimeout): the groups
// written so far stay written, the steps stay running, and the next run
// reconciles from what the firewall then has (groups that match are
// skipped), so the work resumes rather than starts over or fails.
func (s *Service) timeUp(ctx context.Context, steps []due, report *Report) error {
	msg := "Updating the firewall: this run's time ran out; the next firewall-reconcile run resumes"
	if report != nil && len(report.Result.Written) > 0 {
		msg += " (written so far: " + strings.Join(report.Result.Written, ", ") + ")"
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	running := tre.StatusesFor(tre.StepFirewall).Running
	for _, d := range steps {
		if _, err := s.ops.ApplyStatus(rctx, d.update(running, msg)); err != nil {
			s.log.WarnContext(ctx, "firewall step not updated", "operation_id", d.op, "error", err.Error())
		}
	}
	return fmt.Errorf("egress: firewall steps: %w", context.Cause(ctx))
}

// dueSteps finds the firewall steps that were marked sent and have not
// ended.
func (s *Service) dueSteps(ctx context.Context) ([]due, error) {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.In("status", tre.InProgressStatuses()...), tre.Ne("pending", true)}})
	if err != nil {
		return nil, fmt.Errorf("egress: firewall steps: %w", err)
	}
	var steps []due
	for _, op := range ops {
		i := op.NextStep()
		if i < 0 || op.Steps[i].Kind != tre.StepFirewall || op.Steps[i].DispatchedWhen == 0 || op.Steps[i].Status.Terminal() {
			continue
		}
		steps = append(steps, due{op.ID, op.Steps[i]})
	}
	return steps, nil
}

// beat reports the steps running every BeatEvery until the returned stop
// is called; stop waits for the beating to end.
func (s *Service) beat(ctx context.Context, steps []due) (stop func()) {
	running := tre.StatusesFor(tre.StepFirewall).Running
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.BeatEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				for _, d := range steps {
					_, _ = s.ops.ApplyStatus(ctx, d.update(running, "Updating the firewall"))
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// update is a status report of the step.
func (d due) update(status tre.Status, message string) tre.StatusUpdate {
	return tre.StatusUpdate{OperationID: d.op, StepID: d.step.ID, ID: d.step.ResourceID, Attempt: d.step.Attempt,
		Status: status, Message: message, Agent: agentName}
}

// outcome is how a step ends after the reconcile: failed with its
// resource's problem, failed with the firewall's error, or succeeded.
func outcome(d due, report *Report, syncErr error) tre.StatusUpdate {
	st := tre.StatusesFor(tre.StepFirewall)
	kind, id := tre.RuleOwnerResource, d.step.ResourceID
	if d.step.ResourceType == tre.TypeSharedService && d.step.ResourceTemplateName == tre.FirewallTemplateName {
		kind, id = tre.RuleOwnerManual, tre.FirewallTemplateName // the built-in record: admins' rules
	}
	var problem string
	if report != nil {
		for _, p := range report.Problems {
			if p.Owner.Kind == kind && p.Owner.ID == id {
				problem = p.Message
			}
		}
	}
	switch {
	case problem != "":
		return d.update(st.Failed, "The egress rules are invalid and were not applied: "+problem)
	case syncErr != nil:
		return d.update(st.Failed, tre.ErrorMessage(syncErr))
	}
	return d.update(st.Succeeded, resultMessage(report.Result))
}

// resultMessage says what a reconcile changed.
func resultMessage(r firewall.Result) string {
	var parts []string
	if len(r.Written) > 0 {
		parts = append(parts, "wrote "+strings.Join(r.Written, ", "))
	}
	if len(r.Deleted) > 0 {
		parts = append(parts, "deleted "+strings.Join(r.Deleted, ", "))
	}
	if len(parts) == 0 {
		return "The firewall already had these rules"
	}
	return "The firewall was updated: " + strings.Join(parts, "; ")
}
