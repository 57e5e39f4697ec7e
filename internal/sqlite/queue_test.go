package sqlite_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/queuetest"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func TestQueueConformance(t *testing.T) {
	queuetest.RunControlled(t, func(t *testing.T, opts queuetest.Options) func() tre.Queue {
		dir := t.TempDir()
		return func() tre.Queue {
			q, err := sqlite.OpenQueue(context.Background(), dir, sqlite.QueueOptions{
				LockDuration:     opts.LockDuration,
				MaxDeliveryCount: opts.MaxDeliveryCount,
				DuplicateWindow:  opts.DuplicateWindow,
				Now:              opts.Clock.Now,
				Waiting:          opts.Waiting,
			})
			require.NoError(t, err)
			return q
		}
	})
}

// TestQueueCrashRecovery: a process that dies holding a session loses
// nothing. Its lock holds until it expires by the clock, then the messages
// come back counted, and a message whose deliveries are spent is
// dead-lettered though no receiver ever comes back for it.
func TestQueueCrashRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	opts := sqlite.QueueOptions{LockDuration: time.Minute, MaxDeliveryCount: 2, Now: clock}
	// open opens a queue on the file and returns it with a crash function
	// that drops the database under it, as a killed process would: no
	// Close, no release.
	open := func() (*sqlite.Queue, func()) {
		db, err := sqlite.Open(ctx, dir)
		require.NoError(t, err)
		return sqlite.NewQueue(db, opts), func() { require.NoError(t, db.Close()) }
	}
	within := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(ctx, d)
		t.Cleanup(cancel)
		return c
	}

	q1, crash1 := open()
	require.NoError(t, q1.Send(ctx, tre.QueueRequests,
		tre.Message{SessionID: "S", MessageID: "m1", Body: []byte("1")},
		tre.Message{SessionID: "S", MessageID: "m2", Body: []byte("2")}))
	s, err := q1.AcceptNextSession(within(5*time.Second), tre.QueueRequests)
	require.NoError(t, err)
	got, err := s.Receive(within(5*time.Second), 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	crash1()

	q2, crash2 := open()
	_, err = q2.AcceptNextSession(within(300*time.Millisecond), tre.QueueRequests)
	require.ErrorIs(t, err, tre.ErrNoSession, "the dead process's lock holds until it expires")
	advance(time.Minute)
	s2, err := q2.AcceptNextSession(within(5*time.Second), tre.QueueRequests)
	require.NoError(t, err)
	require.Equal(t, "S", s2.ID())
	again, err := s2.Receive(within(5*time.Second), 10)
	require.NoError(t, err)
	require.Len(t, again, 2)
	for i, m := range again {
		require.Equal(t, got[i].MessageID, m.MessageID)
		require.Equal(t, 2, m.DeliveryCount, "an expired lock counts as a delivery")
	}
	crash2()

	q3, _ := open()
	defer q3.Close()
	require.Empty(t, mustDeadLetters(t, q3), "the second lock has not expired yet")
	advance(time.Minute)
	dls := mustDeadLetters(t, q3)
	require.Len(t, dls, 2, "both messages spent their deliveries")
	for _, d := range dls {
		require.Equal(t, tre.ReasonMaxDeliveryCount, d.Reason)
		require.Equal(t, 2, d.DeliveryCount)
	}
	_, err = q3.AcceptNextSession(within(300*time.Millisecond), tre.QueueRequests)
	require.ErrorIs(t, err, tre.ErrNoSession)
}

func mustDeadLetters(t *testing.T, q *sqlite.Queue) []tre.DeadLetter {
	t.Helper()
	dls, err := q.DeadLetters(context.Background(), tre.QueueRequests)
	require.NoError(t, err)
	return dls
}
