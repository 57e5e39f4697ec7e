// Package servicebus implements the tre.Queue port on Azure Service Bus
// (azservicebus): the session queues workspacequeue and deploymentstatus
// and their dead-letter subqueues, as AzureTRE's API and Resource
// Processor use them.
//
// The adapter is thin: Service Bus already has sessions, peek-lock,
// renewal, settlement, dead-lettering and duplicate detection. What it adds
// is the port's contract at the edges: a session lock that is lost stays
// lost (the SDK would quietly re-attach a dropped session link and maybe get
// the lock back, with the messages redelivered), "no session" is
// tre.ErrNoSession, and replaying a dead letter survives duplicate
// detection.
//
// Its tests run the conformance suite against a fake broker (fakebroker/,
// on the npm package rhea), because no Service Bus emulator runs here.
package servicebus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tre-go/tre/internal/tre"
)

// Application properties the adapter reads or writes. The dead-letter ones
// are the broker's: it adds them to a dead-lettered message.
const (
	// PropertyOriginalMessageID carries a replayed message's own id: the
	// copy is sent under a new id, because duplicate detection would drop
	// the original one. Received messages show the original id again.
	PropertyOriginalMessageID = "tre-original-message-id"

	propertyDeadLetterReason      = "DeadLetterReason"
	propertyDeadLetterDescription = "DeadLetterErrorDescription"
)

// Queue is the Service Bus adapter of tre.Queue. It is safe for concurrent
// use.
type Queue struct {
	client *azservicebus.Client
	host   string       // the namespace's host name, for the spans
	tracer trace.Tracer // nil: no spans (SetTracing)

	mu       sync.Mutex
	senders  map[string]*azservicebus.Sender
	sessions map[*session]struct{}
	closed   bool
}

var _ tre.Queue = (*Queue)(nil)

// NewFromConnectionString returns a queue on the namespace of a connection
// string. Against a local broker the string ends in
// "UseDevelopmentEmulator=true" (plain AMQP on the endpoint's port). opts
// may be nil.
func NewFromConnectionString(connectionString string, opts *azservicebus.ClientOptions) (*Queue, error) {
	c, err := azservicebus.NewClientFromConnectionString(connectionString, opts)
	if err != nil {
		// The SDK names the key or part at fault, never the secret.
		return nil, tre.WrapError(tre.CodeInvalid, fmt.Errorf("servicebus: parse connection string: %w", err),
			"servicebus: the connection string is not valid")
	}
	q := newQueue(c)
	q.host = connectionHost(connectionString)
	return q, nil
}

// connectionHost is the host of a connection string's Endpoint.
func connectionHost(cs string) string {
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "Endpoint="); ok {
			if u, err := url.Parse(v); err == nil {
				return u.Hostname()
			}
		}
	}
	return ""
}

// New returns a queue on a namespace ("<name>.servicebus.windows.net")
// with an Entra ID credential: in Azure, the managed identity's. opts may be
// nil.
func New(namespace string, cred azcore.TokenCredential, opts *azservicebus.ClientOptions) (*Queue, error) {
	c, err := azservicebus.NewClient(namespace, cred, opts)
	if err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, fmt.Errorf("servicebus: new client: %w", err),
			"servicebus: namespace %q and credential are not usable", namespace)
	}
	q := newQueue(c)
	q.host = namespace
	return q, nil
}

func newQueue(c *azservicebus.Client) *Queue {
	return &Queue{client: c, senders: map[string]*azservicebus.Sender{}, sessions: map[*session]struct{}{}}
}

func checkQueue(queue string) error {
	if !tre.KnownQueue(queue) {
		return tre.Errorf(tre.CodeInvalid, "unknown queue %q", queue)
	}
	return nil
}

// unavailable wraps any failure of the namespace the port has no code for.
func unavailable(op string, err error) error {
	if isCancel(err) {
		return fmt.Errorf("servicebus: %s: %w", op, err)
	}
	return tre.WrapError(tre.CodeUnavailable, fmt.Errorf("servicebus: %s: %w", op, err), "The message queue (Service Bus) is not responding")
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// expired reports whether ctx's deadline has passed. The SDK can see that
// (and say context.DeadlineExceeded) a moment before ctx.Err() does.
func expired(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// lockLost reports whether err says a session or message lock is gone.
func lockLost(err error) bool {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeLockLost {
		return true
	}
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		switch amqpErr.Condition {
		case "com.microsoft:session-lock-lost", "com.microsoft:message-lock-lost", "com.microsoft:session-cannot-be-locked":
			return true
		}
	}
	return false
}

func (q *Queue) sender(queue string) (*azservicebus.Sender, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, tre.Errorf(tre.CodeUnavailable, "the queue is closed")
	}
	if s := q.senders[queue]; s != nil {
		return s, nil
	}
	s, err := q.client.NewSender(queue, nil)
	if err != nil {
		return nil, unavailable("new sender for "+queue, err)
	}
	q.senders[queue] = s
	return s, nil
}

