package processor

import "time"

// Clock is where the agent's time comes from: the timestamps it reports,
// and the timers of its heartbeats, lock renewals, drain timeout and
// backoffs. Production runs on real time; tests run on a manual clock
// (package fakeclock) that moves only when they advance it, so that they
// assert the order of those events whatever the machine's speed.
//
// The waits that bound calls to the queue (AcceptWait, SessionIdle) stay
// on real time: the queue's locks run on its own clock.
type Clock interface {
	Now() time.Time
	// After is time.After with a stop: the channel receives the time once d
	// has passed; stop releases the timer early.
	After(d time.Duration) (c <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// ticker is a time.Ticker on a Clock: after each tick, next sets the
// following one.
type ticker struct {
	clock  Clock
	every  time.Duration
	c      <-chan time.Time
	cancel func()
}

func newTicker(clock Clock, every time.Duration) *ticker {
	t := &ticker{clock: clock, every: every}
	t.next()
	return t
}

func (t *ticker) next() { t.c, t.cancel = t.clock.After(t.every) }

func (t *ticker) stop() { t.cancel() }
