// Package queuetest is the conformance suite of the tre.Queue port. Every
// adapter runs it (the embedded SQLite queue in its package tests, the
// Service Bus adapter against a local fake broker), so they keep one
// behaviour: sessions, peek-lock, renewal, settlement, dead-lettering and
// duplicate detection, as Service Bus session queues do.
//
// An in-process adapter runs the suite with RunControlled: it reads the
// suite's fake clock and tells the suite when a receiver starts waiting, so
// lock expiry, renewal and the duplicate window are decided by the test and
// the suite does not depend on the machine's speed. An external broker runs
// it with Run on real time: lock durations are short (under a second where
// a test needs a lock to expire), and every assertion about time holds
// however slow the machine is (a lower bound, or a check made only when the
// lock is known to be still held).
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// Options configures the queues a backend opens.
type Options struct {
	// LockDuration is the session lock lifetime (Service Bus: 30 s to
	// 5 min; tests use short ones).
	LockDuration time.Duration
	// MaxDeliveryCount is how many deliveries a message gets before it is
	// dead-lettered (Service Bus default 10).
	MaxDeliveryCount int
	// DuplicateWindow is how long a MessageID is remembered for duplicate
	// detection.
	DuplicateWindow time.Duration
	// Clock is the time the queues keep: with RunControlled a *FakeClock
	// whose Now the backend gives its adapter; with Run, RealClock.
	Clock Clock
	// Waiting, with RunControlled, is to be called by the adapter each time
	// a receiver (AcceptNextSession or Receive) finds nothing and starts to
	// wait; the suite uses it to send only once a receiver waits. With Run
	// it is nil.
	Waiting func()
	// waiting receives what Waiting signals.
	waiting chan struct{}
}

// Backend makes fresh, empty queues (tre.QueueRequests and tre.QueueStatus)
// for one test and returns a function that opens a tre.Queue on them with
// opts; each call opens a new handle on the same data.
type Backend func(t *testing.T, opts Options) (open func() tre.Queue)

// defaults are long enough that no lock expires and no duplicate window
// closes unless a test asks for it.
func defaults() Options {
	return Options{LockDuration: 30 * time.Second, MaxDeliveryCount: 10, DuplicateWindow: 10 * time.Minute}
}

// Run runs the whole suite on queues that keep real time (an external
// broker).
func Run(t *testing.T, backend Backend) { run(t, backend, false) }

// RunControlled runs the whole suite on an in-process adapter that takes
// Options.Clock's Now as its clock and calls Options.Waiting when a
// receiver waits.
func RunControlled(t *testing.T, backend Backend) { run(t, backend, true) }

func run(t *testing.T, backend Backend, controlled bool) {
	tests := []struct {
		name string
		opts func(*Options)
		fn   func(t *testing.T, opts Options, open func() tre.Queue)
	}{
		{"SendReceiveComplete", nil, testSendReceiveComplete},
		{"SendValidation", nil, testSendValidation},
		{"UnknownQueue", nil, testUnknownQueue},
		{"FIFOPerSession", nil, testFIFO},
		{"SequenceNumbers", nil, testSequenceNumbers},
		{"SessionExclusive", nil, testSessionExclusive},
		{"CloseRedelivers", nil, testCloseRedelivers},
		{"ConcurrentReceivers", nil, testConcurrentReceivers},
		{"NoSession", nil, testNoSession},
		{"AcceptWaits", nil, testAcceptWaits},
		{"ReceiveWaits", nil, testReceiveWaits},
		{"Abandon", nil, testAbandon},
		{"LockExpiry", func(o *Options) { o.LockDuration = 800 * time.Millisecond }, testLockExpiry},
		{"RenewLock", func(o *Options) { o.LockDuration = 800 * time.Millisecond }, testRenewLock},
		{"MaxDeliveryCount", func(o *Options) { o.MaxDeliveryCount = 3 }, testMaxDeliveryCount},
		{"MaxDeliveryCountOnExpiry", func(o *Options) {
			o.MaxDeliveryCount = 1
			o.LockDuration = 600 * time.Millisecond
		}, testMaxDeliveryCountOnExpiry},
		{"DeadLetter", nil, testDeadLetter},
		{"DeadLettersOldestFirst", nil, testDeadLettersOldestFirst},
		{"Replay", nil, testReplay},
		{"Discard", nil, testDiscard},
		{"DuplicateDetection", func(o *Options) { o.DuplicateWindow = 2 * time.Second }, testDuplicateDetection},
		{"QueuesSeparate", nil, testQueuesSeparate},
		{"ReceiveSent", nil, testReceiveSent},
		{"ReopenPersists", nil, testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := defaults()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			opts.Clock = RealClock{}
			if controlled {
				opts.Clock = NewFakeClock()
				waiting := make(chan struct{}, 1)
				opts.waiting = waiting
				opts.Waiting = func() {
					select {
					case waiting <- struct{}{}:
					default:
					}
				}
			}
			open := backend(t, opts)
			tc.fn(t, opts, open)
		})
	}
}

// openQueue opens a handle that the test closes when it ends.
func openQueue(t *testing.T, open func() tre.Queue) tre.Queue {
	t.Helper()
	q := open()
	t.Cleanup(func() { q.Close() })
	return q
}

func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func msg(session, id, body string) tre.Message {
	return tre.Message{SessionID: session, MessageID: id, Body: []byte(body)}
}

func send(t *testing.T, q tre.Queue, queue string, msgs ...tre.Message) {
	t.Helper()
	require.NoError(t, q.Send(timeout(t, 10*time.Second), queue, msgs...))
}

