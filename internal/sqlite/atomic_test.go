package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func openBoth(t *testing.T) (*sqlite.Store, *sqlite.Queue) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	q := sqlite.NewQueue(db, sqlite.QueueOptions{})
	t.Cleanup(func() {
		q.Close()
		db.Close()
	})
	return sqlite.NewStore(db), q
}

func jsonDoc(t *testing.T, id string, v map[string]any) tre.Document {
	t.Helper()
	v["id"] = id
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return tre.Document{ID: id, Data: b}
}

func withETag(d tre.Document, etag string) tre.Document {
	d.ETag = etag
	return d
}

// TestAtomicallyCommitsTogether: the writes and sends of one transaction
// are seen together, its reads see its own writes, and a receiver waiting
// for the message is woken by the commit.
func TestAtomicallyCommitsTogether(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	_, err := store.Create(ctx, tre.Resources, jsonDoc(t, "r1", map[string]any{"v": 1}))
	require.NoError(t, err)

	accepted := make(chan tre.Session, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := q.AcceptNextSession(actx, tre.QueueRequests)
		if err == nil {
			accepted <- s
		}
		close(accepted)
	}()

	err = q.Atomically(ctx, func(ctx context.Context, st tre.Store, snd tre.Sender) error {
		r, err := st.Get(ctx, tre.Resources, "r1")
		if err != nil {
			return err
		}
		if _, err := st.Replace(ctx, tre.Resources, withETag(jsonDoc(t, "r1", map[string]any{"v": 2}), r.ETag)); err != nil {
			return err
		}
		if _, err := st.Create(ctx, tre.Operations, jsonDoc(t, "op1", map[string]any{"resourceId": "r1"})); err != nil {
			return err
		}
		got, err := st.Get(ctx, tre.Resources, "r1")
		if err != nil {
			return err
		}
		require.JSONEq(t, `{"id":"r1","v":2}`, string(got.Data), "reads see the transaction's writes")
		// Outside the transaction nothing is visible yet.
		outside, err := store.Get(ctx, tre.Resources, "r1")
		require.NoError(t, err)
		require.JSONEq(t, `{"id":"r1","v":1}`, string(outside.Data))
		return snd.Send(ctx, tre.QueueRequests, tre.Message{SessionID: "r1", MessageID: "step-1", Body: []byte("go")})
	})
	require.NoError(t, err)
	got, err := store.Get(ctx, tre.Resources, "r1")
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"r1","v":2}`, string(got.Data))
	_, err = store.Get(ctx, tre.Operations, "op1")
	require.NoError(t, err)
	s, ok := <-accepted
	require.True(t, ok, "the receiver got the session")
	msgs, err := s.Receive(ctx, 5)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "step-1", msgs[0].MessageID)
	require.NoError(t, s.Close(ctx))
}

// TestAtomicallyRollsBack: fn's error undoes its writes and sends, and is
// returned as is.
func TestAtomicallyRollsBack(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	boom := tre.Errorf(tre.CodeConflict, "boom")
	err := q.Atomically(ctx, func(ctx context.Context, st tre.Store, snd tre.Sender) error {
		if _, err := st.Create(ctx, tre.Operations, jsonDoc(t, "op1", map[string]any{})); err != nil {
			return err
		}
		if err := snd.Send(ctx, tre.QueueRequests, tre.Message{SessionID: "r1", MessageID: "m1"}); err != nil {
			return err
		}
		// A conditional write that fails inside leaves the rest usable.
		_, err := st.Replace(ctx, tre.Operations, withETag(jsonDoc(t, "op1", map[string]any{}), "stale"))
		require.Equal(t, tre.CodePreconditionFailed, tre.ErrorCode(err))
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = store.Get(ctx, tre.Operations, "op1")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = q.AcceptNextSession(actx, tre.QueueRequests)
	require.ErrorIs(t, err, tre.ErrNoSession, "the send was rolled back")
}

// TestAtomicallyRefusesOtherWrites: a write through another handle of the
// same database inside the transaction would wait for itself; it fails.
func TestAtomicallyRefusesOtherWrites(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	err := q.Atomically(ctx, func(ctx context.Context, _ tre.Store, _ tre.Sender) error {
		_, err := store.Create(ctx, tre.Operations, jsonDoc(t, "op1", map[string]any{}))
		require.Equal(t, tre.CodeInternal, tre.ErrorCode(err))
		err = q.Send(ctx, tre.QueueRequests, tre.Message{SessionID: "r", MessageID: "m"})
		require.Equal(t, tre.CodeInternal, tre.ErrorCode(err))
		// Reads elsewhere are fine.
		_, err = store.Get(ctx, tre.Operations, "op1")
		require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
		return nil
	})
	require.NoError(t, err)
}

// TestAtomicallyConcurrent: transactions and plain writes from many
// goroutines serialize; read-modify-write under etags loses no update.
func TestAtomicallyConcurrent(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	_, err := store.Create(ctx, tre.Resources, jsonDoc(t, "counter", map[string]any{"n": 0}))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := q.Atomically(ctx, func(ctx context.Context, st tre.Store, snd tre.Sender) error {
				d, err := st.Get(ctx, tre.Resources, "counter")
				if err != nil {
					return err
				}
				var v struct{ N int }
				if err := json.Unmarshal(d.Data, &v); err != nil {
					return err
				}
				if _, err := st.Replace(ctx, tre.Resources, withETag(jsonDoc(t, "counter", map[string]any{"n": v.N + 1}), d.ETag)); err != nil {
					return err
				}
				return snd.Send(ctx, tre.QueueStatus, tre.Message{SessionID: "s", MessageID: "m" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	d, err := store.Get(ctx, tre.Resources, "counter")
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"counter","n":40}`, string(d.Data))
	require.False(t, errors.Is(err, context.Canceled))
}
