package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// QueueOptions configures the embedded queue. Zero values take Service
// Bus's defaults.
type QueueOptions struct {
	// LockDuration is how long a session lock lasts unless renewed
	// (default 1 minute).
	LockDuration time.Duration
	// MaxDeliveryCount is how many deliveries a message gets before it is
	// dead-lettered (default 10).
	MaxDeliveryCount int
	// DuplicateWindow is how long a MessageID is remembered (default 10
	// minutes).
	DuplicateWindow time.Duration
	// PollInterval caps how long a waiting receiver goes without looking at
	// the database. Sends in this process wake receivers at once; polling
	// is for other processes on the same file (default 250 ms).
	PollInterval time.Duration
	// Now is the clock that lock expiry and the duplicate window are
	// evaluated against (default time.Now).
	Now func() time.Time
	// Waiting, if set, is called each time a receiver finds nothing and
	// starts to wait: the conformance suite's signal that a receiver is
	// waiting, so it need not guess with a sleep.
	Waiting func()
}

func (o QueueOptions) withDefaults() QueueOptions {
	if o.LockDuration <= 0 {
		o.LockDuration = time.Minute
	}
	if o.MaxDeliveryCount <= 0 {
		o.MaxDeliveryCount = 10
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 10 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Queue is the message queue on SQLite, in the same file as the store. All
// state is in tables (messages with their lock, session locks, dead
// letters, remembered message ids), so a crash loses nothing: a session
// held by a dead process is free again when its lock expires, and its
// unsettled messages come back counted. Lock expiry is evaluated against
// the clock in each statement, not by timers.
//
// Receivers never hold the database while they wait: they look, sleep with
// a short backoff, and are woken at once by a Send (or any release) in this
// process.
type Queue struct {
	db    *DB
	owned bool // Close closes db
	opts  QueueOptions
	wake  *waker

	mu       sync.Mutex
	sessions map[*session]struct{} // open sessions, released by Close
	closed   chan struct{}
	once     sync.Once
}

var _ tre.Queue = (*Queue)(nil)

// NewQueue returns the queue on db; closing the queue leaves db open.
func NewQueue(db *DB, opts QueueOptions) *Queue {
	return &Queue{
		db:       db,
		opts:     opts.withDefaults(),
		wake:     wakerFor(db.Path()),
		sessions: map[*session]struct{}{},
		closed:   make(chan struct{}),
	}
}

// OpenQueue opens the database in dir and returns a queue that owns it.
func OpenQueue(ctx context.Context, dir string, opts QueueOptions) (*Queue, error) {
	db, err := Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	q := NewQueue(db, opts)
	q.owned = true
	return q, nil
}

// waker lets a Send wake receivers waiting in this process. It is shared by
// every Queue on the same file, so two handles (as the API and the
// processor have in local mode) see each other's sends.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

var wakers = struct {
	sync.Mutex
	m map[string]*waker
}{m: map[string]*waker{}}

func wakerFor(path string) *waker {
	wakers.Lock()
	defer wakers.Unlock()
	w := wakers.m[path]
	if w == nil {
		w = &waker{ch: make(chan struct{})}
		wakers.m[path] = w
	}
	return w
}

// wait returns a channel closed by the next notify. Take it before looking
// at the database, so a notify between the look and the sleep is not lost.
func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *waker) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// sleep waits for a wake-up, d, ctx or Close; it reports whether to look
// again.
func (q *Queue) sleep(ctx context.Context, woken <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		d = time.Millisecond
	}
	if q.opts.Waiting != nil {
		q.opts.Waiting()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-q.closed:
		return false
	case <-woken:
	case <-timer.C:
	}
	return true
}

// backoff grows the poll interval from 10 ms up to the configured cap.
func (q *Queue) backoff(d time.Duration) time.Duration {
	if d == 0 {
		return 10 * time.Millisecond
	}
	return min(2*d, q.opts.PollInterval)
}