// accept locks the next session and closes it when the test ends.
func accept(t *testing.T, q tre.Queue, queue string) tre.Session {
	t.Helper()
	s, err := q.AcceptNextSession(timeout(t, 10*time.Second), queue)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// requireNoSession asserts that no session of queue becomes available
// within wait.
func requireNoSession(t *testing.T, q tre.Queue, queue string, wait time.Duration) {
	t.Helper()
	s, err := q.AcceptNextSession(timeout(t, wait), queue)
	if err == nil {
		s.Close(context.Background())
		require.Failf(t, "unexpected session", "session %q of %s was available", s.ID(), queue)
	}
	require.ErrorIs(t, err, tre.ErrNoSession)
}

// receiveN receives until it has n messages (failing if the session gives
// more, or fewer before the deadline).
func receiveN(t *testing.T, s tre.Session, n int) []*tre.Received {
	t.Helper()
	ctx := timeout(t, 10*time.Second)
	var got []*tre.Received
	for len(got) < n && ctx.Err() == nil {
		batch, err := s.Receive(ctx, n-len(got))
		require.NoError(t, err)
		require.LessOrEqual(t, len(batch), n-len(got), "Receive returned more than max")
		got = append(got, batch...)
	}
	require.Len(t, got, n, "messages received from session %s: %v", s.ID(), ids(got))
	return got
}

// requireEmpty asserts that the session delivers nothing more within wait.
func requireEmpty(t *testing.T, s tre.Session, wait time.Duration) {
	t.Helper()
	got, err := s.Receive(timeout(t, wait), 10)
	require.NoError(t, err)
	require.Empty(t, got, "unexpected messages: %v", ids(got))
}

// receiveUntil receives from s until a message with MessageID last arrives
// and returns all messages in order. A sentinel sent after the messages
// under test proves absence without waiting: the session is FIFO, so a
// message that was enqueued before the sentinel would arrive before it.
func receiveUntil(t *testing.T, s tre.Session, last string) []*tre.Received {
	t.Helper()
	ctx := timeout(t, 10*time.Second)
	var got []*tre.Received
	for ctx.Err() == nil {
		batch, err := s.Receive(ctx, 10)
		require.NoError(t, err)
		got = append(got, batch...)
		for _, m := range batch {
			if m.MessageID == last {
				return got
			}
		}
	}
	require.Failf(t, "sentinel not received", "waited for %s, got %v", last, ids(got))
	return nil
}

func complete(t *testing.T, s tre.Session, msgs ...*tre.Received) {
	t.Helper()
	for _, m := range msgs {
		require.NoError(t, s.Complete(timeout(t, 10*time.Second), m), "complete %s", m.MessageID)
	}
}

func deadLetters(t *testing.T, q tre.Queue, queue string) []tre.DeadLetter {
	t.Helper()
	dls, err := q.DeadLetters(timeout(t, 10*time.Second), queue)
	require.NoError(t, err)
	return dls
}

func ids(msgs []*tre.Received) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.MessageID
	}
	return out
}

func dlIDs(dls []tre.DeadLetter) []string {
	out := make([]string, len(dls))
	for i, d := range dls {
		out[i] = d.MessageID
	}
	return out
}

func requireCode(t *testing.T, err error, code tre.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, tre.ErrorCode(err), "error: %v", err)
}

