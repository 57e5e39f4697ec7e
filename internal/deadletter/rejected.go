package deadletter

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// RejectedMessage is a queue message the control plane refused to process
// because retrying could not help: it is kept, with the reason, where an
// admin can see it (and the queue is not left retrying it forever).
type RejectedMessage struct {
	ID            string  `json:"id"`
	Queue         string  `json:"queue"`
	MessageID     string  `json:"messageId"`
	SessionID     string  `json:"sessionId"`
	DeliveryCount int     `json:"deliveryCount"`
	Reason        string  `json:"reason"`
	OperationID   string  `json:"operationId,omitempty"`
	Body          string  `json:"body"`
	RejectedWhen  float64 `json:"rejectedWhen"`
}

// maxRejectedBody bounds what is kept of a rejected message's body.
const maxRejectedBody = 16 << 10

// MaxRejected caps the rejected messages kept: beyond it a refused
// message is logged (without its body) and not kept, so that whatever
// posts junk cannot grow the store without limit. An admin discards the
// kept ones to make room.
const MaxRejected = 1000

// Reject keeps a refused message. Recording the same message again
// (a redelivery) is not an error.
func (s *Service) Reject(ctx context.Context, m RejectedMessage) error {
	m.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:rejected:"+m.Queue+"/"+m.MessageID)).String()
	kept, err := s.store.Query(ctx, tre.RejectedMessages, tre.Query{Limit: s.maxRejected()})
	if err != nil {
		return fmt.Errorf("deadletter: count rejected messages: %w", err)
	}
	if len(kept) >= s.maxRejected() {
		s.log.Error("message rejected and not kept: the list of rejected messages is full (discard some)", "queue", m.Queue,
			"message_id", m.MessageID, "session_id", m.SessionID, "operation_id", m.OperationID, "reason", m.Reason, "kept", len(kept))
		return nil
	}
	if len(m.Body) > maxRejectedBody {
		m.Body = m.Body[:maxRejectedBody] + "…"
	}
	m.RejectedWhen = tre.Timestamp(s.now())
	_, err = tre.CreateAs(ctx, s.store, tre.RejectedMessages, m.ID, &m)
	if err != nil && !tre.IsCode(err, tre.CodeConflict) {
		return fmt.Errorf("deadletter: record rejected message %s: %w", m.MessageID, err)
	}
	s.log.WarnContext(ctx, "message rejected", "queue", m.Queue, "message_id", m.MessageID, "session_id", m.SessionID,
		"operation_id", m.OperationID, "reason", m.Reason)
	return nil
}

// Rejected lists the rejected messages, oldest first.
func (s *Service) Rejected(ctx context.Context) ([]*RejectedMessage, error) {
	list, err := tre.QueryAs[RejectedMessage](ctx, s.store, tre.RejectedMessages, tre.Query{})
	if err != nil {
		return nil, fmt.Errorf("deadletter: rejected messages: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].RejectedWhen < list[j].RejectedWhen })
	return list, nil
}

func (s *Service) maxRejected() int {
	if s.limit > 0 {
		return s.limit
	}
	return MaxRejected
}
