package lifecycle

import (
	"context"
	"fmt"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Outcome says what ApplyStatus did with a message.
type Outcome string

// Outcomes.
const (
	// Applied: the step moved forward.
	Applied Outcome = "applied"
	// Ignored: a duplicate or late message; nothing changed (a step never
	// moves backwards, a terminal step stays terminal).
	Ignored Outcome = "ignored"
	// Heartbeat: the step is still running; its message was refreshed.
	Heartbeat Outcome = "heartbeat"
)

// ApplyStatus ingests one status report of the Resource Processor. It is
// idempotent and monotonic: a repeated, late or out-of-order message never
// moves a step backwards. On success the bundle's outputs are merged into
// the step's resource and the next step is dispatched; on failure the
// operation fails with the step's own message.
//
// With tre.Atomic, everything a report changes (the step, the operation,
// the resource, the next step's message) is one transaction.
//
// Returns CodeInvalid for a malformed message and CodeNotFound for an
// unknown operation or step: retrying those cannot help, so callers record
// them instead. Any other error is transient: retry.
func (s *Service) ApplyStatus(ctx context.Context, upd tre.StatusUpdate) (Outcome, error) {
	var outcome Outcome
	err := s.atomicallyAhead(ctx, func(ctx context.Context, tx *Service) error {
		var err error
		outcome, err = tx.applyStatus(ctx, upd, nil)
		return err
	})
	return outcome, err
}

// applyStatus is ApplyStatus; with still, the update applies only while
// still holds of the step, checked on the read it starts from and again
// inside the operation's conditional write.
func (s *Service) applyStatus(ctx context.Context, upd tre.StatusUpdate, still func(tre.OperationStep) bool) (Outcome, error) {
	op, step, err := s.stepOf(ctx, upd)
	if err != nil {
		return "", err
	}
	if still != nil && !still(*step) {
		return Ignored, nil
	}
	outcome, err := classify(*step, upd)
	if err != nil || outcome == Ignored {
		return outcome, err
	}
	if outcome == Applied {
		if err := s.recordOnResource(ctx, op, *step, upd); err != nil {
			return "", err
		}
	}
	after, outcome, err := s.recordStep(ctx, op, upd, outcome, still)
	if err != nil {
		return "", err
	}
	if outcome == Applied {
		if err := s.applied(ctx, &after, *step, upd); err != nil {
			return "", err
		}
	}
	return outcome, nil
}

// recordOnResource records a step's status on its resource. A firewall
// step changes the firewall, not the resource's bundle, so the resource's
// status stays its bundle's; but a resource no bundle runs for (the
// built-in firewall record) takes its operation's status from it.
func (s *Service) recordOnResource(ctx context.Context, op *tre.Operation, step tre.OperationStep, upd tre.StatusUpdate) error {
	if step.Kind != tre.StepFirewall {
		return s.updateStepResource(ctx, op, step, upd)
	}
	if step.ResourceID != op.ResourceID || !onlyFirewallSteps(op) {
		return nil
	}
	upd.Status = statusIn(op.Action, upd.Status.Phase())
	return s.updateStepResource(ctx, op, step, upd)
}

func onlyFirewallSteps(op *tre.Operation) bool {
	for _, st := range op.Steps {
		if st.Kind != tre.StepFirewall {
			return false
		}
	}
	return true
}

// statusIn is the status of action's family in a phase.
func statusIn(action string, p tre.Phase) tre.Status {
	st := tre.StatusesFor(action)
	switch p {
	case tre.PhaseRunning:
		return st.Running
	case tre.PhaseSucceeded:
		return st.Succeeded
	case tre.PhaseFailed:
		return st.Failed
	}
	return st.Awaiting
}

// stepOf finds the step a status message is about. Returns CodeInvalid
// for a malformed message, CodeNotFound for an unknown operation or step.
func (s *Service) stepOf(ctx context.Context, upd tre.StatusUpdate) (*tre.Operation, *tre.OperationStep, error) {
	if upd.OperationID == "" || upd.StepID == "" || upd.ID == "" {
		return nil, nil, tre.Errorf(tre.CodeInvalid, "status message needs operationId, stepId and id")
	}
	if !upd.Status.Valid() || upd.Status == tre.StatusPipelineRunning {
		return nil, nil, tre.Errorf(tre.CodeInvalid, "status message has an unknown status %q", upd.Status)
	}
	op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, upd.OperationID)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, nil, tre.Errorf(tre.CodeNotFound, "status message for unknown operation %s", upd.OperationID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lifecycle: ingest %s: %w", upd.OperationID, err)
	}
	step := op.Step(upd.StepID)
	if step == nil || step.ResourceID != upd.ID {
		return nil, nil, tre.Errorf(tre.CodeNotFound, "status message for unknown step %s of operation %s (resource %s)", upd.StepID, upd.OperationID, upd.ID)
	}
	return op, step, nil
}