// eventually polls cond every 50 ms until it holds or wait passes.
func eventually(t *testing.T, wait time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			require.Failf(t, "condition not met", "%s within %s", what, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forgetWaits drops a signal of an earlier wait, before a test starts the
// receiver it means to see waiting.
func forgetWaits(opts Options) {
	select {
	case <-opts.waiting:
	default:
	}
}

// receiverWaits returns once a receiver has started to wait
// (RunControlled). On real time it returns at once: the test then checks
// that the message is delivered, whether the receiver was already waiting
// or not.
func receiverWaits(t *testing.T, opts Options) {
	t.Helper()
	if opts.waiting == nil {
		return
	}
	select {
	case <-opts.waiting:
	case <-time.After(10 * time.Second):
		require.Fail(t, "no receiver started to wait")
	}
}

// expire moves the clock past a lock's expiry.
func expire(opts Options, lockedUntil time.Time) {
	if d := lockedUntil.Sub(opts.Clock.Now()) + 50*time.Millisecond; d > 0 {
		opts.Clock.Advance(d)
	}
}

// testReceiveSent: a session that can say which messages were sent to it
// (tre.SentReceiver) returns at once every one sent before the call, in
// order, locked as Receive locks them, and nothing when none is waiting.
// Adapters without the capability skip it.
func testReceiveSent(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("r1", "a", "1"))
	s := accept(t, q, tre.QueueRequests)
	sr, ok := s.(tre.SentReceiver)
	if !ok {
		t.Skip("the adapter's sessions are not tre.SentReceiver: the processor uses a marker round trip")
	}
	first := receiveN(t, s, 1)
	require.Equal(t, []string{"a"}, ids(first))
	got, err := sr.ReceiveSent(timeout(t, 5*time.Second))
	require.NoError(t, err)
	require.Empty(t, got, "nothing sent since")
	var batch []tre.Message
	for i := range 150 {
		batch = append(batch, msg("r1", "m"+strconv.Itoa(i), strconv.Itoa(i)))
	}
	send(t, q, tre.QueueRequests, batch...)
	got, err = sr.ReceiveSent(timeout(t, 5*time.Second))
	require.NoError(t, err)
	require.Len(t, got, 150, "every message sent before the call, past any batch size")
	for i, m := range got {
		require.Equal(t, "m"+strconv.Itoa(i), m.MessageID)
		require.Equal(t, 1, m.DeliveryCount)
	}
	complete(t, s, got[0])
	complete(t, s, first[0])
}

func testSendReceiveComplete(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	before := opts.Clock.Now()
	sent := tre.Message{
		MessageID:     "step-1",
		SessionID:     "resource-1",
		CorrelationID: "operation-1",
		Subject:       "install",
		Body:          []byte(`{"action":"install","parameters":{"size":"small"}}`),
		Properties:    map[string]string{"stepId": "step-1", "empty": "", "unicode": "héllo wörld"},
	}
	send(t, q, tre.QueueRequests, sent)

	s := accept(t, q, tre.QueueRequests)
	require.Equal(t, "resource-1", s.ID())
	require.True(t, s.LockedUntil().After(opts.Clock.Now()), "a new session lock lies in the future: %s", s.LockedUntil())

	m := receiveN(t, s, 1)[0]
	require.Equal(t, sent, m.Message, "every field round-trips")
	require.Equal(t, 1, m.DeliveryCount)
	require.Positive(t, m.SequenceNumber)
	require.NotEmpty(t, m.LockToken)
	require.WithinRange(t, m.EnqueuedAt, before.Add(-2*time.Second), opts.Clock.Now().Add(2*time.Second))

	complete(t, s, m)
	requireEmpty(t, s, 300*time.Millisecond)
	require.NoError(t, s.Close(context.Background()))
	// A completed message is gone: its session is not offered again.
	requireNoSession(t, q, tre.QueueRequests, 300*time.Millisecond)

	// A minimal message: no correlation id, subject or properties.
	send(t, q, tre.QueueRequests, msg("resource-2", "step-2", "plain"))
	s2 := accept(t, q, tre.QueueRequests)
	m2 := receiveN(t, s2, 1)[0]
	require.Equal(t, "step-2", m2.MessageID)
	require.Equal(t, "resource-2", m2.SessionID)
	require.Equal(t, []byte("plain"), m2.Body)
	require.Empty(t, m2.CorrelationID)
	require.Empty(t, m2.Subject)
	require.Empty(t, m2.Properties)
	require.Greater(t, m2.SequenceNumber, m.SequenceNumber)
	complete(t, s2, m2)
}

func testSendValidation(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	ctx := timeout(t, 10*time.Second)
	requireCode(t, q.Send(ctx, tre.QueueRequests, tre.Message{MessageID: "m"}), tre.CodeInvalid)
	requireCode(t, q.Send(ctx, tre.QueueRequests, tre.Message{SessionID: "s"}), tre.CodeInvalid)
	// One bad message rejects the whole call before anything is sent.
	requireCode(t, q.Send(ctx, tre.QueueRequests, msg("s", "ok", "x"), tre.Message{SessionID: "s"}), tre.CodeInvalid)
	require.NoError(t, q.Send(ctx, tre.QueueRequests), "sending nothing is a no-op")
	requireNoSession(t, q, tre.QueueRequests, 300*time.Millisecond)
}

func testUnknownQueue(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	ctx := timeout(t, 10*time.Second)
	requireCode(t, q.Send(ctx, "nope", msg("s", "m", "x")), tre.CodeInvalid)
	_, err := q.AcceptNextSession(ctx, "nope")
	requireCode(t, err, tre.CodeInvalid)
	_, err = q.DeadLetters(ctx, "nope")
	requireCode(t, err, tre.CodeInvalid)
	requireCode(t, q.Replay(ctx, "nope", 1), tre.CodeInvalid)
	requireCode(t, q.Discard(ctx, "nope", 1), tre.CodeInvalid)
}

// testFIFO: several senders interleave on one session; the receiver sees
// each sender's messages in the order they were sent, and the whole session
// in sequence-number order.
func testFIFO(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	other := openQueue(t, open)
	const senders, each, batch = 3, 15, 10

	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := q
			if g%2 == 1 {
				h = other // a second handle, as a second process would send
			}
			for i := range each {
				m := msg("ordered", fmt.Sprintf("s%d-%d", g, i), strconv.Itoa(i))
				m.Properties = map[string]string{"sender": strconv.Itoa(g), "i": strconv.Itoa(i)}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := h.Send(ctx, tre.QueueRequests, m)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("sender %d message %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	var msgs []tre.Message
	for i := range batch {
		m := msg("ordered", fmt.Sprintf("b-%d", i), strconv.Itoa(i))
		m.Properties = map[string]string{"sender": "batch", "i": strconv.Itoa(i)}
		msgs = append(msgs, m)
	}
	send(t, q, tre.QueueRequests, msgs...)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	s := accept(t, q, tre.QueueRequests)
	require.Equal(t, "ordered", s.ID())
	total := senders*each + batch
	var got []*tre.Received
	ctx := timeout(t, 20*time.Second)
	for len(got) < total && ctx.Err() == nil {
		b, err := s.Receive(ctx, 7)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), 7, "Receive returned more than max")
		complete(t, s, b...)
		got = append(got, b...)
	}
	require.Len(t, got, total)
	requireEmpty(t, s, 300*time.Millisecond)

	next := map[string]int{}
	seen := map[string]bool{}
	for i, m := range got {
		require.False(t, seen[m.MessageID], "%s delivered twice", m.MessageID)
		seen[m.MessageID] = true
		if i > 0 {
			require.Greater(t, m.SequenceNumber, got[i-1].SequenceNumber, "sequence numbers increase in delivery order")
		}
		sender, n := m.Properties["sender"], m.Properties["i"]
		require.Equal(t, strconv.Itoa(next[sender]), n, "sender %s: messages out of order at %s", sender, m.MessageID)
		next[sender]++
	}
}

func testSequenceNumbers(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("s1", "a", "a"))
	send(t, q, tre.QueueRequests, msg("s2", "b", "b"))
	send(t, q, tre.QueueRequests, msg("s1", "c", "c"))
	seq := map[string]int64{}
	for range 2 {
		s := accept(t, q, tre.QueueRequests)
		n := map[string]int{"s1": 2, "s2": 1}[s.ID()]
		for _, m := range receiveN(t, s, n) {
			seq[m.MessageID] = m.SequenceNumber
		}
	}
	require.Less(t, seq["a"], seq["b"])
	require.Less(t, seq["b"], seq["c"])
}

