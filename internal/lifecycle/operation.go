package lifecycle

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/pipeline"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// templateOf loads the template version a resource was made from. A user
// resource's template hangs under its parent service's template.
func (s *Service) TemplateOf(ctx context.Context, r *tre.Resource) (*tre.Template, error) {
	k := registry.Kind{Type: r.ResourceType}
	if r.ResourceType == tre.TypeUserResource {
		parent, err := s.getResource(ctx, r.ParentWorkspaceServiceID)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: parent of %s: %w", r.ID, err)
		}
		k.Parent = parent.TemplateName
	}
	t, err := s.registry.Get(ctx, k, r.TemplateName, r.TemplateVersion)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: template of %s (%s %s): %w", r.ID, r.TemplateName, r.TemplateVersion, err)
	}
	return t, nil
}

// buildSteps lists the steps of an operation of action over resources (in
// the order they must run): each resource's template pipeline for the
// action, or a single main step. A resource whose bundle was never
// installed gets no upgrade step: there is nothing to upgrade (a failed
// install can be disabled without running the bundle).
// Returns CodeConflict when a pipeline step's target does not exist.
func (s *Service) buildSteps(ctx context.Context, action string, resources []*tre.Resource) ([]tre.OperationStep, error) {
	var steps []tre.OperationStep
	for _, r := range resources {
		if action == tre.ActionUpgrade && !r.Installed() {
			continue
		}
		if r.IsBuiltInFirewall() {
			// No bundle: a change of the firewall's own rules is applied
			// by the firewall service.
			steps = append(steps, s.firewallStep(r, action))
			continue
		}
		rs, err := s.resourceSteps(ctx, action, r)
		if err != nil {
			return nil, err
		}
		steps = append(steps, rs...)
	}
	return steps, nil
}

// resourceSteps lists the steps of one resource: its template pipeline for
// the action (or a single main step), with the firewall step of a
// resource that declares egress: egress opens before the bundle installs
// or upgrades (it may need it while it runs) and closes after it is
// uninstalled.
func (s *Service) resourceSteps(ctx context.Context, action string, r *tre.Resource) ([]tre.OperationStep, error) {
	t, err := s.TemplateOf(ctx, r)
	if err != nil {
		return nil, err
	}
	defs := t.Pipeline.Steps(action)
	if len(defs) == 0 {
		defs = []tre.PipelineStep{{StepID: tre.MainStepID}}
	}
	firewallStep := s.firewall != nil && tre.DeclaresEgress(t, r) &&
		(action == tre.ActionInstall || action == tre.ActionUpgrade || action == tre.ActionUninstall)
	var steps []tre.OperationStep
	if firewallStep && action != tre.ActionUninstall {
		steps = append(steps, s.firewallStep(r, action))
	}
	for _, d := range defs {
		step, err := s.pipelineStep(ctx, action, r, d)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step)
	}
	if firewallStep && action == tre.ActionUninstall {
		steps = append(steps, s.firewallStep(r, action))
	}
	return steps, nil
}

// pipelineStep makes the step of one pipeline definition of r's template:
// the main step (r's bundle), a step that changes another resource, or a
// firewall step for a step that updates AzureTRE's firewall shared service.
func (s *Service) pipelineStep(ctx context.Context, action string, r *tre.Resource, d tre.PipelineStep) (tre.OperationStep, error) {
	if d.ResourceType == tre.TypeSharedService && d.ResourceTemplateName == tre.FirewallTemplateName {
		return s.pipelineFirewallStep(r, d), nil
	}
	step := tre.OperationStep{ID: s.newID(), TemplateStepID: d.StepID, SourceTemplateResourceID: r.ID, UpdatedWhen: s.ts(), Attempt: 1}
	if d.StepID == tre.MainStepID {
		step.StepTitle = "Main step for " + r.ID
		step.ResourceID, step.ResourceType, step.ResourceTemplateName = r.ID, r.ResourceType, r.TemplateName
		step.ResourceAction = action
	} else {
		target, err := s.stepTarget(ctx, r, d)
		if err != nil {
			return step, err
		}
		step.StepTitle = d.StepTitle
		step.ResourceID, step.ResourceType, step.ResourceTemplateName = target.ID, target.ResourceType, target.TemplateName
		step.ResourceAction = d.ResourceAction
		if step.ResourceAction == "" {
			step.ResourceAction = tre.ActionUpgrade
		}
	}
	st := tre.StatusesFor(step.ResourceAction)
	step.Status, step.Message = st.Awaiting, tre.AwaitingMessage(step.ResourceAction)
	return step, nil
}

