package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// sendStatus reports on the status queue (session = operation). The final
// status has a deterministic message id, so a re-send after a crash is
// dropped as a duplicate; start messages and heartbeats are unique. It
// retries a few times: a request is completed only after its final status
// was sent.
func (a *Agent) sendStatus(ctx context.Context, req *tre.ResourceRequest, status tre.Status, message string, outputs []tre.Output, tail string, final bool) error {
	upd := tre.StatusUpdate{OperationID: req.OperationID, StepID: req.StepID, ID: req.ID, Status: status, Message: message,
		Outputs: outputs, Agent: a.cfg.AgentID, SentAt: tre.Timestamp(a.now()), Attempt: req.Attempt}
	if !final {
		upd.LogTail = tail
	}
	body, err := json.Marshal(upd)
	if err != nil {
		return fmt.Errorf("processor: status: %w", err)
	}
	id := uuid.NewString()
	if final {
		id = fmt.Sprintf("%s:%d:%s", req.StepID, req.Attempt, status)
	}
	msg := tre.Message{MessageID: id, SessionID: req.OperationID, CorrelationID: req.ID, Subject: string(status), Body: body}
	backoff := a.cfg.SendBackoff
	for attempt := 1; ; attempt++ {
		err = a.queue.Send(ctx, tre.QueueStatus, msg)
		if err == nil || attempt == 5 || errors.Is(err, context.Canceled) {
			return err
		}
		a.sleep(ctx, backoff)
		backoff *= 2
	}
}

// tail keeps the last n bytes written to it.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func cancelMessage(c *tre.CancelRequest) string {
	msg := "cancelled by " + c.By
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	return msg
}