// recordStep writes a status on its step and recomputes the operation; the
// outcome becomes Ignored if someone applied the status meanwhile. It
// returns the operation as written.
func (s *Service) recordStep(ctx context.Context, read *tre.Operation, upd tre.StatusUpdate, outcome Outcome,
	still func(tre.OperationStep) bool) (tre.Operation, Outcome, error) {
	var after tre.Operation
	err := s.updateOperationFrom(ctx, read.ID, read, func(o *tre.Operation) error {
		st := o.Step(upd.StepID)
		if again, _ := classify(*st, upd); again != outcome || (still != nil && !still(*st)) {
			outcome = Ignored // someone applied it, or the step moved on, meanwhile
			return errUnchanged
		}
		now := s.ts()
		st.Status, st.Message, st.UpdatedWhen = upd.Status, upd.Message, now
		if upd.Status.Phase() == tre.PhaseRunning {
			if st.StartedWhen == 0 {
				st.StartedWhen = now
			}
			st.HeartbeatWhen = now
			if upd.Agent != "" {
				st.Agent = upd.Agent
			}
		}
		if upd.LogTail != "" {
			st.LogTail = boundTail(upd.LogTail)
		}
		recompute(o)
		endAttempt(o, now)
		return nil
	}, &after)
	return after, outcome, err
}

// applied does what follows a step's move: a failed pipeline step fails
// its root resource, a success sends the next step, and rules a bundle
// reported are signalled to the firewall service.
func (s *Service) applied(ctx context.Context, after *tre.Operation, step tre.OperationStep, upd tre.StatusUpdate) error {
	// Logged once committed: a transaction run ahead may run twice.
	opStatus := after.Status
	s.afterCommit(func() {
		s.log.InfoContext(ctx, "step status", "operation_id", after.ID, "step_id", upd.StepID, "resource_id", upd.ID,
			"status", upd.Status, "operation_status", opStatus)
	})
	if upd.Status.Phase() == tre.PhaseFailed && step.TemplateStepID != tre.MainStepID && len(after.Steps) > 1 {
		s.markRootFailed(ctx, after)
	}
	if upd.Status.Phase() == tre.PhaseSucceeded && after.NextStep() >= 0 {
		s.dispatchSoon(ctx, after.ID)
	}
	if s.records != nil && after.Status.Terminal() {
		// In this write's transaction, if any: one commit.
		done, err := s.records.RecordEnded(ctx, s.store, *after)
		if err != nil {
			return fmt.Errorf("lifecycle: record the end of operation %s: %w", after.ID, err)
		}
		if done != nil {
			s.afterCommit(done)
		}
	}
	if s.outcomes != nil && after.Status.Terminal() {
		// Terminal once per attempt: later reports of this attempt are
		// ignored before they get here. Told after the commit: the
		// listeners write through the store, which refuses writes beside
		// an open transaction, and must not hear of an end that was rolled
		// back.
		ended, outcomes, actx := *after, s.outcomes, context.WithoutCancel(s.afterCtx(ctx))
		s.afterCommit(func() { outcomes.OperationEnded(actx, ended) })
	}
	if s.firewall != nil && upd.Status.Phase() == tre.PhaseSucceeded && reportsEgress(upd) {
		// Rules a bundle reports apply once it has run: there is no
		// step before it to open them.
		s.firewall.EgressChanged()
	}
	return nil
}

// classify decides what a status message does to a step.
func classify(step tre.OperationStep, upd tre.StatusUpdate) (Outcome, error) {
	st := tre.StatusesFor(step.ResourceAction)
	if upd.Status != st.Awaiting && upd.Status != st.Running && upd.Status != st.Succeeded && upd.Status != st.Failed {
		return "", tre.Errorf(tre.CodeInvalid, "status %q does not belong to the %s action of step %s", upd.Status, step.ResourceAction, step.ID)
	}
	switch {
	case upd.Attempt != 0 && step.Attempt != 0 && upd.Attempt != step.Attempt:
		return Ignored, nil // a report on an earlier (or unknown) run of the step
	case step.Status.Terminal():
		return Ignored, nil
	case upd.Status.Phase() < step.Status.Phase():
		return Ignored, nil
	case upd.Status == step.Status:
		if upd.Status.Phase() == tre.PhaseRunning {
			return Heartbeat, nil
		}
		return Ignored, nil
	}
	return Applied, nil
}

// recompute sets an operation's status and message from its steps. A
// failed multi-step operation carries the failed step's own message.
func recompute(o *tre.Operation) {
	if len(o.Steps) == 0 {
		return
	}
	st := tre.StatusesFor(o.Action)
	if len(o.Steps) == 1 {
		o.Status, o.Message = o.Steps[0].Status, o.Steps[0].Message
		if o.Steps[0].Kind == tre.StepFirewall {
			o.Status = statusIn(o.Action, o.Status.Phase())
		}
		return
	}
	started := false
	for i, step := range o.Steps {
		switch step.Status.Phase() {
		case tre.PhaseFailed:
			title := step.StepTitle
			if title == "" {
				title = step.TemplateStepID
			}
			o.Status = st.Failed
			o.Message = fmt.Sprintf("Step %d of %d (%s) failed: %s", i+1, len(o.Steps), title, step.Message)
			return
		case tre.PhaseRunning, tre.PhaseSucceeded:
			started = true
		}
	}
	switch {
	case o.NextStep() < 0:
		o.Status, o.Message = st.Succeeded, "Multi step pipeline completed successfully"
	case started:
		o.Status, o.Message = tre.StatusPipelineRunning, "Multi step pipeline running. See steps for details."
	default:
		o.Status, o.Message = st.Awaiting, tre.AwaitingMessage(o.Action)
	}
}