// stepTarget finds the resource a pipeline step of r's template changes.
func (s *Service) stepTarget(ctx context.Context, r *tre.Resource, d tre.PipelineStep) (*tre.Resource, error) {
	var target *tre.Resource
	switch d.ResourceType {
	case tre.TypeSharedService:
		list, err := tre.QueryAs[tre.Resource](ctx, s.store, tre.Resources, tre.Query{Where: []tre.Cond{
			tre.Eq("resourceType", string(tre.TypeSharedService)), tre.Eq("templateName", d.ResourceTemplateName),
			tre.NotIn("deploymentStatus", string(tre.StatusDeleted), string(tre.StatusDeploymentFailed)),
		}})
		if err != nil {
			return nil, fmt.Errorf("lifecycle: pipeline target %s: %w", d.ResourceTemplateName, err)
		}
		if len(list) > 0 {
			sortResources(list)
			target = list[0]
		}
	case tre.TypeWorkspace:
		target, _ = s.getResource(ctx, r.WorkspaceID)
	case tre.TypeWorkspaceService:
		target, _ = s.getResource(ctx, r.ParentWorkspaceServiceID)
	}
	// A parent is the step's target whatever its template when the step
	// names none, as in AzureTRE.
	if target == nil || !target.Active() || (d.ResourceTemplateName != "" && target.TemplateName != d.ResourceTemplateName) {
		return nil, tre.Errorf(tre.CodeConflict,
			"Step %q of the %s template's pipeline changes the %s %q, which is not deployed; deploy it first",
			d.StepID, r.TemplateName, d.ResourceType, d.ResourceTemplateName)
	}
	return target, nil
}

// newOperation returns an operation of action on root with steps. An
// operation without steps (nothing to run) is complete at once.
func (s *Service) newOperation(root *tre.Resource, action string, steps []tre.OperationStep, user tre.User) *tre.Operation {
	now := s.ts()
	st := tre.StatusesFor(action)
	op := &tre.Operation{
		ID: s.newID(), ResourceID: root.ID, ResourcePath: root.ResourcePath, ResourceVersion: root.ResourceVersion,
		Action: action, Status: st.Awaiting, Message: tre.AwaitingMessage(action),
		CreatedWhen: now, UpdatedWhen: now, User: user, Steps: steps,
		Attempts: []tre.OperationAttempt{{Number: 1, StartedWhen: now, StartedBy: user}},
	}
	if len(steps) == 0 {
		op.Status, op.Message = st.Succeeded, "Nothing to run: the resource's bundle is not installed, so only the stored state changed"
		op.Attempts[0].EndedWhen, op.Attempts[0].Outcome, op.Attempts[0].Message = now, op.Status, op.Message
	}
	if op.Steps == nil {
		op.Steps = []tre.OperationStep{}
	}
	return op
}

// historyID is the id of the history item an operation writes for a
// resource: derived, so that writing it again after a crash is a no-op.
func historyID(opID, resourceID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:history:"+opID+"/"+resourceID)).String()
}

func snapshot(opID string, r *tre.Resource) tre.ResourceHistoryItem {
	return tre.ResourceHistoryItem{
		ID: historyID(opID, r.ID), ResourceID: r.ID, Properties: schema.DeepCopy(r.Properties), IsEnabled: r.IsEnabled,
		ResourceVersion: r.ResourceVersion, UpdatedWhen: r.UpdatedWhen, User: r.User, TemplateVersion: r.TemplateVersion,
	}
}

// commit makes an operation and its resource changes durable together.
//
// The operation is written first, pending, with the changes it makes
// (creates and patches, the root's first). Then the changes are applied:
// the root's conditionally on the etag the request was checked against, so
// a stale etag aborts everything (the pending operation is deleted and the
// request rejected, having changed nothing), then the others. Each written
// resource carries the operation's id, so a change is never applied twice,
// and the history snapshot of its previous state is written under an id
// derived from the operation, so writing it again is harmless. Last, the
// operation stops being pending and its first step is dispatched.
//
// A crash at any point leaves either nothing (the operation was not
// written), a pending operation whose root change did not happen (recovery
// deletes it: the caller never got an answer), or one whose root change
// happened (recovery applies the remaining changes and dispatches it). See
// recoverPending.
//
// With tre.Atomic, all of it (the operation, the changes, the first step's
// message and its dispatch mark) is one transaction instead, and nothing
// is ever pending: see commitInTx.
func (s *Service) commit(ctx context.Context, op *tre.Operation, changes []tre.ResourceChange) error {
	if s.atomic != nil {
		return s.atomically(ctx, func(ctx context.Context, tx *Service) error {
			return tx.commitInTx(ctx, op, changes)
		})
	}
	op.Pending, op.Changes = true, changes
	etag, err := tre.CreateAs(ctx, s.store, tre.Operations, op.ID, op)
	if err != nil {
		return fmt.Errorf("lifecycle: save operation %s: %w", op.ID, err)
	}
	op.ETag = etag
	if err := s.applyChanges(ctx, op, false); err != nil {
		if errors.Is(err, errRootNotApplied) || tre.IsCode(err, tre.CodePreconditionFailed) {
			if derr := s.store.Delete(ctx, tre.Operations, op.ID, ""); derr != nil && !tre.IsCode(derr, tre.CodeNotFound) {
				s.log.WarnContext(ctx, "pending operation left for recovery", "operation_id", op.ID, "error", derr.Error())
			}
		}
		return err
	}
	if err := s.finishCommit(ctx, op); err != nil {
		return err
	}
	s.dispatchSoon(ctx, op.ID)
	return nil
}