// testSessionExclusive: two receivers racing for sessions never get the same
// one, and a held session is not offered to anyone else.
func testSessionExclusive(t *testing.T, _ Options, open func() tre.Queue) {
	q1, q2 := openQueue(t, open), openQueue(t, open)
	send(t, q1, tre.QueueRequests, msg("A", "a1", "a"), msg("B", "b1", "b"))

	type result struct {
		s   tre.Session
		err error
	}
	results := make(chan result, 2)
	for _, q := range []tre.Queue{q1, q2} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := q.AcceptNextSession(ctx, tre.QueueRequests)
			results <- result{s, err}
		}()
	}
	held := map[string]tre.Session{}
	for range 2 {
		r := <-results
		require.NoError(t, r.err)
		t.Cleanup(func() { r.s.Close(context.Background()) })
		require.NotContains(t, held, r.s.ID(), "session %s was given to two receivers", r.s.ID())
		held[r.s.ID()] = r.s
	}
	require.Len(t, held, 2)
	require.Contains(t, held, "A")
	require.Contains(t, held, "B")

	// Both are held (with long locks): nobody else gets either.
	requireNoSession(t, q1, tre.QueueRequests, 500*time.Millisecond)
	requireNoSession(t, q2, tre.QueueRequests, 300*time.Millisecond)

	// Closing one frees it at once, well before its lock would expire.
	require.NoError(t, held["A"].Close(context.Background()))
	s := accept(t, q2, tre.QueueRequests)
	require.Equal(t, "A", s.ID())
	m := receiveN(t, s, 1)[0]
	require.Equal(t, "a1", m.MessageID)
	require.Equal(t, 1, m.DeliveryCount, "a message never received keeps its count when its session is released")
}

// testCloseRedelivers: closing a session with unsettled messages releases
// them for redelivery at once. Like Service Bus, a close does not count as a
// failed delivery (a lock that expires does).
func testCloseRedelivers(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("S", "m1", "body"))
	s := accept(t, q, tre.QueueRequests)
	first := receiveN(t, s, 1)[0]
	require.Equal(t, 1, first.DeliveryCount)
	require.NoError(t, s.Close(context.Background()))

	s2 := accept(t, openQueue(t, open), tre.QueueRequests)
	require.Equal(t, "S", s2.ID())
	again := receiveN(t, s2, 1)[0]
	require.Equal(t, "m1", again.MessageID)
	require.Equal(t, first.SequenceNumber, again.SequenceNumber)
	require.Equal(t, 1, again.DeliveryCount, "a session closed by its receiver does not count the delivery")
	complete(t, s2, again)
}

// testConcurrentReceivers: several receivers drain several sessions at once;
// every message is delivered exactly once, in order within its session, and
// no session is ever held by two receivers.
func testConcurrentReceivers(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	const sessions, perSession, workers = 8, 5, 3
	var all []tre.Message
	for i := range perSession {
		for s := range sessions {
			all = append(all, msg(fmt.Sprintf("s%d", s), fmt.Sprintf("s%d-%d", s, i), strconv.Itoa(i)))
		}
	}
	send(t, q, tre.QueueRequests, all...)

	var (
		mu      sync.Mutex
		held    = map[string]bool{}
		maxHeld int
		got     = map[string][]*tre.Received{}
		count   int
	)
	handles := make([]tre.Queue, workers)
	for w := range workers {
		handles[w] = openQueue(t, open)
	}
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- drain(handles[w], deadline, func(s tre.Session, acquired bool) error {
				mu.Lock()
				defer mu.Unlock()
				if acquired {
					if held[s.ID()] {
						return fmt.Errorf("session %s given to two receivers", s.ID())
					}
					held[s.ID()] = true
					maxHeld = max(maxHeld, len(held))
				} else {
					delete(held, s.ID())
				}
				return nil
			}, func(s tre.Session, m *tre.Received) {
				mu.Lock()
				defer mu.Unlock()
				got[s.ID()] = append(got[s.ID()], m)
				count++
			}, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return count == sessions*perSession
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, sessions*perSession, count)
	for s := range sessions {
		id := fmt.Sprintf("s%d", s)
		want := make([]string, perSession)
		for i := range perSession {
			want[i] = fmt.Sprintf("%s-%d", id, i)
		}
		require.Equal(t, want, ids(got[id]), "session %s in order, each message once", id)
		for _, m := range got[id] {
			require.Equal(t, 1, m.DeliveryCount, "%s was delivered before", m.MessageID)
			require.Equal(t, id, m.SessionID)
		}
	}
	require.GreaterOrEqual(t, maxHeld, 2, "receivers held sessions concurrently")
}

// drain is one receiver of testConcurrentReceivers: accept, receive until
// the session is empty, complete, close; until done() or the deadline.
func drain(q tre.Queue, deadline time.Time, track func(tre.Session, bool) error,
	record func(tre.Session, *tre.Received), done func() bool) error {
	for !done() {
		if time.Now().After(deadline) {
			return errors.New("receiver: deadline passed before all messages were received")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s, err := q.AcceptNextSession(ctx, tre.QueueRequests)
		cancel()
		if errors.Is(err, tre.ErrNoSession) {
			continue
		}
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		if err := track(s, true); err != nil {
			s.Close(context.Background())
			return err
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			batch, err := s.Receive(ctx, 3)
			cancel()
			if err != nil {
				return fmt.Errorf("receive %s: %w", s.ID(), err)
			}
			if len(batch) == 0 {
				break
			}
			for _, m := range batch {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := s.Complete(ctx, m)
				cancel()
				if err != nil {
					return fmt.Errorf("complete %s: %w", m.MessageID, err)
				}
				record(s, m)
			}
		}
		// Untrack before closing: once closed, another receiver may take it.
		if err := track(s, false); err != nil {
			return err
		}
		if err := s.Close(context.Background()); err != nil {
			return fmt.Errorf("close %s: %w", s.ID(), err)
		}
	}
	return nil
}

func testNoSession(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	start := time.Now()
	_, err := q.AcceptNextSession(timeout(t, 400*time.Millisecond), tre.QueueRequests)
	require.ErrorIs(t, err, tre.ErrNoSession)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "it waits for the deadline")

	// A cancelled context (no deadline) ends the wait the same way.
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(300*time.Millisecond, cancel)
	defer stop.Stop()
	_, err = q.AcceptNextSession(ctx, tre.QueueRequests)
	require.ErrorIs(t, err, tre.ErrNoSession)

	// Messages in the other queue do not make a session here.
	send(t, q, tre.QueueStatus, msg("op", "m", "x"))
	requireNoSession(t, q, tre.QueueRequests, 300*time.Millisecond)
}

