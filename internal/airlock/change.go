package airlock

import (
	"context"
	"errors"
	"fmt"

	"github.com/tre-go/tre/internal/tre"
)

// errUnchanged tells update that fn decided not to write.
var errUnchanged = errors.New("airlock: unchanged")

// update reads a request, applies fn and writes it back with its etag,
// again from a fresh read when another writer got there first. fn returns
// errUnchanged to write nothing (update then returns the request as read).
func (s *Service) update(ctx context.Context, id string, fn func(*tre.AirlockRequest) error) (*tre.AirlockRequest, error) {
	for attempt := 0; ; attempt++ {
		r, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(r); errors.Is(err, errUnchanged) {
			return r, nil
		} else if err != nil {
			return nil, err
		}
		r.Sending = len(r.Unsent) > 0
		etag, err := tre.ReplaceAs(ctx, s.store, tre.AirlockRequests, r.ID, r.ETag, r)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("airlock: write request %s: %w", id, err)
		}
		r.ETag = etag
		return r, nil
	}
}

// touch records a change that is not a status change (a first approval of
// two): a new version, the previous one in the history.
func (s *Service) touch(r *tre.AirlockRequest, by tre.User) {
	r.History = append(r.History, tre.AirlockHistoryItem{ResourceVersion: r.ResourceVersion, UpdatedWhen: r.UpdatedWhen,
		UpdatedBy: r.UpdatedBy, Properties: map[string]any{"previousStatus": string(r.Status)}})
	r.ResourceVersion++
	r.UpdatedBy, r.UpdatedWhen = by, s.timestamp()
}

// transition moves a request to a new status if the move is legal: a new
// version, the previous one in the history (AzureTRE's previousStatus), the
// processor's progress reset, and the change's messages queued in the
// request itself (sent by flush, again by the sweep after a crash).
// Returns CodeInvalid with AzureTRE's text for an illegal change.
func (s *Service) transition(r *tre.AirlockRequest, to tre.AirlockStatus, by tre.User, message string) error {
	if !Legal(r.Status, to) {
		return errIllegal()
	}
	from := r.Status
	s.touch(r, by)
	r.Status, r.StatusMessage, r.Stage = to, message, nil
	r.Unsent = append(r.Unsent, tre.AirlockChange{Version: r.ResourceVersion, Previous: from, Status: to, When: r.UpdatedWhen})
	return nil
}

// flush sends the messages of a request's unsent changes and then forgets
// them. A failure is logged and left for the sweep: the change itself is
// stored. It returns the request as it is after the flush.
func (s *Service) flush(ctx context.Context, r *tre.AirlockRequest) *tre.AirlockRequest {
	if len(r.Unsent) == 0 {
		return r
	}
	var sent []int
	for _, ch := range r.Unsent {
		if err := s.send(ctx, r, ch); err != nil {
			s.log.WarnContext(ctx, "airlock messages not sent; the sweep will send them", "airlock_request_id", r.ID, "version", ch.Version,
				"status", ch.Status, "error", err.Error())
			break // in order: a later change's messages wait for this one's
		}
		sent = append(sent, ch.Version)
	}
	if len(sent) == 0 {
		return r
	}
	after, err := s.update(ctx, r.ID, func(cur *tre.AirlockRequest) error {
		kept := cur.Unsent[:0]
		for _, ch := range cur.Unsent {
			if !containsInt(sent, ch.Version) {
				kept = append(kept, ch)
			}
		}
		if len(kept) == len(cur.Unsent) {
			return errUnchanged
		}
		cur.Unsent = kept
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "airlock messages sent but not marked; the sweep will send them again (duplicates are dropped)",
			"airlock_request_id", r.ID, "error", err.Error())
		return r
	}
	return after
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// send sends the messages of one change: to the processor when the new
// status has work for it, and to the notification topic always. Message
// ids are derived from the change, so a re-send is dropped as a duplicate.
func (s *Service) send(ctx context.Context, r *tre.AirlockRequest, ch tre.AirlockChange) error {
	if processed(ch.Status) {
		body, err := statusChangedEvent(r, ch)
		if err != nil {
			return err
		}
		if err := s.queue.Send(ctx, tre.QueueAirlockStatus, tre.Message{MessageID: messageID(r.ID, ch, "status"),
			SessionID: r.ID, CorrelationID: r.ID, Subject: tre.EventStatusChanged, Body: body}); err != nil {
			return fmt.Errorf("airlock: send status change of %s: %w", r.ID, err)
		}
	}
	body, err := s.notificationEvent(ctx, r, ch)
	if err != nil {
		return err
	}
	if err := s.queue.Send(ctx, tre.QueueAirlockNotification, tre.Message{MessageID: messageID(r.ID, ch, "notify"),
		SessionID: r.ID, CorrelationID: r.ID, Subject: tre.EventAirlockNotification, Body: body}); err != nil {
		return fmt.Errorf("airlock: send notification of %s: %w", r.ID, err)
	}
	return nil
}

func messageID(requestID string, ch tre.AirlockChange, kind string) string {
	return fmt.Sprintf("%s-v%d-%s", requestID, ch.Version, kind)
}