// commitInTx writes an operation and its changes, and dispatches its first
// step, in the transaction s is bound to: they become visible together, so
// the operation is written final (not pending, without its changes). The
// root's change is conditional on its etag: a stale one (or any error)
// undoes everything. A step that cannot be sent does not undo the
// operation: it stays undispatched, for the redelivery timer.
func (s *Service) commitInTx(ctx context.Context, op *tre.Operation, changes []tre.ResourceChange) error {
	op.Changes = changes
	if err := s.applyChanges(ctx, op, false); err != nil {
		return err
	}
	op.Pending, op.Changes = false, nil
	etag, err := tre.CreateAs(ctx, s.store, tre.Operations, op.ID, op)
	if err != nil {
		return fmt.Errorf("lifecycle: save operation %s: %w", op.ID, err)
	}
	op.ETag = etag
	s.dispatchSoon(ctx, op.ID)
	return nil
}

var errRootNotApplied = errors.New("lifecycle: the operation's root change was not applied")

// errUnchanged, returned by updateOperation's function, leaves the
// operation as it is (no write).
var errUnchanged = errors.New("lifecycle: operation unchanged")

// applyChanges applies an operation's changes in order. The root's write
// is conditional on its recorded etag; in recovery (or for other
// resources) a stale etag means someone else wrote meanwhile, and the
// patch is applied to the current version.
func (s *Service) applyChanges(ctx context.Context, op *tre.Operation, recovering bool) error {
	for i, ch := range op.Changes {
		if err := s.applyChange(ctx, op, ch, i == 0 && !recovering); err != nil {
			if i == 0 && !tre.IsCode(err, tre.CodePreconditionFailed) {
				return fmt.Errorf("%w: %w", errRootNotApplied, err)
			}
			return err
		}
	}
	return nil
}

// applyChange writes one resource change of an operation, and the history
// snapshot of the state it replaced.
func (s *Service) applyChange(ctx context.Context, op *tre.Operation, ch tre.ResourceChange, strict bool) error {
	if ch.Create != nil {
		return s.applyCreate(ctx, op, *ch.Create)
	}
	h, err := s.applyResourcePatch(ctx, op, ch, strict)
	if err != nil {
		return err
	}
	if h != nil {
		if _, err := tre.CreateAs(ctx, s.store, tre.ResourceHistory, h.ID, h); err != nil && !tre.IsCode(err, tre.CodeConflict) {
			return fmt.Errorf("lifecycle: history of %s: %w", ch.ResourceID, err)
		}
	}
	return nil
}

// applyCreate writes a new resource, marked with the operation; one the
// operation wrote before a crash is left as it is.
func (s *Service) applyCreate(ctx context.Context, op *tre.Operation, r tre.Resource) error {
	r.LastOperationID = op.ID
	_, err := tre.CreateAs(ctx, s.store, tre.Resources, r.ID, &r)
	if tre.IsCode(err, tre.CodeConflict) {
		existing, gerr := s.getResource(ctx, r.ID)
		if gerr == nil && existing.LastOperationID == op.ID {
			return nil // applied before a crash
		}
	}
	if err != nil {
		return fmt.Errorf("lifecycle: create %s: %w", r.ID, err)
	}
	return nil
}