func checkQueue(queue string) error {
	if !tre.KnownQueue(queue) {
		return tre.Errorf(tre.CodeInvalid, "unknown queue %q", queue)
	}
	return nil
}

func (q *Queue) checkOpen() error {
	select {
	case <-q.closed:
		return tre.Errorf(tre.CodeUnavailable, "the queue is closed")
	default:
		return nil
	}
}

func queueUnavailable(err error) error {
	return tre.WrapError(tre.CodeUnavailable, err, "The message queue is not responding")
}

// tx runs fn in one write transaction, durable or not (see the package
// doc). Errors that are already the port's (a *tre.Error, ErrSessionLost)
// pass through; others are unavailable.
func (q *Queue) tx(ctx context.Context, what string, durable bool, fn func(tx runner, now int64) error) error {
	err := q.db.write(ctx, durable, func(_ context.Context, x runner) error {
		return fn(x, q.opts.Now().UnixMilli())
	})
	if err != nil {
		var te *tre.Error
		if errors.As(err, &te) || errors.Is(err, tre.ErrSessionLost) {
			return err
		}
		return queueUnavailable(fmt.Errorf("sqlite: %s: %w", what, err))
	}
	return nil
}

// Send implements tre.Queue.
func (q *Queue) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	props, err := q.checkSend(queue, msgs)
	if err != nil || len(msgs) == 0 {
		return err
	}
	err = q.tx(ctx, "send to "+queue, true, func(tx runner, now int64) error {
		return q.send(ctx, tx, queue, msgs, props, now)
	})
	if err != nil {
		return err
	}
	q.wake.notify()
	return nil
}

// checkSend validates messages to send and returns their properties as
// stored.
func (q *Queue) checkSend(queue string, msgs []tre.Message) ([]string, error) {
	if err := checkQueue(queue); err != nil {
		return nil, err
	}
	if err := q.checkOpen(); err != nil {
		return nil, err
	}
	props := make([]string, len(msgs))
	for i, m := range msgs {
		if m.SessionID == "" {
			return nil, tre.FieldErrorf(tre.CodeInvalid, "sessionId", "message %d (%q) has no session id", i, m.MessageID)
		}
		if m.MessageID == "" {
			return nil, tre.FieldErrorf(tre.CodeInvalid, "messageId", "message %d of session %q has no message id", i, m.SessionID)
		}
		p, _ := json.Marshal(m.Properties) // a map of strings always marshals
		props[i] = string(p)
	}
	return props, nil
}