func toSB(m tre.Message) *azservicebus.Message {
	out := &azservicebus.Message{
		MessageID: &m.MessageID,
		SessionID: &m.SessionID,
		Body:      m.Body,
	}
	if m.CorrelationID != "" {
		out.CorrelationID = &m.CorrelationID
	}
	if m.Subject != "" {
		out.Subject = &m.Subject
	}
	if len(m.Properties) > 0 {
		out.ApplicationProperties = make(map[string]any, len(m.Properties))
		for k, v := range m.Properties {
			out.ApplicationProperties[k] = v
		}
	}
	return out
}

// fromSB converts a received or peeked message. Properties the adapter or
// the broker added are taken out again.
func fromSB(m *azservicebus.ReceivedMessage) tre.Received {
	r := tre.Received{
		Message: tre.Message{
			MessageID: m.MessageID,
			Body:      m.Body,
		},
		DeliveryCount: int(m.DeliveryCount),
	}
	if m.SessionID != nil {
		r.SessionID = *m.SessionID
	}
	if m.CorrelationID != nil {
		r.CorrelationID = *m.CorrelationID
	}
	if m.Subject != nil {
		r.Subject = *m.Subject
	}
	if m.SequenceNumber != nil {
		r.SequenceNumber = *m.SequenceNumber
	}
	if m.EnqueuedTime != nil {
		r.EnqueuedAt = *m.EnqueuedTime
	}
	if m.LockToken != [16]byte{} {
		r.LockToken = uuid.UUID(m.LockToken).String()
	}
	for k, v := range m.ApplicationProperties {
		switch k {
		case propertyDeadLetterReason, propertyDeadLetterDescription:
			continue
		case PropertyOriginalMessageID:
			if id, ok := v.(string); ok {
				r.MessageID = id
				continue
			}
		}
		if r.Properties == nil {
			r.Properties = map[string]string{}
		}
		if s, ok := v.(string); ok {
			r.Properties[k] = s
		} else {
			r.Properties[k] = fmt.Sprint(v) // sent by someone else; the port's properties are strings
		}
	}
	return r
}

// Send implements tre.Queue. Messages go one by one, in order; a failure
// part way leaves the earlier ones sent, which a retry makes harmless
// (their ids are remembered for the duplicate window).
func (q *Queue) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	for i, m := range msgs {
		if m.SessionID == "" {
			return tre.FieldErrorf(tre.CodeInvalid, "sessionId", "message %d (%q) has no session id", i, m.MessageID)
		}
		if m.MessageID == "" {
			return tre.FieldErrorf(tre.CodeInvalid, "messageId", "message %d of session %q has no message id", i, m.SessionID)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	s, err := q.sender(queue)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		_, end := q.span(ctx, "send", queue, trace.SpanKindProducer,
			attribute.String("messaging.message.id", m.MessageID), attribute.String("messaging.message.conversation_id", m.SessionID))
		err := s.SendMessage(ctx, toSB(m), nil)
		end(err)
		if err != nil {
			return unavailable(fmt.Sprintf("send %s to %s", m.MessageID, queue), err)
		}
	}
	return nil
}

// AcceptNextSession implements tre.Queue. The SDK passes the context's
// deadline to the broker as its wait; without a deadline the broker waits
// its own time (a minute) and the call tries again until ctx ends.
func (q *Queue) AcceptNextSession(ctx context.Context, queue string) (tre.Session, error) {
	if err := checkQueue(queue); err != nil {
		return nil, err
	}
	for {
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, tre.Errorf(tre.CodeUnavailable, "the queue is closed")
		}
		r, err := q.client.AcceptNextSessionForQueue(ctx, queue, nil)
		if err == nil {
			s := &session{q: q, queue: queue, r: r, id: r.SessionID(), lockedUntil: r.LockedUntil(),
				inflight: map[string]*azservicebus.ReceivedMessage{}}
			q.mu.Lock()
			q.sessions[s] = struct{}{}
			q.mu.Unlock()
			return s, nil
		}
		if ctx.Err() != nil || isCancel(err) {
			return nil, fmt.Errorf("servicebus: accept session of %s: %w", queue, tre.ErrNoSession)
		}
		var sbErr *azservicebus.Error
		if errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeTimeout {
			continue // the broker's wait ended before ours
		}
		return nil, unavailable("accept session of "+queue, err)
	}
}