// applyResourcePatch applies a change's patch to the stored resource,
// marked with the operation (once: a resource the operation wrote before a
// crash is left as it is). Strict, the resource must still be at the
// change's etag (CodePreconditionFailed otherwise); else a concurrent
// write is retried on the current version. It returns the history
// snapshot to record: the change's, or a new one if the resource moved on
// since (nil for changes without history).
func (s *Service) applyResourcePatch(ctx context.Context, op *tre.Operation, ch tre.ResourceChange, strict bool) (*tre.ResourceHistoryItem, error) {
	etag, h := ch.ETag, ch.History
	for attempt := 0; ; attempt++ {
		r, err := s.getResource(ctx, ch.ResourceID)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: apply to %s: %w", ch.ResourceID, err)
		}
		if r.LastOperationID == op.ID {
			return h, nil // applied before a crash
		}
		if strict && etag != "" && r.ETag != etag {
			return nil, tre.Errorf(tre.CodePreconditionFailed, "the resource has changed since etag %s was read", etag)
		}
		if ch.History != nil && r.ETag != etag {
			snap := snapshot(op.ID, r) // the previous state is not the one recorded: snapshot it again
			h = &snap
		}
		applyPatch(r, ch.Patch)
		r.ResourceVersion++
		r.User, r.UpdatedWhen, r.LastOperationID, r.LastStepID = op.User, s.ts(), op.ID, ""
		_, err = tre.ReplaceAs(ctx, s.store, tre.Resources, r.ID, r.ETag, r)
		if tre.IsCode(err, tre.CodePreconditionFailed) {
			if strict {
				return nil, err
			}
			if attempt < 20 {
				etag = "" // someone else wrote: apply to the current version
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("lifecycle: apply to %s: %w", r.ID, err)
		}
		return h, nil
	}
}

func applyPatch(r *tre.Resource, p *tre.ResourcePatch) {
	if p == nil {
		return
	}
	if p.IsEnabled != nil {
		r.IsEnabled = *p.IsEnabled
	}
	if len(p.Properties) > 0 {
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		for k, v := range schema.DeepCopy(p.Properties) {
			r.Properties[k] = v
		}
	}
	dropReplacedRefs(r, p)
	for k, v := range p.SecretRefs {
		if r.SecretRefs == nil {
			r.SecretRefs = map[string]string{}
		}
		r.SecretRefs[k] = v
	}
	if p.TemplateVersion != "" {
		r.TemplateVersion = p.TemplateVersion
	}
	if p.DeploymentStatus != "" {
		r.DeploymentStatus = p.DeploymentStatus
	}
}

// dropReplacedRefs forgets the secret references under the properties a
// patch replaces: a patch replaces a top-level property whole, so a
// reference into its old value (an item of a longer array, a member the new
// object lacks) follows it out, unless the patch sends "REDACTED" at that
// place (keep the stored value) or stores a new one there.
func dropReplacedRefs(r *tre.Resource, p *tre.ResourcePatch) {
	for k := range p.Properties {
		top := tre.Pointer(k)
		for ptr := range r.SecretRefs {
			if ptr != top && !strings.HasPrefix(ptr, top+"/") {
				continue
			}
			if v, ok := tre.PointerGet(r.Properties, ptr); ok && v == tre.Redacted {
				if _, replaced := p.SecretRefs[ptr]; !replaced {
					continue
				}
			}
			delete(r.SecretRefs, ptr)
		}
	}
}

// finishCommit marks an operation as no longer pending.
func (s *Service) finishCommit(ctx context.Context, op *tre.Operation) error {
	return s.updateOperation(ctx, op.ID, func(o *tre.Operation) error {
		o.Pending, o.Changes = false, nil
		return nil
	}, op)
}

// updateOperation applies fn to the stored operation and replaces it with
// its etag, retrying on a concurrent write. If into is not nil it receives
// the result.
func (s *Service) updateOperation(ctx context.Context, id string, fn func(*tre.Operation) error, into *tre.Operation) error {
	return s.updateOperationFrom(ctx, id, nil, fn, into)
}

// updateOperationFrom is updateOperation whose first attempt starts from
// read, the operation as just read with its etag (nil: read it), instead
// of decoding it again. fn gets a copy of read whose steps and attempts
// are its own, and must change nothing else it shares with read (a map,
// a step's slices).
func (s *Service) updateOperationFrom(ctx context.Context, id string, read *tre.Operation, fn func(*tre.Operation) error, into *tre.Operation) error {
	for attempt := 0; ; attempt++ {
		var op *tre.Operation
		var err error
		if attempt == 0 && read != nil {
			cp := *read
			cp.Steps = slices.Clone(read.Steps)
			cp.Attempts = slices.Clone(read.Attempts)
			op = &cp
		} else if op, err = tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, id); err != nil {
			return fmt.Errorf("lifecycle: update operation %s: %w", id, err)
		}
		if err := fn(op); errors.Is(err, errUnchanged) {
			if into != nil {
				*into = *op
			}
			return nil
		} else if err != nil {
			return err
		}
		op.UpdatedWhen = s.ts()
		etag, err := tre.ReplaceAs(ctx, s.store, tre.Operations, id, op.ETag, op)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 50 {
			continue
		}
		if err != nil {
			return fmt.Errorf("lifecycle: update operation %s: %w", id, err)
		}
		op.ETag = etag
		if into != nil {
			*into = *op
		}
		return nil
	}
}