// send enqueues checked messages in a write transaction.
func (q *Queue) send(ctx context.Context, tx runner, queue string, msgs []tre.Message, props []string, now int64) error {
	window := now - q.opts.DuplicateWindow.Milliseconds()
	if _, err := tx.exec(ctx, `DELETE FROM queue_seen_ids WHERE queue = ? AND seen_at <= ?`, queue, window); err != nil {
		return err
	}
	for i, m := range msgs {
		var seenAt int64
		err := tx.queryRow(ctx, `SELECT seen_at FROM queue_seen_ids WHERE queue = ? AND message_id = ?`,
			queue, m.MessageID).Scan(&seenAt)
		if err == nil && seenAt > window {
			continue // a duplicate within the window is dropped, as Service Bus does
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO queue_seen_ids (queue, message_id, seen_at) VALUES (?, ?, ?)
			ON CONFLICT (queue, message_id) DO UPDATE SET seen_at = excluded.seen_at`, queue, m.MessageID, now); err != nil {
			return err
		}
		seq, err := nextSeq(ctx, tx, queue)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO queue_messages
			(queue, seq, session_id, message_id, correlation_id, subject, body, properties, enqueued_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			queue, seq, m.SessionID, m.MessageID, m.CorrelationID, m.Subject, m.Body, props[i], now); err != nil {
			return err
		}
	}
	return nil
}

// Atomically implements tre.Atomic for this queue and the store on the
// same database (NewStore on the DB the queue was opened with): one
// durable commit for everything fn writes and sends.
func (q *Queue) Atomically(ctx context.Context, fn func(ctx context.Context, store tre.Store, sender tre.Sender) error) error {
	if err := q.checkOpen(); err != nil {
		return err
	}
	return q.atomically(ctx, nil, fn)
}

// atomically runs fn in one durable transaction, or applies plan there
// instead if plan still holds (see AtomicallyAhead).
func (q *Queue) atomically(ctx context.Context, plan *plan, fn func(ctx context.Context, store tre.Store, sender tre.Sender) error) error {
	var fnErr error
	sent, held := false, false
	tried := false
	err := q.db.write(ctx, true, func(ctx context.Context, x runner) error {
		if plan != nil && !tried {
			tried = true
			var err error
			held, err = plan.apply(ctx, q, x)
			if held || err != nil && !errors.Is(err, errAgain) {
				sent = held && len(plan.sends) > 0
				return err
			}
			q.db.ahead.reran.Add(1)
			plan.forget(q.db.recent)
			if err != nil {
				return err // errAgain: the plan's writes are undone, and fn is called again
			}
		}
		held, sent = false, false
		fnErr = fn(ctx, txStore{docs{x}}, &txSender{q: q, x: x, sent: &sent})
		return fnErr
	})
	if err == nil && held {
		q.db.ahead.applied.Add(1) // counted once committed
	}
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		var te *tre.Error
		if errors.As(err, &te) {
			return err
		}
		return unavailable(fmt.Errorf("sqlite: transaction: %w", err))
	}
	if sent {
		q.wake.notify()
	}
	return nil
}

var _ tre.Atomic = (*Queue)(nil)

// txSender sends inside a transaction of Atomically.
type txSender struct {
	q    *Queue
	x    runner
	sent *bool
}

func (s *txSender) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	props, err := s.q.checkSend(queue, msgs)
	if err != nil || len(msgs) == 0 {
		return err
	}
	if err := s.q.send(ctx, s.x, queue, msgs, props, s.q.opts.Now().UnixMilli()); err != nil {
		return queueUnavailable(fmt.Errorf("sqlite: send to %s: %w", queue, err))
	}
	*s.sent = true
	return nil
}

// nextSeq hands out the queue's next sequence number. A counter, not
// max(seq)+1, so numbers of deleted messages are never reused.
func nextSeq(ctx context.Context, tx runner, queue string) (int64, error) {
	var seq int64
	err := tx.queryRow(ctx, `INSERT INTO queue_sequences (queue, last) VALUES (?, 1)
		ON CONFLICT (queue) DO UPDATE SET last = last + 1 RETURNING last`, queue).Scan(&seq)
	return seq, err
}

// reclaim frees the sessions of queue whose lock has expired: their
// unsettled messages come back (or are dead-lettered if they have had all
// their deliveries).
func (q *Queue) reclaim(ctx context.Context, tx runner, queue string, now int64) error {
	expired, err := column[string](ctx, tx, `SELECT session_id FROM queue_sessions WHERE queue = ? AND locked_until <= ?`, queue, now)
	if err != nil {
		return err
	}
	for _, id := range expired {
		if err := q.release(ctx, tx, queue, id, true, now); err != nil {
			return err
		}
	}
	return nil
}

// column runs a query of one column and returns its values.
func column[T any](ctx context.Context, tx runner, query string, args ...any) ([]T, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// release drops a session's lock and returns its locked messages. expired
// says the lock ran out, which counts as a delivery (and may dead-letter);
// a receiver that closes its session gives them back uncounted, as Service
// Bus does when a session link detaches.
func (q *Queue) release(ctx context.Context, tx runner, queue, sessionID string, expired bool, now int64) error {
	if !expired {
		if _, err := tx.exec(ctx, `UPDATE queue_messages SET lock_token = NULL, delivery_count = delivery_count - 1
			WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL`, queue, sessionID); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM queue_sessions WHERE queue = ? AND session_id = ?`, queue, sessionID)
		return err
	}
	spent, err := column[int64](ctx, tx, `SELECT seq FROM queue_messages
		WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL AND delivery_count >= ?`,
		queue, sessionID, q.opts.MaxDeliveryCount)
	if err != nil {
		return err
	}
	for _, seq := range spent {
		if err := q.deadLetter(ctx, tx, queue, seq, tre.ReasonMaxDeliveryCount, q.maxDeliveryDescription(), now); err != nil {
			return err
		}
	}
	if _, err := tx.exec(ctx, `UPDATE queue_messages SET lock_token = NULL
		WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL`, queue, sessionID); err != nil {
		return err
	}
	_, err = tx.exec(ctx, `DELETE FROM queue_sessions WHERE queue = ? AND session_id = ?`, queue, sessionID)
	return err
}

