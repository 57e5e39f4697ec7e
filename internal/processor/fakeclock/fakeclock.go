// Package fakeclock is a clock that moves only when a test advances it,
// for tests of what runs on timers (the Resource Processor's heartbeats,
// lock renewals, drain timeout and backoffs). A test waits until the timer
// it means is set (WaitTimer), advances the clock past it (Advance) and
// asserts what follows: the order of events, not how long they took.
//
// It implements processor.Clock.
package fakeclock

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Clock is a manual clock. The zero value is not usable: call New.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	// changed is closed, and replaced, when a timer is set.
	changed chan struct{}
}

type timer struct {
	at time.Time
	d  time.Duration
	c  chan time.Time
}

// New returns a clock showing now.
func New(now time.Time) *Clock {
	return &Clock{now: now, changed: make(chan struct{})}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it has been
// advanced by d, and a function that cancels the timer. A timer of d <= 0
// has fired already.
func (c *Clock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{at: c.now.Add(d), d: d, c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t.c, func() {}
	}
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
	return t.c, func() { c.remove(t) }
}

func (c *Clock) remove(t *timer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = slices.DeleteFunc(c.timers, func(x *timer) bool { return x == t })
}

// Advance moves the clock forward by d, firing the timers due, soonest
// first. Timers set by what a fired timer wakes up count from the time
// Advance left the clock at: to fire a periodic event twice, advance twice,
// waiting for its timer in between.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	slices.SortStableFunc(c.timers, func(a, b *timer) int { return a.at.Compare(b.at) })
	n := 0
	for _, t := range c.timers {
		if t.at.After(end) {
			break
		}
		t.c <- t.at
		n++
	}
	c.timers = c.timers[n:]
	c.now = end
}

// Timers lists the durations of the timers set and not yet fired or
// stopped, soonest first.
func (c *Clock) Timers() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := slices.Clone(c.timers)
	slices.SortStableFunc(ts, func(a, b *timer) int { return a.at.Compare(b.at) })
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.d
	}
	return out
}

// WaitTimer waits until a timer of a duration between lo and hi (both
// included) is set and not yet fired, or ctx ends (then it returns an
// error listing the timers set).
func (c *Clock) WaitTimer(ctx context.Context, lo, hi time.Duration) error {
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.timers, func(t *timer) bool { return t.d >= lo && t.d <= hi })
		changed := c.changed
		c.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("fakeclock: no timer of %s to %s was set (timers set: %v): %w", lo, hi, c.Timers(), ctx.Err())
		}
	}
}