// testAcceptWaits: a session that gets its first message while a receiver
// waits is given to that receiver.
func testAcceptWaits(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	forgetWaits(opts)
	type result struct {
		s   tre.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := q.AcceptNextSession(ctx, tre.QueueRequests)
		done <- result{s, err}
	}()
	receiverWaits(t, opts)
	send(t, openQueue(t, open), tre.QueueRequests, msg("late", "m1", "x"))
	select {
	case r := <-done:
		require.NoError(t, r.err)
		t.Cleanup(func() { r.s.Close(context.Background()) })
		require.Equal(t, "late", r.s.ID())
		require.Equal(t, "m1", receiveN(t, r.s, 1)[0].MessageID)
	case <-time.After(15 * time.Second):
		require.Fail(t, "AcceptNextSession did not return")
	}
}

// testReceiveWaits: Receive waits for a message sent to the held session
// while it waits, and returns empty (no error) when its context ends.
func testReceiveWaits(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("S", "m1", "1"))
	s := accept(t, q, tre.QueueRequests)
	complete(t, s, receiveN(t, s, 1)...)
	forgetWaits(opts)

	type result struct {
		msgs []*tre.Received
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msgs, err := s.Receive(ctx, 5)
		done <- result{msgs, err}
	}()
	receiverWaits(t, opts)
	send(t, openQueue(t, open), tre.QueueRequests, msg("S", "m2", "2"))
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Equal(t, []string{"m2"}, ids(r.msgs))
		require.Equal(t, 1, r.msgs[0].DeliveryCount)
		complete(t, s, r.msgs...)
	case <-time.After(15 * time.Second):
		require.Fail(t, "Receive did not return the new message")
	}

	start := time.Now()
	requireEmpty(t, s, 400*time.Millisecond)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "an empty Receive waits for its context")
}

func testAbandon(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("S", "m1", "one"), msg("S", "m2", "two"))
	s := accept(t, q, tre.QueueRequests)
	got := receiveN(t, s, 2)
	require.Equal(t, []string{"m1", "m2"}, ids(got))
	m1, m2 := got[0], got[1]

	require.NoError(t, s.Abandon(timeout(t, 10*time.Second), m1))
	again := receiveN(t, s, 1)[0]
	require.Equal(t, "m1", again.MessageID, "only the abandoned message comes back; m2 is still locked")
	require.Equal(t, 2, again.DeliveryCount)
	require.Equal(t, m1.SequenceNumber, again.SequenceNumber)
	require.Equal(t, []byte("one"), again.Body)

	complete(t, s, m2)
	require.NoError(t, s.Abandon(timeout(t, 10*time.Second), again))
	third := receiveN(t, s, 1)[0]
	require.Equal(t, "m1", third.MessageID)
	require.Equal(t, 3, third.DeliveryCount)
	complete(t, s, third)
	requireEmpty(t, s, 300*time.Millisecond)
	require.Empty(t, deadLetters(t, q, tre.QueueRequests))
}

// testLockExpiry: a receiver that stops renewing loses its session when the
// lock expires; another receiver gets it (not before) with the unsettled
// message counted again, and the old receiver is told its session is lost.
func testLockExpiry(t *testing.T, opts Options, open func() tre.Queue) {
	q1, q2 := openQueue(t, open), openQueue(t, open)
	send(t, q1, tre.QueueRequests, msg("S", "m1", "x"))
	old := accept(t, q1, tre.QueueRequests)
	first := receiveN(t, old, 1)[0]
	lockedUntil := old.LockedUntil()
	require.WithinDuration(t, opts.Clock.Now().Add(opts.LockDuration), lockedUntil, opts.LockDuration)

	// Not given away before the lock expires (checked against the clock
	// when a receiver gets it: on real time, the machine may be slower
	// than the lock).
	if early, err := q2.AcceptNextSession(timeout(t, 300*time.Millisecond), tre.QueueRequests); err == nil {
		at := opts.Clock.Now()
		early.Close(context.Background())
		require.False(t, at.Before(lockedUntil.Add(-50*time.Millisecond)),
			"session given away at %s, before its lock expired at %s", at, lockedUntil)
	} else {
		require.ErrorIs(t, err, tre.ErrNoSession)
	}
	expire(opts, lockedUntil)
	s := accept(t, q2, tre.QueueRequests)
	require.Equal(t, "S", s.ID())
	_, err := s.RenewLock(timeout(t, 10*time.Second))
	require.NoError(t, err)
	again := receiveN(t, s, 1)[0]
	require.Equal(t, "m1", again.MessageID)
	require.Equal(t, first.SequenceNumber, again.SequenceNumber)
	require.Equal(t, 2, again.DeliveryCount)

	ctx := timeout(t, 10*time.Second)
	_, err = old.Receive(timeout(t, 300*time.Millisecond), 1)
	require.ErrorIs(t, err, tre.ErrSessionLost, "Receive")
	_, err = old.RenewLock(ctx)
	require.ErrorIs(t, err, tre.ErrSessionLost, "RenewLock")
	require.ErrorIs(t, old.Complete(ctx, first), tre.ErrSessionLost, "Complete")
	require.ErrorIs(t, old.Abandon(ctx, first), tre.ErrSessionLost, "Abandon")
	require.ErrorIs(t, old.DeadLetter(ctx, first, "r", "d"), tre.ErrSessionLost, "DeadLetter")
	require.NoError(t, old.Close(ctx), "closing a lost session is clean")

	// Expiry alone loses the lock, with no other receiver taking over.
	expire(opts, s.LockedUntil())
	require.ErrorIs(t, s.Complete(ctx, again), tre.ErrSessionLost, "Complete after expiry")
	_, err = s.Receive(timeout(t, 300*time.Millisecond), 1)
	require.ErrorIs(t, err, tre.ErrSessionLost, "Receive after expiry")

	// The old holders' attempts changed nothing: the message is there, once.
	third := accept(t, q1, tre.QueueRequests)
	m := receiveN(t, third, 1)[0]
	require.Equal(t, "m1", m.MessageID)
	require.Equal(t, 3, m.DeliveryCount)
	complete(t, third, m)
	requireEmpty(t, third, 300*time.Millisecond)
	require.Empty(t, deadLetters(t, q1, tre.QueueRequests))
}