func (q *Queue) maxDeliveryDescription() string {
	return fmt.Sprintf("Message could not be consumed after %d delivery attempts.", q.opts.MaxDeliveryCount)
}

// deadLetter moves a message to the dead-letter table, keeping its sequence
// number.
func (q *Queue) deadLetter(ctx context.Context, tx runner, queue string, seq int64, reason, description string, now int64) error {
	if _, err := tx.exec(ctx, `INSERT INTO queue_dead_letters
		(queue, seq, session_id, message_id, correlation_id, subject, body, properties, enqueued_at, delivery_count,
		 reason, description, dead_lettered_at)
		SELECT queue, seq, session_id, message_id, correlation_id, subject, body, properties, enqueued_at, delivery_count,
		 ?, ?, ?
		FROM queue_messages WHERE queue = ? AND seq = ?`, reason, description, now, queue, seq); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `DELETE FROM queue_messages WHERE queue = ? AND seq = ?`, queue, seq)
	return err
}

// AcceptNextSession implements tre.Queue. Sessions are offered oldest
// message first.
func (q *Queue) AcceptNextSession(ctx context.Context, queue string) (tre.Session, error) {
	if err := checkQueue(queue); err != nil {
		return nil, err
	}
	var pause time.Duration
	for {
		if err := q.checkOpen(); err != nil {
			return nil, err
		}
		woken := q.wake.wait()
		s, nextExpiry, err := q.tryAccept(ctx, queue)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("sqlite: accept session of %s: %w", queue, tre.ErrNoSession)
			}
			return nil, err
		}
		if s != nil {
			return s, nil
		}
		pause = q.backoff(pause)
		d := pause
		if !nextExpiry.IsZero() {
			// Look again when the first held lock expires, not a poll later.
			d = min(d, nextExpiry.Sub(q.opts.Now())+time.Millisecond)
		}
		if !q.sleep(ctx, woken, d) {
			return nil, fmt.Errorf("sqlite: accept session of %s: %w", queue, tre.ErrNoSession)
		}
	}
}

func (q *Queue) tryAccept(ctx context.Context, queue string) (*session, time.Time, error) {
	// Most looks find nothing: they look on the readers first, and take
	// the writer only when there is a session to lock or a lock to reclaim.
	if idle, nextExpiry, err := q.nothingToAccept(ctx, queue); err != nil || idle {
		if err != nil {
			err = queueUnavailable(fmt.Errorf("sqlite: accept session of %s: %w", queue, err))
		}
		return nil, nextExpiry, err
	}
	var s *session
	var nextExpiry time.Time
	err := q.tx(ctx, "accept session of "+queue, false, func(tx runner, now int64) error {
		if err := q.reclaim(ctx, tx, queue, now); err != nil {
			return err
		}
		var id string
		err := tx.queryRow(ctx, `SELECT m.session_id FROM queue_messages m
			WHERE m.queue = ? AND m.lock_token IS NULL
			  AND NOT EXISTS (SELECT 1 FROM queue_sessions s WHERE s.queue = m.queue AND s.session_id = m.session_id)
			ORDER BY m.seq LIMIT 1`, queue).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			var first sql.NullInt64
			if err := tx.queryRow(ctx, `SELECT min(locked_until) FROM queue_sessions WHERE queue = ?`, queue).Scan(&first); err != nil {
				return err
			}
			if first.Valid {
				nextExpiry = time.UnixMilli(first.Int64)
			}
			return nil
		}
		if err != nil {
			return err
		}
		holder := uuid.NewString()
		until := now + q.opts.LockDuration.Milliseconds()
		if _, err := tx.exec(ctx, `INSERT INTO queue_sessions (queue, session_id, holder, locked_until) VALUES (?, ?, ?, ?)`,
			queue, id, holder, until); err != nil {
			return err
		}
		s = &session{q: q, queue: queue, id: id, holder: holder, lockedUntil: time.UnixMilli(until)}
		return nil
	})
	if err != nil || s == nil {
		return nil, nextExpiry, err
	}
	q.mu.Lock()
	q.sessions[s] = struct{}{}
	q.mu.Unlock()
	return s, time.Time{}, nil
}