// recoverPending finishes or drops operations left pending by a crash: one whose
// root change was applied is completed (remaining changes applied, then
// dispatched); one whose root change never happened is deleted (its
// request never got an answer). Only operations older than RecoverAfter
// are touched, so a request still at work is never raced. Returns how many
// it completed and dropped.
func (s *Service) recoverPending(ctx context.Context) (completed, dropped int, err error) {
	pending, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("pending", true)}})
	if err != nil {
		return 0, 0, fmt.Errorf("lifecycle: recover: %w", err)
	}
	cutoff := tre.Timestamp(s.now().Add(-s.cfg.RecoverAfter))
	var errs []error
	for _, op := range pending {
		if op.CreatedWhen > cutoff || len(op.Changes) == 0 {
			continue
		}
		root, gerr := s.getResource(ctx, op.Changes[0].ResourceID)
		if gerr != nil && !tre.IsCode(gerr, tre.CodeNotFound) {
			errs = append(errs, gerr)
			continue
		}
		if gerr != nil || root.LastOperationID != op.ID {
			if derr := s.store.Delete(ctx, tre.Operations, op.ID, op.ETag); derr != nil && !tre.IsCode(derr, tre.CodeNotFound) {
				errs = append(errs, derr)
				continue
			}
			s.log.WarnContext(ctx, "dropped an operation whose change was never saved", "operation_id", op.ID, "resource_id", op.ResourceID)
			dropped++
			continue
		}
		if aerr := s.applyChanges(ctx, op, true); aerr != nil {
			errs = append(errs, aerr)
			continue
		}
		if ferr := s.finishCommit(ctx, op); ferr != nil {
			errs = append(errs, ferr)
			continue
		}
		s.log.WarnContext(ctx, "completed an operation interrupted by a crash", "operation_id", op.ID, "resource_id", op.ResourceID)
		completed++
		s.dispatchSoon(ctx, op.ID)
	}
	return completed, dropped, errors.Join(errs...)
}

// dispatchSoon sends the operation's next step now; a failure is logged
// and left to the redelivery job (the step stays undispatched).
func (s *Service) dispatchSoon(ctx context.Context, opID string) {
	if err := s.dispatch(ctx, opID); err != nil {
		s.afterCommit(func() {
			s.log.WarnContext(ctx, "dispatch deferred to redelivery", "operation_id", opID, "error", err.Error())
		})
	}
}

// dispatch sends the request message of an operation's next step, if that
// step is waiting to be sent. The step is marked dispatched only after the
// send succeeded; sending twice is harmless (the message id is the step id,
// and ingestion is idempotent).
func (s *Service) dispatch(ctx context.Context, opID string) error {
	op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, opID)
	if err != nil {
		return fmt.Errorf("lifecycle: dispatch %s: %w", opID, err)
	}
	i := op.NextStep()
	if op.Pending || i < 0 || op.Steps[i].Status.Phase() != tre.PhaseAwaiting || op.Steps[i].DispatchedWhen != 0 {
		return nil
	}
	step := op.Steps[i]
	if step.Kind == tre.StepFirewall {
		return s.dispatchFirewallStep(ctx, op, step)
	}
	msg, err := s.prepareStep(ctx, op, step)
	if err != nil {
		if tre.IsCode(err, tre.CodeUnavailable) {
			return err
		}
		// The step cannot run (a pipeline value is invalid, a target is
		// gone): it fails with the reason, and the operation with it.
		return s.failStep(ctx, op.ID, step.ID, err.Error())
	}
	return s.send(ctx, op, step, msg)
}

