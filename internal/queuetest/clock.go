package queuetest

import (
	"sync"
	"time"
)

// Clock is the time the queues under test keep: lock expiry and the
// duplicate window are measured on it.
type Clock interface {
	Now() time.Time
	// Advance moves the clock forward by d: at once on a fake clock; a
	// real one sleeps.
	Advance(d time.Duration)
}

// RealClock is the wall clock of an external broker (the Service Bus fake):
// its locks expire with time, so the suite waits for them.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// Advance implements Clock: it sleeps.
func (RealClock) Advance(d time.Duration) { time.Sleep(d) }

// FakeClock is a clock that moves only when told: an in-process adapter
// reads it (its Now option), so lock expiry and the duplicate window are
// decided by the test, not by how fast the machine runs it.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a fake clock set to the current time.
func NewFakeClock() *FakeClock { return &FakeClock{now: time.Now()} }

// Now implements Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance implements Clock.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
