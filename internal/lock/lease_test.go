package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func openStore(t *testing.T) tre.Store {
	t.Helper()
	s, err := sqlite.OpenStore(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock for the lease's expiry arithmetic.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out waiting", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type counter struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

func TestLeaseExcludesConcurrentHolders(t *testing.T) {
	store := openStore(t)
	ctx := timeout(t, 60*time.Second)
	_, err := tre.CreateAs(ctx, store, tre.FirewallRules, "counter", counter{ID: "counter"})
	require.NoError(t, err)

	shared := &Lease{Store: store, Name: "firewall", Holder: "shared", MaxWait: 20 * time.Millisecond}
	const goroutines = 24
	var inside, maxInside atomic.Int32
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		// Half share one Lease value (one instance, many goroutines), half
		// are separate instances.
		l := shared
		if i%2 == 1 {
			l = &Lease{Store: store, Name: "firewall", Holder: fmt.Sprintf("instance-%d", i), MaxWait: 20 * time.Millisecond}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := l.Acquire(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer release()
			n := inside.Add(1)
			for {
				m := maxInside.Load()
				if n <= m || maxInside.CompareAndSwap(m, n) {
					break
				}
			}
			// An unguarded read-modify-write: two holders at once would
			// lose an increment.
			c, err := tre.GetAs[counter](ctx, store, tre.FirewallRules, "counter")
			if err == nil {
				c.N++
				_, err = tre.ReplaceAs(ctx, store, tre.FirewallRules, "counter", "", c)
			}
			inside.Add(-1)
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
	require.Equal(t, int32(1), maxInside.Load(), "more than one holder at a time")
	c, err := tre.GetAs[counter](ctx, store, tre.FirewallRules, "counter")
	require.NoError(t, err)
	require.Equal(t, goroutines, c.N)
	_, err = store.Get(ctx, tre.Leases, "firewall")
	require.True(t, tre.IsCode(err, tre.CodeNotFound), "the last release deletes the lease: %v", err)
}

func TestLeaseWaitsForTheHolderAndHonoursContext(t *testing.T) {
	store := openStore(t)
	a := &Lease{Store: store, Name: "firewall", Holder: "a"}
	b := &Lease{Store: store, Name: "firewall", Holder: "b", MaxWait: 10 * time.Millisecond}
	releaseA, err := a.Acquire(timeout(t, 5*time.Second))
	require.NoError(t, err)

	_, err = b.Acquire(timeout(t, 100*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan error, 1)
	go func() {
		release, err := b.Acquire(timeout(t, 10*time.Second))
		if err == nil {
			release()
		}
		got <- err
	}()
	releaseA()
	releaseA() // idempotent
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "b did not get the lease after a released it")
	}
}

func TestLeaseExpiredIsTakenOver(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	lease := func(holder string) *Lease {
		// RenewEvery of an hour: the holder "hangs" and never renews.
		return &Lease{Store: store, Name: "firewall", Holder: holder, TTL: time.Minute, RenewEvery: time.Hour,
			MaxWait: 10 * time.Millisecond, Now: clk.Now}
	}
	releaseA, err := lease("a").Acquire(timeout(t, 5*time.Second))
	require.NoError(t, err)

	_, err = lease("b").Acquire(timeout(t, 50*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded, "unexpired lease")

	clk.Advance(61 * time.Second)
	releaseB, err := lease("b").Acquire(timeout(t, 5*time.Second))
	require.NoError(t, err)
	doc, err := tre.GetAs[leaseDoc](context.Background(), store, tre.Leases, "firewall")
	require.NoError(t, err)
	require.Equal(t, "b", doc.Holder)
	require.Equal(t, clk.Now().Add(time.Minute), doc.ExpiresAt)

	// a wakes up and releases: b's lease must survive.
	releaseA()
	_, err = lease("c").Acquire(timeout(t, 50*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded, "a's release must not free b's lease")

	releaseB()
	releaseC, err := lease("c").Acquire(timeout(t, 5*time.Second))
	require.NoError(t, err)
	releaseC()
}

func TestLeaseRenewsWhileHeld(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	a := &Lease{Store: store, Name: "firewall", Holder: "a", TTL: time.Minute, RenewEvery: 5 * time.Millisecond, Now: clk.Now}
	release, err := a.Acquire(timeout(t, 5*time.Second))
	require.NoError(t, err)
	defer release()

	for range 3 {
		clk.Advance(40 * time.Second)
		want := clk.Now().Add(time.Minute)
		waitFor(t, "renewal", func() bool {
			doc, err := tre.GetAs[leaseDoc](context.Background(), store, tre.Leases, "firewall")
			return err == nil && !doc.ExpiresAt.Before(want)
		})
	}
	// 120 s after acquiring with a TTL of 60 s, the lease is still a's.
	b := &Lease{Store: store, Name: "firewall", Holder: "b", TTL: time.Minute, MaxWait: 10 * time.Millisecond, Now: clk.Now}
	_, err = b.Acquire(timeout(t, 50*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestLeaseLostCancelsTheHeldContext(t *testing.T) {
	store := openStore(t)
	a := &Lease{Store: store, Name: "firewall", Holder: "a", RenewEvery: 5 * time.Millisecond}
	held, release, err := a.Hold(timeout(t, 10*time.Second))
	require.NoError(t, err)
	defer release()
	require.NoError(t, held.Err())

	// Another holder overwrites the lease (as after an expiry).
	_, err = tre.ReplaceAs(context.Background(), store, tre.Leases, "firewall", "",
		leaseDoc{ID: "firewall", Holder: "b", Token: "t", ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)

	select {
	case <-held.Done():
	case <-time.After(10 * time.Second):
		require.FailNow(t, "held context not cancelled after the lease was lost")
	}
	require.ErrorIs(t, context.Cause(held), ErrLost)
	release()
	doc, err := tre.GetAs[leaseDoc](context.Background(), store, tre.Leases, "firewall")
	require.NoError(t, err)
	require.Equal(t, "b", doc.Holder, "a's release must leave b's lease alone")
}

func TestLeaseReleaseCancelsTheHeldContext(t *testing.T) {
	store := openStore(t)
	a := &Lease{Store: store, Name: "firewall", Holder: "a"}
	held, release, err := a.Hold(timeout(t, 10*time.Second))
	require.NoError(t, err)
	release()
	require.Error(t, held.Err())
	require.False(t, errors.Is(context.Cause(held), ErrLost))
}

func TestLeaseChecksItsConfiguration(t *testing.T) {
	store := openStore(t)
	tests := []struct {
		name  string
		lease Lease
		field string
	}{
		{"no store", Lease{Name: "firewall", Holder: "a"}, "Store"},
		{"no name", Lease{Store: store, Holder: "a"}, "Name"},
		{"bad name", Lease{Store: store, Name: "fire/wall", Holder: "a"}, "Name"},
		{"no holder", Lease{Store: store, Name: "firewall"}, "Holder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.lease.Acquire(timeout(t, time.Second))
			var e *tre.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tre.CodeInvalid, e.Code)
			require.Equal(t, tc.field, e.Fields[0].Field)
		})
	}
}