// nothingToAccept reports, from the readers, that queue has no free
// session with messages and no expired lock, and when the first lock
// expires.
func (q *Queue) nothingToAccept(ctx context.Context, queue string) (bool, time.Time, error) {
	x := runner{d: q.db}
	var first sql.NullInt64
	if err := x.scan(ctx, `SELECT min(locked_until) FROM queue_sessions WHERE queue = ?`, []any{queue}, &first); err != nil {
		return false, time.Time{}, err
	}
	var nextExpiry time.Time
	if first.Valid {
		if first.Int64 <= q.opts.Now().UnixMilli() {
			return false, time.Time{}, nil
		}
		nextExpiry = time.UnixMilli(first.Int64)
	}
	var id string
	err := x.scan(ctx, `SELECT m.session_id FROM queue_messages m
		WHERE m.queue = ? AND m.lock_token IS NULL
		  AND NOT EXISTS (SELECT 1 FROM queue_sessions s WHERE s.queue = m.queue AND s.session_id = m.session_id)
		ORDER BY m.seq LIMIT 1`, []any{queue}, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nextExpiry, nil
	}
	return false, time.Time{}, err
}

// DeadLetters implements tre.Queue. Oldest first means in sequence-number
// (send) order, as Service Bus peeks its dead-letter queue.
func (q *Queue) DeadLetters(ctx context.Context, queue string) ([]tre.DeadLetter, error) {
	if err := checkQueue(queue); err != nil {
		return nil, err
	}
	if err := q.checkOpen(); err != nil {
		return nil, err
	}
	var out []tre.DeadLetter
	err := q.tx(ctx, "dead letters of "+queue, false, func(tx runner, now int64) error {
		// Expired locks first, so a message that just ran out of deliveries
		// is listed without waiting for a receiver to come by.
		if err := q.reclaim(ctx, tx, queue, now); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT seq, session_id, message_id, correlation_id, subject, body, properties,
			enqueued_at, delivery_count, reason, description, dead_lettered_at
			FROM queue_dead_letters WHERE queue = ? ORDER BY seq`, queue)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d tre.DeadLetter
			var props string
			var enqueued, at int64
			if err := rows.Scan(&d.SequenceNumber, &d.SessionID, &d.MessageID, &d.CorrelationID, &d.Subject, &d.Body,
				&props, &enqueued, &d.DeliveryCount, &d.Reason, &d.Description, &at); err != nil {
				return err
			}
			if d.Properties, err = decodeProperties(props); err != nil {
				return err
			}
			d.EnqueuedAt = time.UnixMilli(enqueued)
			d.DeadLetteredAt = time.UnixMilli(at)
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// Replay implements tre.Queue. The message gets a new sequence number (it
// goes to the back of its session) and a new delivery count; its id is not
// checked against the remembered ones.
func (q *Queue) Replay(ctx context.Context, queue string, sequence int64) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	if err := q.checkOpen(); err != nil {
		return err
	}
	err := q.tx(ctx, fmt.Sprintf("replay %s/%d", queue, sequence), true, func(tx runner, now int64) error {
		var one int
		err := tx.queryRow(ctx, `SELECT 1 FROM queue_dead_letters WHERE queue = ? AND seq = ?`, queue, sequence).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return tre.Errorf(tre.CodeNotFound, "no dead-lettered message %d in %s", sequence, queue)
		}
		if err != nil {
			return err
		}
		seq, err := nextSeq(ctx, tx, queue)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO queue_messages
			(queue, seq, session_id, message_id, correlation_id, subject, body, properties, enqueued_at)
			SELECT queue, ?, session_id, message_id, correlation_id, subject, body, properties, ?
			FROM queue_dead_letters WHERE queue = ? AND seq = ?`, seq, now, queue, sequence); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `DELETE FROM queue_dead_letters WHERE queue = ? AND seq = ?`, queue, sequence)
		return err
	})
	if err != nil {
		return err
	}
	q.wake.notify()
	return nil
}