// maxLogTail bounds the output tail kept on a step.
const maxLogTail = 4096

func boundTail(s string) string {
	if len(s) > maxLogTail {
		return s[len(s)-maxLogTail:]
	}
	return s
}

// endAttempt closes the latest attempt when the operation has ended.
func endAttempt(o *tre.Operation, now float64) {
	if len(o.Attempts) == 0 || !o.Status.Terminal() {
		return
	}
	a := &o.Attempts[len(o.Attempts)-1]
	if a.EndedWhen == 0 {
		a.EndedWhen, a.Outcome, a.Message = now, o.Status, o.Message
	}
}

// updateStepResource records a step's new status on the resource it runs
// on, with the bundle's outputs on success, and cleans up after a
// successful uninstall.
func (s *Service) updateStepResource(ctx context.Context, op *tre.Operation, step tre.OperationStep, upd tre.StatusUpdate) error {
	outputs := convertOutputs(upd.Outputs)
	for attempt := 0; ; attempt++ {
		r, err := s.getResource(ctx, step.ResourceID)
		if tre.IsCode(err, tre.CodeNotFound) {
			return nil // nothing to record it on
		}
		if err != nil {
			return err
		}
		r.DeploymentStatus = upd.Status
		if upd.Status.Phase() == tre.PhaseSucceeded && len(outputs) > 0 {
			if r.Properties == nil {
				r.Properties = map[string]any{}
			}
			for k, v := range outputs {
				if k == ScopeIDProperty && r.ResourceType == tre.TypeWorkspace && r.Properties[ScopeIDProperty] != nil {
					k = BundleScopeIDProperty // clients' tokens stay for this API
				}
				r.Properties[k] = v
			}
		}
		r.UpdatedWhen = s.ts()
		_, err = tre.ReplaceAs(ctx, s.store, tre.Resources, r.ID, r.ETag, r)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 20 {
			continue
		}
		if err != nil {
			return fmt.Errorf("lifecycle: record status of %s: %w", r.ID, err)
		}
		if upd.Status == tre.StatusDeleted {
			s.cleanUp(ctx, r)
		}
		return nil
	}
}

// markRootFailed gives the operation's root resource the operation's
// failure status when a pipeline step on another resource failed: the root
// is not fully deployed (or updated, or deleted).
func (s *Service) markRootFailed(ctx context.Context, op *tre.Operation) {
	for attempt := 0; attempt < 20; attempt++ {
		r, err := s.getResource(ctx, op.ResourceID)
		if err != nil || !r.Active() {
			return
		}
		r.DeploymentStatus, r.UpdatedWhen = tre.StatusesFor(op.Action).Failed, s.ts()
		_, err = tre.ReplaceAs(ctx, s.store, tre.Resources, r.ID, r.ETag, r)
		if !tre.IsCode(err, tre.CodePreconditionFailed) {
			if err != nil {
				s.afterCommit(func() {
					s.log.WarnContext(ctx, "could not mark the root resource failed", "operation_id", op.ID, "resource_id", r.ID, "error", err.Error())
				})
			}
			return
		}
	}
}

// cleanUp releases what a deleted resource held: its secrets and its
// address space. Failures are logged: the resource is deleted either way.
func (s *Service) cleanUp(ctx context.Context, r *tre.Resource) {
	// The secrets go once the deletion is recorded.
	s.afterCommit(func() {
		for _, name := range r.SecretRefs {
			if err := s.secrets.Delete(ctx, name); err != nil {
				s.log.WarnContext(ctx, "could not delete a secret of a deleted resource", "resource_id", r.ID, "error", err.Error())
			}
		}
	})
	if err := s.releaseAddresses(ctx, r); err != nil {
		s.afterCommit(func() {
			s.log.WarnContext(ctx, "could not release the address space of a deleted resource", "resource_id", r.ID, "error", err.Error())
		})
	}
}

// convertOutputs applies AzureTRE's output conversion: nil values are
// skipped, quoted strings are unquoted, "boolean" strings become booleans.
func convertOutputs(outs []tre.Output) map[string]any {
	m := map[string]any{}
	for _, o := range outs {
		if o.Value == nil || o.Name == "" {
			continue
		}
		v := o.Value
		if str, ok := v.(string); ok {
			switch o.Type {
			case "string":
				v = strings.Trim(str, `'"`)
			case "boolean":
				v = strings.ToLower(strings.Trim(str, `'" `)) == "true"
			}
		}
		m[o.Name] = v
	}
	return m
}

func reportsEgress(upd tre.StatusUpdate) bool {
	for _, o := range upd.Outputs {
		if o.Name == tre.EgressOutput {
			return true
		}
	}
	return false
}
