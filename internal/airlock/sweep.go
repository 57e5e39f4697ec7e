package airlock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// SweepReport says what a sweep did.
type SweepReport struct {
	// Sent is how many requests had messages sent again.
	Sent int
	// Rescanned is how many submitted requests had their scan verdicts
	// looked at again; Decided how many of them moved on.
	Rescanned, Decided int
	// Failed is how many requests were failed for taking too long.
	Failed int
}

// Sweep is the airlock-sweep timer: it sends the messages of changes a
// crash left unsent, looks again at the scan verdicts of submitted
// requests whose files wait for them, and fails requests the processor has
// not moved on within the processing limit (their messages dead-lettered,
// say). Every request is tried; the first error is returned after.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	if err := s.Available(); err != nil {
		return rep, err
	}
	var errs []error
	unsent, err := tre.QueryAs[tre.AirlockRequest](ctx, s.store, tre.AirlockRequests, tre.Query{Where: []tre.Cond{tre.Eq("sending", true)}})
	if err != nil {
		return rep, fmt.Errorf("airlock: sweep: %w", err)
	}
	for _, r := range unsent {
		if after := s.flush(ctx, r); len(after.Unsent) < len(r.Unsent) {
			rep.Sent++
		} else {
			errs = append(errs, fmt.Errorf("airlock: messages of %s still unsent", r.ID))
		}
	}
	busy, err := tre.QueryAs[tre.AirlockRequest](ctx, s.store, tre.AirlockRequests, tre.Query{Where: []tre.Cond{
		tre.In("status", tre.AirlockSubmitted, tre.AirlockApprovalInProgress, tre.AirlockRejectionInProgress, tre.AirlockBlockingInProgress)}})
	if err != nil {
		return rep, fmt.Errorf("airlock: sweep: %w", err)
	}
	for _, r := range busy {
		if err := s.sweepOne(ctx, r, &rep); err != nil && !errors.Is(err, errStale) {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Service) sweepOne(ctx context.Context, r *tre.AirlockRequest, rep *SweepReport) error {
	if r.Status == tre.AirlockSubmitted && r.Stage != nil && r.Stage.Status == r.Status && r.Stage.Copied && r.Stage.SourceDeleted {
		rep.Rescanned++
		out, err := s.afterScan(ctx, r)
		if err != nil {
			return err
		}
		if strings.Contains(string(out), " -> ") {
			rep.Decided++
		}
		return nil
	}
	age := time.Duration((s.timestamp() - r.UpdatedWhen) * float64(time.Second))
	if age <= s.cfg.ProcessingLimit {
		return nil
	}
	msg := fmt.Sprintf("The airlock processor did not finish the %s step within %s (see the dead-lettered messages of %s).",
		r.Status, s.cfg.ProcessingLimit, tre.QueueAirlockStatus)
	if _, err := s.finish(ctx, r, tre.AirlockFailed, msg); err != nil {
		return err
	}
	rep.Failed++
	return nil
}
