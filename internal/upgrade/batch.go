package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Apply plans a bulk upgrade and stores it as a batch, which Advance
// runs. Returns CodeInvalid.
func (s *Service) Apply(ctx context.Context, req Request, by tre.User) (*Batch, error) {
	plan, err := s.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	_, _ = normalize(&req) // the stored request shows the defaults used
	now := s.ts()
	b := &Batch{ID: s.newID(), Request: req, Status: BatchRunning, CreatedWhen: now, UpdatedWhen: now, CreatedBy: by, Items: plan.Items}
	for i := range b.Items {
		b.Items[i].Status = ItemPending
		if b.Items[i].Action == ActionSkip {
			b.Items[i].Status = ItemSkipped
		}
	}
	b.recount()
	if b.ETag, err = tre.CreateAs(ctx, s.store, tre.UpgradeBatches, b.ID, b); err != nil {
		return nil, fmt.Errorf("upgrade: store batch: %w", err)
	}
	s.log.InfoContext(ctx, "bulk upgrade applied", "upgrade_id", b.ID, "template_name", req.TemplateName, "to_version", req.ToVersion,
		"upgrade", plan.Summary.Upgrade, "skip", plan.Summary.Skip, "by", by.ID)
	s.poke()
	return b, nil
}

// Get returns a batch. Returns CodeInvalid (malformed id), CodeNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Batch, error) {
	if err := lifecycle.CheckID("upgrade_id", id); err != nil {
		return nil, err
	}
	b, err := tre.GetAs[Batch](ctx, s.store, tre.UpgradeBatches, id)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, tre.Errorf(tre.CodeNotFound, "Bulk upgrade does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("upgrade: get %s: %w", id, err)
	}
	return b, nil
}

// List returns every batch, newest first.
func (s *Service) List(ctx context.Context) ([]*Batch, error) {
	all, err := tre.QueryAs[Batch](ctx, s.store, tre.UpgradeBatches, tre.Query{})
	if err != nil {
		return nil, fmt.Errorf("upgrade: list: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedWhen > all[j].CreatedWhen })
	return all, nil
}

// Pause stops a running batch from starting upgrades (running ones
// finish). Returns CodeNotFound, CodeConflict.
func (s *Service) Pause(ctx context.Context, id string, by tre.User) (*Batch, error) {
	return s.control(ctx, id, func(b *Batch) error {
		if b.Status != BatchRunning {
			return tre.Errorf(tre.CodeConflict, "Bulk upgrade %s is %s: only a running one can be paused", b.ID, b.Status)
		}
		b.Status, b.StatusMessage = BatchPaused, "paused by "+who(by)
		return nil
	})
}

// Resume runs a paused batch again; its failure count starts anew.
// Returns CodeNotFound, CodeConflict.
func (s *Service) Resume(ctx context.Context, id string, by tre.User) (*Batch, error) {
	return s.control(ctx, id, func(b *Batch) error {
		if b.Status != BatchPaused {
			return tre.Errorf(tre.CodeConflict, "Bulk upgrade %s is %s: only a paused one can be resumed", b.ID, b.Status)
		}
		b.Status, b.StatusMessage, b.FailuresAtResume = BatchRunning, "resumed by "+who(by), b.Counts.Failed
		return nil
	})
}

// Cancel stops a batch for good: what has not started is cancelled,
// running upgrades finish. Returns CodeNotFound, CodeConflict.
func (s *Service) Cancel(ctx context.Context, id string, by tre.User) (*Batch, error) {
	return s.control(ctx, id, func(b *Batch) error {
		if b.Status != BatchRunning && b.Status != BatchPaused {
			return tre.Errorf(tre.CodeConflict, "Bulk upgrade %s is %s: it cannot be cancelled", b.ID, b.Status)
		}
		b.Status, b.StatusMessage = BatchCancelled, "cancelled by "+who(by)
		for i := range b.Items {
			if b.Items[i].Status == ItemPending {
				b.Items[i].Status, b.Items[i].EndedWhen = ItemCancelled, s.ts()
			}
		}
		return nil
	})
}

func (s *Service) control(ctx context.Context, id string, fn func(*Batch) error) (*Batch, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	b, err := s.update(ctx, id, fn)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "bulk upgrade changed", "upgrade_id", id, "status", b.Status, "message", b.StatusMessage)
	s.poke()
	return b, nil
}

func who(u tre.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

// update changes a batch with fn, retrying on a concurrent write.
func (s *Service) update(ctx context.Context, id string, fn func(*Batch) error) (*Batch, error) {
	for attempt := 0; ; attempt++ {
		b, err := tre.GetAs[Batch](ctx, s.store, tre.UpgradeBatches, id)
		if err != nil {
			return nil, fmt.Errorf("upgrade: update %s: %w", id, err)
		}
		before, _ := json.Marshal(b)
		if err := fn(b); err != nil {
			return nil, err
		}
		b.recount()
		if after, _ := json.Marshal(b); bytes.Equal(before, after) {
			return b, nil // nothing changed: no write (and no event)
		}
		b.UpdatedWhen = s.ts()
		etag, err := tre.ReplaceAs(ctx, s.store, tre.UpgradeBatches, id, b.ETag, b)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("upgrade: update %s: %w", id, err)
		}
		b.ETag = etag
		return b, nil
	}
}