// send claims the step's send, sends its request and marks it dispatched;
// a step that ended meanwhile is withdrawn (a cancel follows its request).
func (s *Service) send(ctx context.Context, op *tre.Operation, step tre.OperationStep, msg *tre.ResourceRequest) error {
	msg.NotAfter = tre.Timestamp(s.now().Add(s.cfg.PickupLimit))
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("lifecycle: dispatch %s: %w", op.ID, err)
	}
	if s.sender == nil {
		return tre.Errorf(tre.CodeUnavailable, "no queue to send step %s to", step.ID)
	}
	if claimed, err := s.claimSend(ctx, op.ID, step); err != nil || !claimed {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, s.cfg.MutationTimeout)
	defer cancel()
	err = s.sender.Send(sendCtx, tre.QueueRequests, tre.Message{
		MessageID: requestMessageID(step), SessionID: step.ResourceID, CorrelationID: op.ID, Subject: step.ResourceAction, Body: body,
	})
	if err != nil {
		return fmt.Errorf("lifecycle: send step %s: %w", step.ID, err)
	}
	s.log.InfoContext(ctx, "step dispatched", "operation_id", op.ID, "step_id", step.ID, "resource_id", step.ResourceID,
		"action", step.ResourceAction, "attempt", step.Attempt)
	withdrawn := false
	err = s.updateOperation(ctx, op.ID, func(o *tre.Operation) error {
		st := o.Step(step.ID)
		if st == nil || st.Attempt != step.Attempt {
			return nil
		}
		if st.Status.Terminal() {
			withdrawn = true // cancelled or failed while we were sending
			return nil
		}
		if st.DispatchedWhen == 0 {
			st.DispatchedWhen = s.ts()
		}
		return nil
	}, nil)
	if err == nil && withdrawn {
		s.sendCancel(ctx, op.ID, step, tre.User{Name: "the control plane"}, "the step ended before it was sent")
	}
	return err
}

// claimSend records, conditionally on the operation's etag, that a send of
// step begins now; it reports false when the step is no longer waiting to
// be sent (failed, cancelled, sent by another). A send takes at most
// MutationTimeout, and the watchdog does not fail a step within that of
// its claim: either the watchdog's failure or the claim is written first,
// and the other sees it.
func (s *Service) claimSend(ctx context.Context, opID string, step tre.OperationStep) (bool, error) {
	claimed := false
	err := s.updateOperation(ctx, opID, func(o *tre.Operation) error {
		st := o.Step(step.ID)
		if st == nil || st.Attempt != step.Attempt || st.Status.Phase() != tre.PhaseAwaiting || st.DispatchedWhen != 0 {
			return errUnchanged
		}
		st.SendingWhen, claimed = s.ts(), true
		return nil
	}, nil)
	return claimed, err
}

