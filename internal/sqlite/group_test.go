package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// waitPending blocks until n writes wait for the connection (the test
// holds it, so they can only queue).
func waitPending(d *DB, n int) {
	for {
		d.w.mu.Lock()
		got := len(d.w.pending)
		d.w.mu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

// Writes that wait while the connection is busy are committed together:
// one transaction, each in a savepoint, so one that fails is rolled back
// alone and its caller gets its error while the others' changes commit.
func TestWaitingWritesCommitTogether(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	d := s.db

	<-d.w.turn // busy: the writes below queue
	results := make(chan error, 3)
	for i, fail := range []bool{false, true, false} {
		go func() {
			results <- d.write(ctx, true, func(ctx context.Context, x runner) error {
				doc := tre.Document{ID: fmt.Sprint("d", i), Data: []byte(fmt.Sprintf(`{"id":"d%d"}`, i))}
				if _, err := (docs{x}).create(ctx, tre.Resources, doc); err != nil {
					return err
				}
				if fail {
					return errors.New("write d1 fails after its insert")
				}
				return nil
			})
		}()
		waitPending(d, i+1) // queued in this order
	}
	before := d.w.commits.Load()
	d.commitPending() // as the next holder of the connection does
	require.Equal(t, before+1, d.w.commits.Load(), "one commit for the three")
	d.w.turn <- struct{}{}

	var errs []error
	for range 3 {
		errs = append(errs, <-results)
	}
	require.ElementsMatch(t, []string{"write d1 fails after its insert"}, nonNil(errs))
	for id, want := range map[string]bool{"d0": true, "d1": false, "d2": true} {
		_, err := s.Get(ctx, tre.Resources, id)
		require.Equal(t, want, err == nil, "%s stored: %v", id, err)
	}
	d.w.mu.Lock()
	require.Empty(t, d.w.pending)
	d.w.mu.Unlock()
}

func nonNil(errs []error) []string {
	var out []string
	for _, err := range errs {
		if err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// A write whose context ends while it waits is withdrawn: it never runs.
func TestWaitingWriteWithdrawnWhenItsContextEnds(t *testing.T) {
	s, err := OpenStore(context.Background(), t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	d := s.db
	<-d.w.turn
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	done := make(chan error, 1)
	go func() {
		done <- d.write(ctx, true, func(context.Context, runner) error { ran = true; return nil })
	}()
	waitPending(d, 1)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	d.w.turn <- struct{}{}
	require.False(t, ran)
	d.w.mu.Lock()
	require.Empty(t, d.w.pending)
	d.w.mu.Unlock()
}
