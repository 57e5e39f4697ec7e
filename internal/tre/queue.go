package tre

import (
	"context"
	"errors"
	"time"
)

// Queue names, AzureTRE's: requests to the Resource Processor, and status
// reports back from it. Both are session queues.
const (
	QueueRequests = "workspacequeue"
	QueueStatus   = "deploymentstatus"
)

// Queue is the message queue port, shaped after Azure Service Bus session
// queues: every message belongs to a session; one receiver at a time holds
// a session (an exclusive, renewable lock) and gets its messages in the
// order they were sent; a message is settled by Complete, Abandon (it comes
// back with DeliveryCount+1) or DeadLetter. A message delivered more than
// the queue's MaxDeliveryCount times is dead-lettered with the reason
// ReasonMaxDeliveryCount. A message sent with the MessageID of one sent in
// the last DuplicateWindow is dropped (so a re-send after a crash is
// harmless). When a session lock expires, the session is free again and its
// unsettled messages are delivered again (their DeliveryCount went up).
//
// Every adapter passes the conformance suite in internal/queuetest.
type Queue interface {
	Sender
	// AcceptNextSession locks the next session of the queue that has
	// messages and no holder. It waits until one is available or ctx ends,
	// then returns ErrNoSession (use a deadline on ctx as the wait time).
	AcceptNextSession(ctx context.Context, queue string) (Session, error)
	DeadLetterQueue
	// Ping checks that the queues answer. Returns CodeUnavailable.
	Ping(ctx context.Context) error
	// Close releases the adapter's connections.
	Close() error
}

// Sender is the part of Queue that sends: what a producer of messages
// needs.
type Sender interface {
	// Send enqueues messages on a queue, in order. A message without a
	// SessionID or MessageID is CodeInvalid.
	Send(ctx context.Context, queue string, msgs ...Message) error
}

// DeadLetterQueue is the part of Queue that reads and settles
// dead-lettered messages.
type DeadLetterQueue interface {
	// DeadLetters lists a queue's dead-lettered messages, oldest first.
	DeadLetters(ctx context.Context, queue string) ([]DeadLetter, error)
	// Replay moves a dead-lettered message back to its queue (a new
	// delivery count, duplicate detection bypassed). Returns CodeNotFound.
	Replay(ctx context.Context, queue string, sequence int64) error
	// Discard deletes a dead-lettered message. Returns CodeNotFound.
	Discard(ctx context.Context, queue string, sequence int64) error
}

// Session is one locked session of a queue, held by one receiver.
type Session interface {
	// ID is the session id.
	ID() string
	// Receive returns up to max messages of the session, in order, each
	// locked until settled or until the session lock expires. It waits for
	// at least one until ctx ends, then returns an empty slice and no error.
	// Returns ErrSessionLost if the lock expired.
	Receive(ctx context.Context, max int) ([]*Received, error)
	// RenewLock extends the session lock (and with it the locks of its
	// received messages) and returns the new expiry. Returns ErrSessionLost.
	RenewLock(ctx context.Context) (time.Time, error)
	// LockedUntil is when the session lock expires unless renewed.
	LockedUntil() time.Time
	// Complete removes a received message: it was handled.
	Complete(ctx context.Context, m *Received) error
	// Abandon releases a received message for redelivery.
	Abandon(ctx context.Context, m *Received) error
	// DeadLetter moves a received message to the dead-letter queue with a
	// reason (a short code) and a description (for humans).
	DeadLetter(ctx context.Context, m *Received, reason, description string) error
	// Close releases the session lock; unsettled messages are redelivered.
	Close(ctx context.Context) error
}

// SentReceiver is an optional capability of a Session: its queue can tell
// in one call which messages were sent to the session before the call (the
// embedded SQLite queue reads them in one transaction). The Resource
// Processor uses it, where it exists, instead of the marker round trip by
// which it otherwise learns that it has received them all.
type SentReceiver interface {
	// ReceiveSent receives, without waiting, every message sent to the
	// session before the call and not received yet (possibly none).
	// Returns ErrSessionLost.
	ReceiveSent(ctx context.Context) ([]*Received, error)
}

// Message is what a sender enqueues.
type Message struct {
	// MessageID identifies the message for duplicate detection.
	MessageID string
	// SessionID orders messages: one session's messages are delivered in
	// order, to one receiver at a time.
	SessionID     string
	CorrelationID string
	// Subject says what kind of message it is (Service Bus "Subject").
	Subject string
	Body    []byte
	// Properties are application properties (small strings).
	Properties map[string]string
}

// Received is a message as delivered to a receiver.
type Received struct {
	Message
	// SequenceNumber is unique per queue and increases in send order.
	SequenceNumber int64
	// DeliveryCount is 1 on the first delivery.
	DeliveryCount int
	EnqueuedAt    time.Time
	// LockToken identifies this delivery to the adapter.
	LockToken string
}

// DeadLetter is a dead-lettered message with why it was dead-lettered.
type DeadLetter struct {
	Received
	Reason      string
	Description string
	// DeadLetteredAt is when it was moved (zero if the broker does not say).
	DeadLetteredAt time.Time
}

// ReasonMaxDeliveryCount is the dead-letter reason of a message delivered
// more than MaxDeliveryCount times (Service Bus's own reason).
const ReasonMaxDeliveryCount = "MaxDeliveryCountExceeded"

// Queue errors callers branch on.
var (
	// ErrNoSession: no session became available before the context ended.
	ErrNoSession = errors.New("queue: no session available")
	// ErrSessionLost: the session lock expired (or was taken over); the
	// receiver must stop and let the messages be redelivered.
	ErrSessionLost = errors.New("queue: session lock lost")
)
