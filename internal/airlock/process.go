package airlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// The processor's side: what the airlock-status-changed function does with
// each status change, and the outcome it sets. Every step is idempotent and
// its progress is recorded in the request (Stage) before the next one, so a
// message delivered again after a crash (or twice) resumes, and the outcome
// is written once: with the request's etag, only while the request is still
// in the status the message is about.

// Outcome says what processing a message did, for the logs.
type Outcome string

// errStale ends processing: the request left the status the message is
// about (another delivery finished the work).
var errStale = errors.New("airlock: the request has moved on")

// Process does the work of a status change: create a draft's container,
// move the files of a submitted, approved, rejected or blocked request to
// the next stage and set the outcome, delete a cancelled request's files.
// A message about an unknown request, or a status the request has left, is
// done (nothing to do). Errors are transient: the message is to be
// delivered again. Returns CodeInvalid for a malformed message.
func (s *Service) Process(ctx context.Context, msg tre.AirlockStatusChanged) (Outcome, error) {
	if err := s.Available(); err != nil {
		return "", err
	}
	if msg.RequestID == "" || msg.NewStatus == "" {
		return "", tre.Errorf(tre.CodeInvalid, "the status change names no request or no status")
	}
	r, err := s.load(ctx, msg.RequestID)
	if tre.IsCode(err, tre.CodeNotFound) {
		return "no such request", nil
	}
	if err != nil {
		return "", err
	}
	if r.Status != msg.NewStatus {
		return Outcome("request is " + string(r.Status) + " now: nothing to do"), nil
	}
	out, err := s.process(ctx, r, msg)
	if errors.Is(err, errStale) {
		return "request moved on meanwhile", nil
	}
	return out, err
}

func (s *Service) process(ctx context.Context, r *tre.AirlockRequest, msg tre.AirlockStatusChanged) (Outcome, error) {
	switch r.Status {
	case tre.AirlockDraft:
		c, err := s.cfg.Layout.Container(r, tre.AirlockDraft)
		if err != nil {
			return "", err
		}
		if err := s.blobs.CreateContainer(ctx, c); err != nil {
			return "", err
		}
		return Outcome("container " + c.String() + " ready"), nil
	case tre.AirlockCancelled:
		c, err := s.cfg.Layout.Container(r, msg.PreviousStatus)
		if err != nil {
			return "nothing to delete", nil
		}
		if err := s.blobs.DeleteContainer(ctx, c); err != nil {
			return "", err
		}
		return Outcome("container " + c.String() + " deleted"), nil
	}
	if _, ok := destination(r.Status); ok {
		return s.move(ctx, r)
	}
	return "nothing to do", nil
}

// source is the status whose account holds a request's files when it
// enters s: the draft's on submit, the in-progress one after.
func source(s tre.AirlockStatus) tre.AirlockStatus {
	if s == tre.AirlockSubmitted {
		return tre.AirlockDraft
	}
	return s
}

// move copies a request's files to the next stage, deletes them from the
// previous one, and sets the outcome.
func (s *Service) move(ctx context.Context, r *tre.AirlockRequest) (Outcome, error) {
	to, _ := destination(r.Status)
	src, err := s.cfg.Layout.Container(r, source(r.Status))
	if err != nil {
		return "", err
	}
	dst, err := s.cfg.Layout.Container(r, to)
	if err != nil {
		return "", err
	}
	st := r.Stage
	if st == nil || st.Status != r.Status {
		st = &tre.AirlockStage{Status: r.Status}
	}
	if !st.Copied {
		if r, err = s.copyFiles(ctx, r, st, src, dst); err != nil {
			return s.noFiles(ctx, r, err)
		}
	}
	if !st.SourceDeleted {
		if err := s.blobs.DeleteContainer(ctx, src); err != nil {
			return "", err
		}
		st.SourceDeleted = true
		if r, err = s.saveStage(ctx, r, st); err != nil {
			return "", err
		}
	}
	switch r.Status {
	case tre.AirlockSubmitted:
		return s.afterScan(ctx, r)
	case tre.AirlockApprovalInProgress:
		return s.finish(ctx, r, tre.AirlockApproved, "")
	case tre.AirlockRejectionInProgress:
		return s.finish(ctx, r, tre.AirlockRejected, "")
	default: // blocking: keep the scanner's verdict as the message
		return s.finish(ctx, r, tre.AirlockBlocked, r.StatusMessage)
	}
}

// errNoFiles says the source container holds nothing to move.
var errNoFiles = errors.New("airlock: no files")

