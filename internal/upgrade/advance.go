package upgrade

import (
	"context"
	"errors"
	"fmt"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Advance moves every active batch on: running upgrades that ended are
// recorded, a batch with too many failures pauses, and upgrades that may
// start are started. It runs under a lease, one instance at a time (it
// waits for the lease, or for ctx to end).
func (s *Service) Advance(ctx context.Context) error {
	held, release, err := s.lease.Hold(ctx)
	if err != nil {
		return err
	}
	defer release()
	active, err := tre.QueryAs[Batch](held, s.store, tre.UpgradeBatches, tre.Query{Where: []tre.Cond{tre.Eq("active", true)}})
	if err != nil {
		return fmt.Errorf("upgrade: active batches: %w", err)
	}
	var errs []error
	for _, b := range active {
		if err := s.advance(held, b.ID); err != nil {
			errs = append(errs, fmt.Errorf("upgrade %s: %w", b.ID, err))
		}
	}
	return errors.Join(errs...)
}

// advance does one round of one batch.
func (s *Service) advance(ctx context.Context, id string) error {
	var start []int
	b, err := s.update(ctx, id, func(b *Batch) error {
		if err := s.refresh(ctx, b); err != nil {
			return err
		}
		start = s.startable(b)
		for _, i := range start {
			b.Items[i].Status, b.Items[i].StartedWhen = ItemStarting, s.ts()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, i := range start {
		s.start(ctx, b, i)
	}
	return nil
}

// refresh records what became of the running items, and pauses a batch
// that failed too often.
func (s *Service) refresh(ctx context.Context, b *Batch) error {
	for i := range b.Items {
		it := &b.Items[i]
		switch it.Status {
		case ItemRunning:
			if err := s.follow(ctx, it); err != nil {
				return err
			}
		case ItemStarting:
			if err := s.adopt(ctx, it); err != nil {
				return err
			}
		}
	}
	b.recount()
	failed := b.Counts.Failed - b.FailuresAtResume
	if b.Status == BatchRunning && failed >= b.Request.StopAfterFailures {
		b.Status = BatchPaused
		b.StatusMessage = fmt.Sprintf("paused after %d failed upgrade(s) (stopAfterFailures %d): resume to go on", failed, b.Request.StopAfterFailures)
	}
	return nil
}

// follow records the outcome of a running item's operation.
func (s *Service) follow(ctx context.Context, it *Item) error {
	op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, it.OperationID)
	if err != nil {
		return fmt.Errorf("operation %s: %w", it.OperationID, err)
	}
	switch op.Status.Phase() {
	case tre.PhaseSucceeded:
		it.Status, it.EndedWhen, it.Message = ItemSucceeded, op.UpdatedWhen, ""
	case tre.PhaseFailed:
		it.Status, it.EndedWhen, it.Message = ItemFailed, op.UpdatedWhen, op.Message
	}
	return nil
}

// adopt finds the operation of an item whose start a crash interrupted:
// an upgrade of its resource made since it was marked. Without one, the
// item goes back to pending and starts again.
func (s *Service) adopt(ctx context.Context, it *Item) error {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.Eq("resourceId", it.ResourceID), tre.Eq("action", tre.ActionUpgrade), tre.Ge("createdWhen", it.StartedWhen-1),
	}})
	if err != nil {
		return fmt.Errorf("operations of %s: %w", it.ResourceID, err)
	}
	if len(ops) == 0 {
		it.Status, it.StartedWhen = ItemPending, 0
		return nil
	}
	it.Status, it.OperationID = ItemRunning, ops[0].ID
	return s.follow(ctx, it)
}

// startable are the pending items that may start now: a running batch,
// room under maxConcurrent, the parent's upgrade (if in the batch) done.
// A child whose parent's upgrade did not succeed is skipped.
func (s *Service) startable(b *Batch) []int {
	if b.Status != BatchRunning {
		return nil
	}
	status := map[string]string{}
	for _, it := range b.Items {
		status[it.ResourceID] = it.Status
	}
	room := b.Request.MaxConcurrent - b.Counts.Running
	var out []int
	for i := range b.Items {
		it := &b.Items[i]
		if it.Status != ItemPending || room <= 0 {
			continue
		}
		switch status[it.ParentID] {
		case "", ItemSucceeded:
			out = append(out, i)
			room--
		case ItemFailed, ItemSkipped, ItemCancelled:
			it.Status, it.ReasonCode, it.EndedWhen = ItemSkipped, ReasonParentFailed, s.ts()
			it.Reason = "the upgrade of its parent " + it.ParentID + " did not succeed"
		}
	}
	return out
}

// start requests the upgrade of item i, as the batch's creator, and
// records the operation or the refusal.
func (s *Service) start(ctx context.Context, b *Batch, i int) {
	it := b.Items[i]
	opID, startErr := s.patch(ctx, b, it)
	_, err := s.update(ctx, b.ID, func(nb *Batch) error {
		cur := &nb.Items[i]
		if cur.ResourceID != it.ResourceID || cur.Status != ItemStarting {
			return nil
		}
		if startErr != nil {
			cur.Status, cur.EndedWhen, cur.Message = ItemFailed, s.ts(), tre.ErrorMessage(startErr)
			return nil
		}
		cur.Status, cur.OperationID = ItemRunning, opID
		return nil
	})
	if err != nil {
		// The item stays "starting": the next round adopts its operation.
		s.log.WarnContext(ctx, "bulk upgrade item not recorded", "upgrade_id", b.ID, "resource_id", it.ResourceID, "error", err.Error())
		return
	}
	s.log.InfoContext(ctx, "bulk upgrade item started", "upgrade_id", b.ID, "resource_id", it.ResourceID, "operation_id", opID,
		"error", errText(startErr))
}

func (s *Service) patch(ctx context.Context, b *Batch, it Item) (string, error) {
	r, err := tre.GetAs[tre.Resource](ctx, s.store, tre.Resources, it.ResourceID)
	if err != nil {
		return "", err
	}
	version := b.Request.ToVersion
	op, err := s.lc.Patch(ctx, lifecycle.PatchRequest{
		Ref:             lifecycle.Ref{Type: r.ResourceType, WorkspaceID: r.WorkspaceID, ServiceID: r.ParentWorkspaceServiceID, ID: r.ID},
		TemplateVersion: &version, ETag: r.ETag, IfMatch: true, Force: b.Request.Force, User: b.CreatedBy,
	})
	if err != nil {
		return "", err
	}
	return op.ID, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