// testRenewLock: renewing keeps a session (and its received messages) past
// the original lock time.
func testRenewLock(t *testing.T, opts Options, open func() tre.Queue) {
	q1, q2 := openQueue(t, open), openQueue(t, open)
	send(t, q1, tre.QueueRequests, msg("S", "m1", "x"))
	s := accept(t, q1, tre.QueueRequests)
	m := receiveN(t, s, 1)[0]
	original := s.LockedUntil()

	last := original
	for !opts.Clock.Now().After(original.Add(opts.LockDuration / 2)) {
		opts.Clock.Advance(opts.LockDuration / 4)
		before := opts.Clock.Now()
		until, err := s.RenewLock(timeout(t, 10*time.Second))
		require.NoError(t, err)
		require.True(t, until.Equal(s.LockedUntil()), "LockedUntil %s is what RenewLock returned (%s)", s.LockedUntil(), until)
		require.True(t, until.After(before), "a renewed lock lies in the future")
		require.False(t, until.Before(last), "renewal never shortens the lock")
		last = until
	}
	require.True(t, last.After(original))

	// Still held past the original expiry: another receiver does not get
	// it (on real time, checked only while the renewed lock holds).
	if wait := last.Sub(opts.Clock.Now()) - 100*time.Millisecond; wait > 0 {
		requireNoSession(t, q2, tre.QueueRequests, min(wait, 300*time.Millisecond))
	}
	_, err := s.RenewLock(timeout(t, 10*time.Second))
	require.NoError(t, err)
	complete(t, s, m)
}

func testMaxDeliveryCount(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	sent := msg("S", "poison", "cannot be handled")
	sent.Properties = map[string]string{"kind": "poison"}
	send(t, q, tre.QueueRequests, sent)
	s := accept(t, q, tre.QueueRequests)
	var last *tre.Received
	for i := 1; i <= opts.MaxDeliveryCount; i++ {
		last = receiveN(t, s, 1)[0]
		require.Equal(t, i, last.DeliveryCount)
		require.NoError(t, s.Abandon(timeout(t, 10*time.Second), last))
	}
	requireEmpty(t, s, 300*time.Millisecond)

	dls := deadLetters(t, q, tre.QueueRequests)
	require.Len(t, dls, 1)
	dl := dls[0]
	require.Equal(t, sent, dl.Message)
	require.Equal(t, tre.ReasonMaxDeliveryCount, dl.Reason)
	require.Equal(t, opts.MaxDeliveryCount, dl.DeliveryCount)
	require.Positive(t, dl.SequenceNumber)
	require.Empty(t, deadLetters(t, q, tre.QueueStatus))
}

// testMaxDeliveryCountOnExpiry: a lock that expires counts as a delivery
// too; the last allowed one dead-letters the message without any receiver.
func testMaxDeliveryCountOnExpiry(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("S", "m1", "x"))
	s := accept(t, q, tre.QueueRequests)
	m := receiveN(t, s, 1)[0]
	require.Equal(t, 1, m.DeliveryCount)
	expire(opts, s.LockedUntil())

	var dls []tre.DeadLetter
	eventually(t, 10*time.Second, "the expired message is dead-lettered", func() bool {
		dls = deadLetters(t, q, tre.QueueRequests)
		return len(dls) == 1
	})
	require.Equal(t, "m1", dls[0].MessageID)
	require.Equal(t, tre.ReasonMaxDeliveryCount, dls[0].Reason)
	require.Equal(t, 1, dls[0].DeliveryCount)
	require.ErrorIs(t, s.Complete(timeout(t, 10*time.Second), m), tre.ErrSessionLost)
	requireNoSession(t, openQueue(t, open), tre.QueueRequests, 300*time.Millisecond)
}

func testDeadLetter(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	sent := tre.Message{
		MessageID: "bad", SessionID: "S", CorrelationID: "op-1", Subject: "install",
		Body: []byte(`{"unknown":"template"}`), Properties: map[string]string{"stepId": "st-1"},
	}
	send(t, q, tre.QueueRequests, sent, msg("S", "good", "fine"))
	s := accept(t, q, tre.QueueRequests)
	got := receiveN(t, s, 2)
	require.NoError(t, s.DeadLetter(timeout(t, 10*time.Second), got[0], "UnknownTemplate", "template tre-x 1.0 is not registered"))
	complete(t, s, got[1])
	requireEmpty(t, s, 300*time.Millisecond)

	dls := deadLetters(t, q, tre.QueueRequests)
	require.Len(t, dls, 1)
	dl := dls[0]
	require.Equal(t, sent, dl.Message, "the dead letter keeps the message as sent")
	require.Equal(t, "UnknownTemplate", dl.Reason)
	require.Equal(t, "template tre-x 1.0 is not registered", dl.Description)
	require.Equal(t, 1, dl.DeliveryCount)
	require.Positive(t, dl.SequenceNumber)
	if !dl.DeadLetteredAt.IsZero() {
		require.WithinRange(t, dl.DeadLetteredAt, got[0].EnqueuedAt.Add(-time.Second), opts.Clock.Now().Add(2*time.Second))
	}
	require.Empty(t, deadLetters(t, q, tre.QueueStatus))

	// The session goes on after a dead letter.
	send(t, q, tre.QueueRequests, msg("S", "next", "n"))
	require.Equal(t, "next", receiveN(t, s, 1)[0].MessageID)
}