// Discard implements tre.Queue.
func (q *Queue) Discard(ctx context.Context, queue string, sequence int64) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	if err := q.checkOpen(); err != nil {
		return err
	}
	return q.tx(ctx, fmt.Sprintf("discard %s/%d", queue, sequence), true, func(tx runner, _ int64) error {
		res, err := tx.exec(ctx, `DELETE FROM queue_dead_letters WHERE queue = ? AND seq = ?`, queue, sequence)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tre.Errorf(tre.CodeNotFound, "no dead-lettered message %d in %s", sequence, queue)
		}
		return nil
	})
}

// Ping implements tre.Queue.
func (q *Queue) Ping(ctx context.Context) error {
	if err := q.checkOpen(); err != nil {
		return err
	}
	var n int
	if err := (runner{d: q.db}).scan(ctx, `SELECT count(*) FROM queue_sequences WHERE 0`, nil, &n); err != nil {
		return queueUnavailable(fmt.Errorf("sqlite: queue ping: %w", err))
	}
	return nil
}

// Close implements tre.Queue. It releases the sessions this handle holds
// (their unsettled messages come back at once and uncounted, as when a
// Service Bus client closes), and closes the database if the queue opened
// it. A process that dies without Close leaves its locks to expire.
func (q *Queue) Close() error {
	var err error
	q.once.Do(func() {
		q.mu.Lock()
		open := make([]*session, 0, len(q.sessions))
		for s := range q.sessions {
			open = append(open, s)
		}
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range open {
			if cerr := s.Close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}
		close(q.closed)
		if q.owned {
			if cerr := q.db.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("sqlite: close queue: %w", cerr)
			}
		}
	})
	return err
}

func decodeProperties(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode properties: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// session is one session lock held through this handle. holder identifies
// the lock in queue_sessions: once the row is gone or names another holder,
// the lock is lost for good.
type session struct {
	q      *Queue
	queue  string
	id     string
	holder string

	mu          sync.Mutex
	lockedUntil time.Time
	lost        bool // the lock expired, was taken over, or the session was closed
}

func (s *session) ID() string { return s.id }

func (s *session) LockedUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockedUntil
}

func (s *session) lostErr(op string) error {
	return fmt.Errorf("sqlite: %s in session %s of %s: %w", op, s.id, s.queue, tre.ErrSessionLost)
}

// hold checks, inside a transaction, that this handle still holds the lock.
func (s *session) hold(ctx context.Context, tx runner, op string, now int64) error {
	s.mu.Lock()
	lost := s.lost
	s.mu.Unlock()
	if lost {
		return s.lostErr(op)
	}
	var holder string
	var until int64
	err := tx.queryRow(ctx, `SELECT holder, locked_until FROM queue_sessions WHERE queue = ? AND session_id = ?`,
		s.queue, s.id).Scan(&holder, &until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (holder != s.holder || until <= now)) {
		s.mu.Lock()
		s.lost = true
		s.mu.Unlock()
		return s.lostErr(op)
	}
	return err
}