// deadLetterReceiver opens a peek-lock receiver on a queue's dead-letter
// subqueue; close it when done.
func (q *Queue) deadLetterReceiver(queue string) (*azservicebus.Receiver, error) {
	r, err := q.client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return nil, unavailable("open dead-letter queue of "+queue, err)
	}
	return r, nil
}

func closeReceiver(r interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Close(ctx)
}

// Ping implements tre.Queue: it peeks one message of the status queue's
// dead-letter queue, a round trip that locks nothing.
func (q *Queue) Ping(ctx context.Context) (err error) {
	ctx, end := q.span(ctx, "peek", tre.QueueStatus+"/$deadletterqueue", trace.SpanKindClient)
	defer func() { end(err) }()
	r, err := q.deadLetterReceiver(tre.QueueStatus)
	if err != nil {
		return err
	}
	defer closeReceiver(r)
	if _, err := r.PeekMessages(ctx, 1, nil); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// DeadLetters implements tre.Queue. It peeks (no locks), in sequence-number
// order. DeadLetteredAt stays zero: Service Bus does not say when.
func (q *Queue) DeadLetters(ctx context.Context, queue string) (_ []tre.DeadLetter, err error) {
	if err := checkQueue(queue); err != nil {
		return nil, err
	}
	ctx, end := q.span(ctx, "peek", queue+"/$deadletterqueue", trace.SpanKindClient)
	defer func() { end(err) }()
	r, err := q.deadLetterReceiver(queue)
	if err != nil {
		return nil, err
	}
	defer closeReceiver(r)
	var out []tre.DeadLetter
	var from int64
	for {
		page, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		if err != nil {
			return nil, unavailable("peek dead-letter queue of "+queue, err)
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, m := range page {
			d := tre.DeadLetter{Received: fromSB(m)}
			d.LockToken = ""
			if m.DeadLetterReason != nil {
				d.Reason = *m.DeadLetterReason
			}
			if m.DeadLetterErrorDescription != nil {
				d.Description = *m.DeadLetterErrorDescription
			}
			out = append(out, d)
		}
		from = out[len(out)-1].SequenceNumber + 1
	}
}

// Replay implements tre.Queue: it sends a copy under a new message id (the
// original id would be dropped as a duplicate; it travels in
// PropertyOriginalMessageID) and then completes the dead letter. The new id
// is derived from the dead letter, so a Replay retried after a failure
// between the two steps sends no second copy.
func (q *Queue) Replay(ctx context.Context, queue string, sequence int64) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	return q.takeDeadLetter(ctx, queue, sequence, "replay", func(r *azservicebus.Receiver, m *azservicebus.ReceivedMessage) error {
		orig := fromSB(m)
		props := map[string]any{}
		for k, v := range m.ApplicationProperties {
			props[k] = v
		}
		delete(props, propertyDeadLetterReason)
		delete(props, propertyDeadLetterDescription)
		props[PropertyOriginalMessageID] = orig.MessageID
		copyID := fmt.Sprintf("%s/replay/%d", orig.MessageID, sequence)
		out := toSB(orig.Message)
		out.MessageID = &copyID
		out.ApplicationProperties = props
		s, err := q.sender(queue)
		if err != nil {
			return err
		}
		if err := s.SendMessage(ctx, out, nil); err != nil {
			return unavailable(fmt.Sprintf("replay %s/%d: send", queue, sequence), err)
		}
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			return unavailable(fmt.Sprintf("replay %s/%d: complete dead letter", queue, sequence), err)
		}
		return nil
	})
}

// Discard implements tre.Queue.
func (q *Queue) Discard(ctx context.Context, queue string, sequence int64) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	return q.takeDeadLetter(ctx, queue, sequence, "discard", func(r *azservicebus.Receiver, m *azservicebus.ReceivedMessage) error {
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			return unavailable(fmt.Sprintf("discard %s/%d", queue, sequence), err)
		}
		return nil
	})
}

// deadLetterWait is how long takeDeadLetter waits for the dead-letter queue
// to deliver more before it decides the message is not there (held by
// someone else, or gone since the peek).
const deadLetterWait = 2 * time.Second