// dispatchFirewallStep marks a firewall step sent and signals the firewall
// service, which runs it (the firewall-reconcile timer runs it too if this
// process stops first).
func (s *Service) dispatchFirewallStep(ctx context.Context, op *tre.Operation, step tre.OperationStep) error {
	opID := op.ID
	if s.firewall == nil {
		return s.failStep(ctx, opID, step.ID, "The firewall service is off on this control plane (TRE_FIREWALL=off), so the egress of this resource cannot be opened")
	}
	if step.TemplateStepID != tre.StepFirewall {
		if err := s.applyPipelineEgress(ctx, op, step); err != nil {
			if tre.IsCode(err, tre.CodeUnavailable) {
				return err
			}
			return s.failStep(ctx, opID, step.ID, err.Error())
		}
	}
	err := s.updateOperation(ctx, opID, func(o *tre.Operation) error {
		if st := o.Step(step.ID); st != nil && st.DispatchedWhen == 0 {
			st.DispatchedWhen = s.ts()
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	s.firewall.StepsDue()
	return nil
}

// requestMessageID is the message id of a step's request: the step id for
// its first run (so a re-send is a duplicate the queue drops), and
// step:attempt for retries (which must not be dropped).
func requestMessageID(step tre.OperationStep) string {
	if step.Attempt <= 1 {
		return step.ID
	}
	return fmt.Sprintf("%s:%d", step.ID, step.Attempt)
}

// prepareStep builds a step's request message. A pipeline step on another
// resource first writes that resource's new properties (substituted from
// the resource whose template defines the step), once: the write carries
// the step id.
func (s *Service) prepareStep(ctx context.Context, op *tre.Operation, step tre.OperationStep) (*tre.ResourceRequest, error) {
	if err := s.applyPipelineStep(ctx, op, step); err != nil {
		return nil, err
	}
	target, err := s.getResource(ctx, step.ResourceID)
	if err != nil {
		if tre.IsCode(err, tre.CodeNotFound) {
			return nil, tre.Errorf(tre.CodeConflict, "the resource %s of step %s no longer exists", step.ResourceID, step.TemplateStepID)
		}
		return nil, err
	}
	req := requestFor(op, step, target)
	t, err := s.TemplateOf(ctx, target)
	if err != nil {
		return nil, err
	}
	req.Parameters = withSchemaDefaults(req.Parameters, t)
	return req, nil
}

// withSchemaDefaults returns a resource's properties with the default of
// its template's schema for each top-level property it was created
// without: the bundle runs with the value the template says a property
// has when left out (AzureTRE's UI fills them in its forms; its API, and
// the clients that skip the UI, do not). The stored properties stay as
// given.
func withSchemaDefaults(props map[string]any, t *tre.Template) map[string]any {
	defs, _ := t.Schema["properties"].(map[string]any)
	var out map[string]any // a copy, made at the first default added
	for name, raw := range defs {
		node, _ := raw.(map[string]any)
		def, ok := node["default"]
		if _, given := props[name]; !ok || given || def == nil {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(props)+1)
			for k, v := range props {
				out[k] = v
			}
		}
		out[name] = schema.DeepCopy(def)
	}
	if out == nil {
		return props
	}
	return out
}

func requestFor(op *tre.Operation, step tre.OperationStep, r *tre.Resource) *tre.ResourceRequest {
	params := r.Properties
	if params == nil {
		params = map[string]any{}
	}
	return &tre.ResourceRequest{
		OperationID: op.ID, StepID: step.ID, Action: step.ResourceAction, Attempt: step.Attempt,
		ID: r.ID, Name: r.TemplateName, Version: r.TemplateVersion, Parameters: params,
		WorkspaceID: r.WorkspaceID, OwnerID: r.OwnerID, ParentWorkspaceServiceID: r.ParentWorkspaceServiceID,
		ResourceType: r.ResourceType, SecretRefs: r.SecretRefs,
	}
}

func (s *Service) applyPipelineStep(ctx context.Context, op *tre.Operation, step tre.OperationStep) error {
	source, err := s.getResource(ctx, step.SourceTemplateResourceID)
	if err != nil {
		return err
	}
	def, err := s.pipelineStepOf(ctx, source, op.Action, step.TemplateStepID)
	if step.TemplateStepID == tre.MainStepID {
		// A main step changes its own resource only when its template's
		// pipeline gives it properties (AzureTRE's azureml, health
		// services): a main step without a pipeline has none.
		if err != nil || len(def.Properties) == 0 {
			return nil
		}
	}
	if err != nil {
		return err
	}
	src, err := s.SubstitutionSource(ctx, source)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		target, err := s.getResource(ctx, step.ResourceID)
		if err != nil {
			return err
		}
		if target.LastStepID == step.ID {
			return nil // written before a crash
		}
		props, err := s.pipelineProperties(ctx, step, def, src, target)
		if err != nil {
			return err
		}
		h := snapshot(step.ID, target)
		applyPatch(target, &tre.ResourcePatch{Properties: props})
		target.ResourceVersion++
		target.User, target.UpdatedWhen, target.LastStepID = op.User, s.ts(), step.ID
		_, err = tre.ReplaceAs(ctx, s.store, tre.Resources, target.ID, target.ETag, target)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 20 {
			continue
		}
		if err != nil {
			return fmt.Errorf("lifecycle: pipeline step %s: %w", step.ID, err)
		}
		if _, err := tre.CreateAs(ctx, s.store, tre.ResourceHistory, h.ID, &h); err != nil && !tre.IsCode(err, tre.CodeConflict) {
			return fmt.Errorf("lifecycle: history of %s: %w", target.ID, err)
		}
		return nil
	}
}

// pipelineStepOf finds a step of the pipeline of source's template for an
// action. Returns CodeConflict when the template no longer has it.
func (s *Service) pipelineStepOf(ctx context.Context, source *tre.Resource, action, stepID string) (*tre.PipelineStep, error) {
	t, err := s.TemplateOf(ctx, source)
	if err != nil {
		return nil, err
	}
	for _, d := range t.Pipeline.Steps(action) {
		if d.StepID == stepID {
			return &d, nil
		}
	}
	return nil, tre.Errorf(tre.CodeConflict, "step %s is no longer in the pipeline of %s %s", stepID, t.Name, t.Version)
}

// pipelineProperties are the properties a pipeline step writes on its
// target, substituted from src and checked against the target's template.
// Returns CodeInvalid.
func (s *Service) pipelineProperties(ctx context.Context, step tre.OperationStep, def *tre.PipelineStep, src pipeline.Source, target *tre.Resource) (map[string]any, error) {
	props, err := pipeline.Apply(def.Properties, src, target.Properties)
	if err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "step %s: %s", step.TemplateStepID, tre.ErrorMessage(err))
	}
	if len(props) == 0 {
		return props, nil
	}
	tt, err := s.TemplateOf(ctx, target)
	if err != nil {
		return nil, err
	}
	v, err := schema.NewValidator(tt)
	if err != nil {
		return nil, err
	}
	validate := v.ValidateUpdate
	if step.ResourceAction == tre.ActionInstall {
		validate = v.ValidateSet // AzureTRE: an install's step may set any property of its template
	}
	if err := cmp.Or(validate(props), checkAddressSpaces(props)); err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "step %s sets properties of %s %s that its template rejects: %s",
			step.TemplateStepID, target.ResourceType, target.TemplateName, tre.ErrorMessage(err))
	}
	return props, nil
}