func (s *session) Receive(ctx context.Context, max int) ([]*tre.Received, error) {
	if max <= 0 {
		return nil, tre.Errorf(tre.CodeInvalid, "receive needs max > 0, got %d", max)
	}
	var pause time.Duration
	for {
		if err := s.q.checkOpen(); err != nil {
			return nil, err
		}
		woken := s.q.wake.wait()
		got, err := s.tryReceive(ctx, max)
		if err != nil {
			if ctx.Err() != nil && !errors.Is(err, tre.ErrSessionLost) {
				return []*tre.Received{}, nil
			}
			return nil, err
		}
		if len(got) > 0 {
			return got, nil
		}
		pause = s.q.backoff(pause)
		// Wake up when the lock expires too, to report it rather than wait.
		d := min(pause, s.LockedUntil().Sub(s.q.opts.Now())+time.Millisecond)
		if !s.q.sleep(ctx, woken, d) {
			return []*tre.Received{}, nil
		}
	}
}

func (s *session) tryReceive(ctx context.Context, max int) ([]*tre.Received, error) {
	// As in tryAccept: a look on the readers first.
	if empty, err := s.nothingToReceive(ctx); err != nil || empty {
		return nil, err
	}
	var out []*tre.Received
	err := s.q.tx(ctx, "receive from "+s.queue, false, func(tx runner, now int64) error {
		if err := s.hold(ctx, tx, "receive", now); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT seq, message_id, correlation_id, subject, body, properties, enqueued_at, delivery_count
			FROM queue_messages WHERE queue = ? AND session_id = ? AND lock_token IS NULL ORDER BY seq LIMIT ?`,
			s.queue, s.id, max)
		if err != nil {
			return err
		}
		for rows.Next() {
			m := &tre.Received{Message: tre.Message{SessionID: s.id}}
			var props string
			var enqueued int64
			if err := rows.Scan(&m.SequenceNumber, &m.MessageID, &m.CorrelationID, &m.Subject, &m.Body, &props,
				&enqueued, &m.DeliveryCount); err != nil {
				rows.Close()
				return err
			}
			if m.Properties, err = decodeProperties(props); err != nil {
				rows.Close()
				return err
			}
			m.EnqueuedAt = time.UnixMilli(enqueued)
			m.DeliveryCount++
			m.LockToken = uuid.NewString()
			out = append(out, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range out {
			if _, err := tx.exec(ctx, `UPDATE queue_messages SET lock_token = ?, delivery_count = ? WHERE queue = ? AND seq = ?`,
				m.LockToken, m.DeliveryCount, s.queue, m.SequenceNumber); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nothingToReceive reports, from the readers, that the session has no
// message to receive; ErrSessionLost if its lock is gone.
func (s *session) nothingToReceive(ctx context.Context) (bool, error) {
	x := runner{d: s.q.db}
	if err := s.hold(ctx, x, "receive", s.q.opts.Now().UnixMilli()); err != nil {
		if errors.Is(err, tre.ErrSessionLost) {
			return false, err
		}
		return false, queueUnavailable(fmt.Errorf("sqlite: receive from %s: %w", s.queue, err))
	}
	var one int
	err := x.scan(ctx, `SELECT 1 FROM queue_messages WHERE queue = ? AND session_id = ? AND lock_token IS NULL LIMIT 1`,
		[]any{s.queue, s.id}, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, queueUnavailable(fmt.Errorf("sqlite: receive from %s: %w", s.queue, err))
	}
	return false, nil
}

// ReceiveSent implements tre.SentReceiver: a receive reads the messages in
// one transaction, which sees every send committed before it began.
func (s *session) ReceiveSent(ctx context.Context) ([]*tre.Received, error) {
	const batch = 100
	var out []*tre.Received
	for {
		got, err := s.tryReceive(ctx, batch)
		out = append(out, got...)
		if err != nil || len(got) < batch {
			return out, err
		}
	}
}

func (s *session) RenewLock(ctx context.Context) (time.Time, error) {
	var until int64
	err := s.q.tx(ctx, "renew session lock in "+s.queue, false, func(tx runner, now int64) error {
		if err := s.hold(ctx, tx, "renew lock", now); err != nil {
			return err
		}
		until = now + s.q.opts.LockDuration.Milliseconds()
		_, err := tx.exec(ctx, `UPDATE queue_sessions SET locked_until = ? WHERE queue = ? AND session_id = ? AND holder = ?`,
			until, s.queue, s.id, s.holder)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	t := time.UnixMilli(until)
	s.mu.Lock()
	s.lockedUntil = t
	s.mu.Unlock()
	return t, nil
}

// settle runs one settlement of m under the session lock; fn gets the
// message's delivery count.
func (s *session) settle(ctx context.Context, op string, m *tre.Received, fn func(tx runner, now int64, deliveries int) error) error {
	return s.q.tx(ctx, fmt.Sprintf("%s %s/%d", op, s.queue, m.SequenceNumber), false, func(tx runner, now int64) error {
		if err := s.hold(ctx, tx, op, now); err != nil {
			return err
		}
		var deliveries int
		err := tx.queryRow(ctx, `SELECT delivery_count FROM queue_messages
			WHERE queue = ? AND seq = ? AND session_id = ? AND lock_token = ?`,
			s.queue, m.SequenceNumber, s.id, m.LockToken).Scan(&deliveries)
		if errors.Is(err, sql.ErrNoRows) {
			return tre.Errorf(tre.CodeNotFound, "message %d is not locked by session %s (already settled?)", m.SequenceNumber, s.id)
		}
		if err != nil {
			return err
		}
		return fn(tx, now, deliveries)
	})
}

func (s *session) Complete(ctx context.Context, m *tre.Received) error {
	return s.settle(ctx, "complete", m, func(tx runner, _ int64, _ int) error {
		_, err := tx.exec(ctx, `DELETE FROM queue_messages WHERE queue = ? AND seq = ?`, s.queue, m.SequenceNumber)
		return err
	})
}

func (s *session) Abandon(ctx context.Context, m *tre.Received) error {
	err := s.settle(ctx, "abandon", m, func(tx runner, now int64, deliveries int) error {
		if deliveries >= s.q.opts.MaxDeliveryCount {
			return s.q.deadLetter(ctx, tx, s.queue, m.SequenceNumber, tre.ReasonMaxDeliveryCount, s.q.maxDeliveryDescription(), now)
		}
		_, err := tx.exec(ctx, `UPDATE queue_messages SET lock_token = NULL WHERE queue = ? AND seq = ?`, s.queue, m.SequenceNumber)
		return err
	})
	if err == nil {
		s.q.wake.notify()
	}
	return err
}

func (s *session) DeadLetter(ctx context.Context, m *tre.Received, reason, description string) error {
	return s.settle(ctx, "dead-letter", m, func(tx runner, now int64, _ int) error {
		return s.q.deadLetter(ctx, tx, s.queue, m.SequenceNumber, reason, description, now)
	})
}

// Close releases the lock if this handle still holds it; the unsettled
// messages come back with their delivery count as before they were
// received. Closing a lost session is not an error: there is nothing left
// to release.
func (s *session) Close(ctx context.Context) error {
	s.q.mu.Lock()
	delete(s.q.sessions, s)
	s.q.mu.Unlock()
	s.mu.Lock()
	lost := s.lost
	s.lost = true
	s.mu.Unlock()
	if lost {
		return nil
	}
	err := s.q.tx(ctx, "close session in "+s.queue, false, func(tx runner, now int64) error {
		var holder string
		var until int64
		err := tx.queryRow(ctx, `SELECT holder, locked_until FROM queue_sessions WHERE queue = ? AND session_id = ?`,
			s.queue, s.id).Scan(&holder, &until)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && holder != s.holder) {
			return nil // expired and already taken over or reclaimed
		}
		if err != nil {
			return err
		}
		return s.q.release(ctx, tx, s.queue, s.id, until <= now, now)
	})
	if err != nil {
		return err
	}
	s.q.wake.notify()
	return nil
}