// takeDeadLetter receives dead letters in sequence order until it holds the
// one with sequence, runs fn on it, and gives the others back. There is no
// receive by sequence number for messages that are not deferred, so this
// is the way; the others' delivery counts go up by one. A peek first
// answers CodeNotFound without locking anything.
func (q *Queue) takeDeadLetter(ctx context.Context, queue string, sequence int64, op string,
	fn func(*azservicebus.Receiver, *azservicebus.ReceivedMessage) error) error {
	r, err := q.deadLetterReceiver(queue)
	if err != nil {
		return err
	}
	defer closeReceiver(r)
	notFound := tre.Errorf(tre.CodeNotFound, "no dead-lettered message %d in %s", sequence, queue)
	peeked, err := r.PeekMessages(ctx, 1, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &sequence})
	if err != nil {
		return unavailable(fmt.Sprintf("%s %s/%d: peek", op, queue, sequence), err)
	}
	if len(peeked) == 0 || peeked[0].SequenceNumber == nil || *peeked[0].SequenceNumber != sequence {
		return notFound
	}

	var held []*azservicebus.ReceivedMessage
	defer func() {
		// Give back what was received on the way, even if ctx has ended.
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, m := range held {
			r.AbandonMessage(actx, m, nil)
		}
	}()
	for {
		rctx, cancel := context.WithTimeout(ctx, deadLetterWait)
		batch, err := r.ReceiveMessages(rctx, 20, nil)
		cancel()
		if err != nil && ctx.Err() != nil {
			return unavailable(fmt.Sprintf("%s %s/%d: receive", op, queue, sequence), err)
		}
		if len(batch) == 0 {
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return unavailable(fmt.Sprintf("%s %s/%d: receive", op, queue, sequence), err)
			}
			return notFound
		}
		for i, m := range batch {
			if m.SequenceNumber == nil || *m.SequenceNumber != sequence {
				held = append(held, m)
				continue
			}
			held = append(held, batch[i+1:]...)
			return fn(r, m)
		}
	}
}

// Close implements tre.Queue. Open sessions are closed with it, so the
// broker frees them at once.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	sessions := make([]*session, 0, len(q.sessions))
	for s := range q.sessions {
		sessions = append(sessions, s)
	}
	senders := maps.Clone(q.senders)
	q.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range sessions {
		s.Close(ctx)
	}
	for _, s := range senders {
		s.Close(ctx)
	}
	if err := q.client.Close(ctx); err != nil {
		return fmt.Errorf("servicebus: close: %w", err)
	}
	return nil
}

// session is one accepted session. The lock is held by the receiver's link;
// once anything says it is gone (the time passed, the link failed, the
// broker answered lock lost) the session is lost for good and the receiver
// is closed, so the SDK cannot re-attach it behind our back.
type session struct {
	q     *Queue
	queue string
	r     *azservicebus.SessionReceiver
	id    string

	mu          sync.Mutex
	lockedUntil time.Time
	lost        bool
	closed      bool
	inflight    map[string]*azservicebus.ReceivedMessage // by lock token, until settled
}

func (s *session) ID() string { return s.id }

func (s *session) LockedUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockedUntil
}

func (s *session) lostErr(op string) error {
	return fmt.Errorf("servicebus: %s in session %s of %s: %w", op, s.id, s.queue, tre.ErrSessionLost)
}

// live returns the lock's expiry, or ErrSessionLost if it has passed (by
// our clock: the broker told us the time).
func (s *session) live(op string) (time.Time, error) {
	s.mu.Lock()
	lost := s.lost || s.closed || !time.Now().Before(s.lockedUntil)
	until := s.lockedUntil
	s.mu.Unlock()
	if lost {
		s.markLost()
		return time.Time{}, s.lostErr(op)
	}
	return until, nil
}

// markLost records the loss and closes the receiver (once).
func (s *session) markLost() {
	s.mu.Lock()
	already := s.lost || s.closed
	s.lost = true
	s.mu.Unlock()
	if !already {
		closeReceiver(s.r)
	}
}

// fail maps an error of an SDK call on the session.
func (s *session) fail(op string, err error) error {
	if lockLost(err) {
		s.markLost()
		return fmt.Errorf("servicebus: %s in session %s of %s: %w (%w)", op, s.id, s.queue, tre.ErrSessionLost, err)
	}
	return unavailable(fmt.Sprintf("%s in session %s of %s", op, s.id, s.queue), err)
}