// copyFiles copies every file of src to dst and records it in the
// request's progress; errNoFiles when there are none.
func (s *Service) copyFiles(ctx context.Context, r *tre.AirlockRequest, st *tre.AirlockStage, src, dst tre.BlobContainer) (*tre.AirlockRequest, error) {
	files, err := s.blobs.List(ctx, src)
	if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
		return r, err
	}
	if len(files) == 0 {
		return r, errNoFiles
	}
	if err := s.blobs.CreateContainer(ctx, dst); err != nil {
		return r, err
	}
	for _, f := range files {
		if err := s.blobs.Copy(ctx, src, dst, f.Name); err != nil {
			return r, fmt.Errorf("airlock: copy %s of %s to %s: %w", f.Name, r.ID, dst, err)
		}
	}
	st.Copied, st.CopiedWhen = true, s.timestamp()
	st.Files = make([]tre.AirlockFile, len(files))
	for i, f := range files {
		st.Files[i] = tre.AirlockFile(f)
	}
	return s.saveStage(ctx, r, st)
}

// noFiles ends a move whose copy failed: a request without files fails
// (AzureTRE's text at submission); other errors are returned.
func (s *Service) noFiles(ctx context.Context, r *tre.AirlockRequest, err error) (Outcome, error) {
	if !errors.Is(err, errNoFiles) {
		return "", err
	}
	msg := "Request did not contain any files."
	if r.Status != tre.AirlockSubmitted {
		msg = fmt.Sprintf("The files of the request are not in its %s storage any more.", source(r.Status))
	}
	return s.finish(ctx, r, tre.AirlockFailed, msg)
}

// saveStage records the processor's progress on a request still in the
// same status (errStale otherwise). It is bookkeeping: no new version.
func (s *Service) saveStage(ctx context.Context, r *tre.AirlockRequest, st *tre.AirlockStage) (*tre.AirlockRequest, error) {
	status := r.Status
	return s.update(ctx, r.ID, func(cur *tre.AirlockRequest) error {
		if cur.Status != status {
			return errStale
		}
		copied := *st
		cur.Stage = &copied
		return nil
	})
}

// finish sets the outcome of the processor's work: the request moves on
// from the status it was in, if it still is, once.
func (s *Service) finish(ctx context.Context, r *tre.AirlockRequest, to tre.AirlockStatus, message string) (Outcome, error) {
	status := r.Status
	after, err := s.update(ctx, r.ID, func(cur *tre.AirlockRequest) error {
		if cur.Status != status {
			return errStale
		}
		if status == tre.AirlockSubmitted && cur.Stage != nil && cur.Stage.Copied {
			cur.Files = cur.Stage.Files
		}
		return s.transition(cur, to, cur.UpdatedBy, message)
	})
	if err != nil {
		return "", err
	}
	s.log.InfoContext(ctx, "airlock request moved on", "airlock_request_id", after.ID, "from", status, "to", to, "message", message)
	s.record(ctx, after, "airlock-"+string(to), processorUser)
	s.flush(ctx, after)
	return Outcome(string(status) + " -> " + string(to)), nil
}

// afterScan decides a submitted request whose files are in the in-progress
// stage: to review when the scanner found every file clean (or there is no
// scanner), to blocking when it found one malicious, nothing yet while a
// verdict is pending (the sweep looks again), failed when the verdicts
// took longer than the scan limit.
func (s *Service) afterScan(ctx context.Context, r *tre.AirlockRequest) (Outcome, error) {
	if s.scanner == nil {
		return s.finish(ctx, r, tre.AirlockInReview, "")
	}
	dst, err := s.cfg.Layout.Container(r, tre.AirlockInReview)
	if err != nil {
		return "", err
	}
	var pending []string
	for _, f := range r.Stage.Files {
		res, err := s.scanner.Verdict(ctx, dst, f.Name)
		if tre.IsCode(err, tre.CodeNotFound) {
			return s.finish(ctx, r, tre.AirlockFailed, fmt.Sprintf("The file %s is not in the in-progress storage any more.", f.Name))
		}
		if err != nil {
			return "", fmt.Errorf("airlock: scan verdict on %s of %s: %w", f.Name, r.ID, err)
		}
		switch res.Verdict {
		case tre.VerdictPending:
			pending = append(pending, f.Name)
		case tre.VerdictClean:
		default:
			msg := string(res.Verdict)
			if res.Detail != "" {
				msg += " (" + f.Name + ": " + res.Detail + ")"
			}
			return s.finish(ctx, r, tre.AirlockBlockingInProgress, msg)
		}
	}
	if len(pending) > 0 {
		since := time.Duration((s.timestamp() - r.Stage.CopiedWhen) * float64(time.Second))
		if since > s.cfg.ScanLimit {
			return s.finish(ctx, r, tre.AirlockFailed, fmt.Sprintf("The malware scanner gave no verdict on %v within %s.", pending, s.cfg.ScanLimit))
		}
		return Outcome(fmt.Sprintf("waiting for the malware scan of %d file(s)", len(pending))), nil
	}
	msg := ""
	if s.scanner.StandIn() {
		msg = "No threats found by the scanner stand-in, which recognises only the EICAR test string: the files were not scanned for malware."
	}
	return s.finish(ctx, r, tre.AirlockInReview, msg)
}