// pipelineSource is what {{ resource.… }} sees for r: r and its parents.
func (s *Service) SubstitutionSource(ctx context.Context, r *tre.Resource) (pipeline.Source, error) {
	src := pipeline.Source{Type: r.ResourceType, Resource: asMap(r)}
	switch r.ResourceType {
	case tre.TypeWorkspaceService:
		ws, err := s.getResource(ctx, r.WorkspaceID)
		if err != nil {
			return src, err
		}
		src.Parent = asMap(ws)
	case tre.TypeUserResource:
		svc, err := s.getResource(ctx, r.ParentWorkspaceServiceID)
		if err != nil {
			return src, err
		}
		ws, err := s.getResource(ctx, r.WorkspaceID)
		if err != nil {
			return src, err
		}
		src.Parent, src.GrandParent = asMap(svc), asMap(ws)
	}
	return src, nil
}

func asMap(r *tre.Resource) map[string]any {
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// failStep marks a step failed with msg and recomputes the operation.
func (s *Service) failStep(ctx context.Context, opID, stepID, msg string) error {
	_, err := s.ApplyStatus(ctx, s.failureUpdate(ctx, opID, stepID, msg))
	return err
}

// failStepIf fails a step only if still holds of it as stored when the
// failure is written: it is checked again inside the conditional write that
// records the failure, so a decision made on an older read never fails a
// step that has moved on since. Returns Applied when it failed the step.
func (s *Service) failStepIf(ctx context.Context, opID, stepID, msg string, still func(tre.OperationStep) bool) (Outcome, error) {
	upd := s.failureUpdate(ctx, opID, stepID, msg)
	var outcome Outcome
	err := s.atomicallyAhead(ctx, func(ctx context.Context, tx *Service) error {
		var err error
		outcome, err = tx.applyStatus(ctx, upd, still)
		return err
	})
	return outcome, err
}

func (s *Service) failureUpdate(ctx context.Context, opID, stepID, msg string) tre.StatusUpdate {
	op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, opID)
	if err != nil {
		return tre.StatusUpdate{OperationID: opID, StepID: stepID}
	}
	st := op.Step(stepID)
	if st == nil {
		return tre.StatusUpdate{OperationID: opID, StepID: stepID}
	}
	return tre.StatusUpdate{OperationID: opID, StepID: stepID, ID: st.ResourceID, Attempt: st.Attempt,
		Status: tre.StatusesFor(st.ResourceAction).Failed, Message: msg}
}

// redeliverDue dispatches every step that should have been sent by now:
// operations applied but never dispatched (a crash after the commit, a
// queue that was down), and next steps of multi-step operations whose
// dispatch failed. Returns how many it sent.
func (s *Service) redeliverDue(ctx context.Context) (int, error) {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.In("status", tre.InProgressStatuses()...), tre.Ne("pending", true),
	}})
	if err != nil {
		return 0, fmt.Errorf("lifecycle: redeliver: %w", err)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].CreatedWhen < ops[j].CreatedWhen })
	cutoff := tre.Timestamp(s.now().Add(-s.cfg.RedispatchAfter))
	sent := 0
	var errs []error
	for _, op := range ops {
		i := op.NextStep()
		if i < 0 || op.Steps[i].DispatchedWhen != 0 || op.Steps[i].Status.Phase() != tre.PhaseAwaiting || op.Steps[i].UpdatedWhen > cutoff {
			continue
		}
		if err := s.dispatch(ctx, op.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// Sweep runs the periodic upkeep: it recovers operations left pending by a
// crash, releases address spaces of resources that were never created,
// and sends steps that should have been sent. The redelivery timer (a
// ticker locally) calls it.
func (s *Service) Sweep(ctx context.Context) error {
	completed, dropped, errRecover := s.recoverPending(ctx)
	orphans, errOrphans := s.releaseOrphanAddresses(ctx)
	sent, errSend := s.redeliverDue(ctx)
	if completed+dropped+orphans+sent > 0 {
		s.log.InfoContext(ctx, "sweep", "recovered", completed, "dropped", dropped, "released_address_spaces", orphans, "redelivered", sent)
	}
	return errors.Join(errRecover, errOrphans, errSend)
}