// batchWait is how long Receive waits for each further message once it has
// one, as the SDK's own TimeAfterFirstMessage does.
const batchWait = 20 * time.Millisecond

// Receive asks the SDK for one message at a time. With more credit on the
// link, messages that arrive after ReceiveMessages returns are released by
// the SDK and sent again, while later ones may wait in its prefetch buffer:
// the session would come out of order. One credit keeps at most one message
// in flight.
func (s *session) Receive(ctx context.Context, max int) ([]*tre.Received, error) {
	if max <= 0 {
		return nil, tre.Errorf(tre.CodeInvalid, "receive needs max > 0, got %d", max)
	}
	out := []*tre.Received{}
	for len(out) < max {
		until, err := s.live("receive")
		if err != nil {
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
		// Stop waiting when the lock ends, to report that rather than wait
		// on a link the broker is about to detach.
		rctx, cancel := context.WithDeadline(ctx, until)
		if len(out) > 0 {
			rctx, cancel = context.WithTimeout(rctx, batchWait)
		}
		msgs, err := s.r.ReceiveMessages(rctx, 1, nil)
		cancel()
		if len(msgs) > 0 {
			s.mu.Lock()
			for _, m := range msgs {
				r := fromSB(m)
				s.inflight[r.LockToken] = m
				out = append(out, &r)
			}
			s.mu.Unlock()
			continue
		}
		if len(out) > 0 {
			return out, nil // an error, if any, comes back on the next call
		}
		switch {
		case err != nil && !isCancel(err):
			return nil, s.fail("receive", err)
		case err == nil && ctx.Err() == nil && rctx.Err() == nil:
			// The SDK returns early and empty only when the link failed,
			// and a session lock does not outlive its link.
			s.markLost()
			return nil, s.lostErr("receive")
		case ctx.Err() != nil || expired(ctx):
			return out, nil
		default:
			continue // the lock's time came; live decides (it may have been renewed)
		}
	}
	return out, nil
}

func (s *session) RenewLock(ctx context.Context) (time.Time, error) {
	if _, err := s.live("renew lock"); err != nil {
		return time.Time{}, err
	}
	if err := s.r.RenewSessionLock(ctx, nil); err != nil {
		return time.Time{}, s.fail("renew lock", err)
	}
	until := s.r.LockedUntil()
	s.mu.Lock()
	s.lockedUntil = until
	s.mu.Unlock()
	return until, nil
}

// settle runs one settlement of a message received in this session.
func (s *session) settle(op string, m *tre.Received, fn func(*azservicebus.ReceivedMessage) error) error {
	if _, err := s.live(op); err != nil {
		return err
	}
	s.mu.Lock()
	sm := s.inflight[m.LockToken]
	s.mu.Unlock()
	if sm == nil {
		return tre.Errorf(tre.CodeNotFound, "message %d was not received in session %s or is already settled", m.SequenceNumber, s.id)
	}
	if err := fn(sm); err != nil {
		return s.fail(op, err)
	}
	s.mu.Lock()
	delete(s.inflight, m.LockToken)
	s.mu.Unlock()
	return nil
}

func (s *session) Complete(ctx context.Context, m *tre.Received) error {
	return s.settle("complete", m, func(sm *azservicebus.ReceivedMessage) error {
		return s.r.CompleteMessage(ctx, sm, nil)
	})
}

func (s *session) Abandon(ctx context.Context, m *tre.Received) error {
	return s.settle("abandon", m, func(sm *azservicebus.ReceivedMessage) error {
		return s.r.AbandonMessage(ctx, sm, nil)
	})
}

func (s *session) DeadLetter(ctx context.Context, m *tre.Received, reason, description string) error {
	return s.settle("dead-letter", m, func(sm *azservicebus.ReceivedMessage) error {
		return s.r.DeadLetterMessage(ctx, sm, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &description})
	})
}

// Close closes the receiver, which frees the session on the broker. A lost
// session has nothing left to free.
func (s *session) Close(ctx context.Context) error {
	s.q.mu.Lock()
	delete(s.q.sessions, s)
	s.q.mu.Unlock()
	s.mu.Lock()
	done := s.lost || s.closed
	s.closed = true
	until := s.lockedUntil
	s.mu.Unlock()
	if done {
		return nil
	}
	if err := s.r.Close(ctx); err != nil && time.Now().Before(until) {
		return unavailable(fmt.Sprintf("close session %s of %s", s.id, s.queue), err)
	}
	return nil
}