func testDeadLettersOldestFirst(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	for _, id := range []string{"a", "b", "c"} {
		send(t, q, tre.QueueRequests, msg("S-"+id, id, "body-"+id))
	}
	for _, id := range []string{"a", "b", "c"} {
		// Sessions come in any order; dead-letter in send order.
		for attempt := 0; ; attempt++ {
			require.Less(t, attempt, 20, "session S-%s was never offered", id)
			s := accept(t, q, tre.QueueRequests)
			if s.ID() != "S-"+id {
				require.NoError(t, s.Close(context.Background()))
				continue
			}
			m := receiveN(t, s, 1)[0]
			require.NoError(t, s.DeadLetter(timeout(t, 10*time.Second), m, "reason-"+id, "description-"+id))
			require.NoError(t, s.Close(context.Background()))
			break
		}
	}
	dls := deadLetters(t, q, tre.QueueRequests)
	require.Equal(t, []string{"a", "b", "c"}, dlIDs(dls))
	for _, dl := range dls {
		require.Equal(t, "reason-"+dl.MessageID, dl.Reason)
		require.Equal(t, "description-"+dl.MessageID, dl.Description)
		require.Equal(t, []byte("body-"+dl.MessageID), dl.Body)
		require.Equal(t, "S-"+dl.MessageID, dl.SessionID)
	}
	require.Less(t, dls[0].SequenceNumber, dls[1].SequenceNumber)
	require.Less(t, dls[1].SequenceNumber, dls[2].SequenceNumber)
}

// deadLetterOne sends m, receives it and dead-letters it; it returns the
// dead letter as listed.
func deadLetterOne(t *testing.T, q tre.Queue, m tre.Message) tre.DeadLetter {
	t.Helper()
	send(t, q, tre.QueueRequests, m)
	s := accept(t, q, tre.QueueRequests)
	require.Equal(t, m.SessionID, s.ID())
	got := receiveN(t, s, 1)[0]
	require.NoError(t, s.DeadLetter(timeout(t, 10*time.Second), got, "Failed", "for the test"))
	require.NoError(t, s.Close(context.Background()))
	for _, dl := range deadLetters(t, q, tre.QueueRequests) {
		if dl.MessageID == m.MessageID {
			return dl
		}
	}
	require.Failf(t, "not dead-lettered", "%s", m.MessageID)
	return tre.DeadLetter{}
}

func testReplay(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	sent := tre.Message{
		MessageID: "step-9", SessionID: "res-9", CorrelationID: "op-9", Subject: "upgrade",
		Body: []byte(`{"v":2}`), Properties: map[string]string{"stepId": "step-9"},
	}
	dl := deadLetterOne(t, q, sent)

	require.NoError(t, q.Replay(timeout(t, 10*time.Second), tre.QueueRequests, dl.SequenceNumber))
	require.Empty(t, deadLetters(t, q, tre.QueueRequests), "a replayed message leaves the dead-letter queue")

	// Deliverable again although its MessageID was seen within the window.
	s := accept(t, q, tre.QueueRequests)
	require.Equal(t, "res-9", s.ID())
	m := receiveN(t, s, 1)[0]
	require.Equal(t, sent, m.Message, "the replayed message is the original")
	require.Equal(t, 1, m.DeliveryCount, "a replayed message starts a new delivery count")
	complete(t, s, m)

	// Replay does not re-arm the original id: a late duplicate is still
	// dropped (the sentinel proves nothing came before it).
	send(t, q, tre.QueueRequests, sent, msg("res-9", "sentinel", "s"))
	require.Equal(t, []string{"sentinel"}, ids(receiveUntil(t, s, "sentinel")))

	ctx := timeout(t, 10*time.Second)
	requireCode(t, q.Replay(ctx, tre.QueueRequests, dl.SequenceNumber), tre.CodeNotFound)
	requireCode(t, q.Replay(ctx, tre.QueueRequests, 987654321), tre.CodeNotFound)
}

func testDiscard(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	a := deadLetterOne(t, q, msg("s1", "a", "a"))
	b := deadLetterOne(t, q, msg("s2", "b", "b"))
	require.Equal(t, []string{"a", "b"}, dlIDs(deadLetters(t, q, tre.QueueRequests)))

	ctx := timeout(t, 10*time.Second)
	require.NoError(t, q.Discard(ctx, tre.QueueRequests, a.SequenceNumber))
	require.Equal(t, []string{"b"}, dlIDs(deadLetters(t, q, tre.QueueRequests)))
	requireCode(t, q.Discard(ctx, tre.QueueRequests, a.SequenceNumber), tre.CodeNotFound)
	requireCode(t, q.Replay(ctx, tre.QueueRequests, a.SequenceNumber), tre.CodeNotFound)
	requireCode(t, q.Discard(ctx, tre.QueueRequests, 987654321), tre.CodeNotFound)
	// A discarded message is not delivered either.
	requireNoSession(t, q, tre.QueueRequests, 300*time.Millisecond)

	require.NoError(t, q.Discard(ctx, tre.QueueRequests, b.SequenceNumber))
	require.Empty(t, deadLetters(t, q, tre.QueueRequests))
}

func testDuplicateDetection(t *testing.T, opts Options, open func() tre.Queue) {
	q := openQueue(t, open)
	firstSent := opts.Clock.Now()
	send(t, q, tre.QueueRequests, msg("S", "dup", "first"))
	send(t, openQueue(t, open), tre.QueueRequests, msg("S", "dup", "second"))
	send(t, q, tre.QueueRequests, msg("S", "x", "x1"), msg("S", "x", "x2"), msg("S", "end", "e"))

	s := accept(t, q, tre.QueueRequests)
	got := receiveUntil(t, s, "end")
	require.Equal(t, []string{"dup", "x", "end"}, ids(got))
	require.Equal(t, []byte("first"), got[0].Body, "the first of the duplicates is kept")
	require.Equal(t, []byte("x1"), got[1].Body)
	complete(t, s, got...)

	// Completed, but its id is remembered for the window.
	send(t, q, tre.QueueRequests, msg("S", "dup", "third"), msg("S", "mid", "m"))
	got = receiveUntil(t, s, "mid")
	require.Equal(t, []string{"mid"}, ids(got))
	complete(t, s, got...)
	require.Less(t, opts.Clock.Now().Sub(firstSent), opts.DuplicateWindow,
		"the machine was too slow for this test's duplicate window; the assertions above are void")

	// After the window, the same id is a new message.
	opts.Clock.Advance(firstSent.Add(opts.DuplicateWindow + 500*time.Millisecond).Sub(opts.Clock.Now()))
	send(t, q, tre.QueueRequests, msg("S", "dup", "fourth"), msg("S", "end2", "e"))
	got = receiveUntil(t, s, "end2")
	require.Equal(t, []string{"dup", "end2"}, ids(got))
	require.Equal(t, []byte("fourth"), got[0].Body)
	complete(t, s, got...)
}

func testQueuesSeparate(t *testing.T, _ Options, open func() tre.Queue) {
	q := openQueue(t, open)
	send(t, q, tre.QueueRequests, msg("x", "r1", "request"))
	send(t, q, tre.QueueStatus, msg("x", "s1", "status"))

	sr := accept(t, q, tre.QueueRequests)
	ss := accept(t, q, tre.QueueStatus) // not blocked by the same session id in the other queue
	require.Equal(t, "x", sr.ID())
	require.Equal(t, "x", ss.ID())
	r := receiveN(t, sr, 1)[0]
	st := receiveN(t, ss, 1)[0]
	require.Equal(t, "r1", r.MessageID)
	require.Equal(t, "s1", st.MessageID)

	// Duplicate detection is per queue.
	send(t, q, tre.QueueRequests, msg("x", "same", "to requests"))
	send(t, q, tre.QueueStatus, msg("x", "same", "to status"))
	require.Equal(t, []byte("to requests"), receiveN(t, sr, 1)[0].Body)
	require.Equal(t, []byte("to status"), receiveN(t, ss, 1)[0].Body)

	require.NoError(t, sr.DeadLetter(timeout(t, 10*time.Second), r, "Failed", "request"))
	require.Equal(t, []string{"r1"}, dlIDs(deadLetters(t, q, tre.QueueRequests)))
	require.Empty(t, deadLetters(t, q, tre.QueueStatus))
	requireCode(t, q.Replay(timeout(t, 10*time.Second), tre.QueueStatus, r.SequenceNumber), tre.CodeNotFound)
	requireCode(t, q.Discard(timeout(t, 10*time.Second), tre.QueueStatus, r.SequenceNumber), tre.CodeNotFound)
	require.Equal(t, []string{"r1"}, dlIDs(deadLetters(t, q, tre.QueueRequests)))
}

// testReopen: closing the adapter and opening it again loses nothing:
// unsettled messages come back, dead letters stay, remembered ids stay, and
// sequence numbers go on increasing.
func testReopen(t *testing.T, _ Options, open func() tre.Queue) {
	q := open()
	send(t, q, tre.QueueRequests, msg("S1", "a", "a"), msg("S1", "b", "b"), msg("S1", "d", "d"))
	s, err := q.AcceptNextSession(timeout(t, 10*time.Second), tre.QueueRequests)
	require.NoError(t, err)
	got := receiveN(t, s, 3)
	require.Equal(t, []string{"a", "b", "d"}, ids(got))
	complete(t, s, got[0])
	require.NoError(t, s.DeadLetter(timeout(t, 10*time.Second), got[1], "Failed", "before restart"))
	send(t, q, tre.QueueRequests, msg("S2", "c", "c"))
	// d stays unsettled and S1 stays open: the handle goes away under them.
	require.NoError(t, q.Close())

	q2 := openQueue(t, open)
	dls := deadLetters(t, q2, tre.QueueRequests)
	require.Equal(t, []string{"b"}, dlIDs(dls))
	require.Equal(t, "before restart", dls[0].Description)

	byID := map[string]*tre.Received{}
	for range 2 {
		s := accept(t, q2, tre.QueueRequests)
		m := receiveN(t, s, 1)[0]
		require.Equal(t, s.ID(), m.SessionID)
		byID[m.MessageID] = m
		complete(t, s, m)
		require.NoError(t, s.Close(context.Background()))
	}
	require.Contains(t, byID, "d")
	require.Contains(t, byID, "c")
	require.Equal(t, 1, byID["d"].DeliveryCount, "the unsettled message comes back, uncounted as after a session close")
	require.Equal(t, got[2].SequenceNumber, byID["d"].SequenceNumber)
	require.Equal(t, 1, byID["c"].DeliveryCount)

	// Remembered ids survive: a re-send of a is dropped; new messages get
	// higher sequence numbers than any before.
	send(t, q2, tre.QueueRequests, msg("S1", "a", "again"), msg("S1", "after", "x"))
	s2 := accept(t, q2, tre.QueueRequests)
	after := receiveUntil(t, s2, "after")
	require.Equal(t, []string{"after"}, ids(after))
	seqs := []int64{got[0].SequenceNumber, got[1].SequenceNumber, got[2].SequenceNumber, byID["c"].SequenceNumber}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	require.Greater(t, after[0].SequenceNumber, seqs[len(seqs)-1])
}
