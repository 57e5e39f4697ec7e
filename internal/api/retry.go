package api

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Clock is where the trigger retries' time comes from: real time in
// production, a manual clock in tests (processor/fakeclock satisfies it).
type Clock interface {
	Now() time.Time
	// After is time.After with a stop that releases the timer early.
	After(d time.Duration) (c <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// TriggerRetry is how a Service Bus trigger retries, inside one
// invocation, what failed because a dependency is unavailable.
//
// The Functions host has no retry policy for Service Bus triggers: a
// failed invocation abandons the message, the broker delivers it again at
// once, and after the queue's max delivery count (10) dead-letters it. A
// store that is down for a few seconds would so dead-letter every status
// message in flight. Waiting inside the invocation, with backoff, bounds
// that by time instead: a message survives an outage of about Budget ×
// max delivery count, and is never dead-lettered in its first Budget.
// Budget must leave the invocation time to do its work within the host's
// functionTimeout; the session's lock is renewed meanwhile by the host (up
// to its maxAutoLockRenewalDuration).
type TriggerRetry struct {
	// Budget is how long one invocation keeps retrying; 0 is no retry.
	Budget time.Duration
	// First is the first wait (1 s if 0); each wait doubles, up to Max
	// (30 s if 0).
	First, Max time.Duration
	// Clock is real time if nil.
	Clock Clock
}

// retryUnavailable runs f until it returns anything else than
// CodeUnavailable, or the retry budget is spent (then it returns f's last
// error), or ctx ends.
func (a *API) retryUnavailable(ctx context.Context, log *slog.Logger, f func() error) error {
	rt := a.TriggerRetry
	clock := Clock(realClock{})
	if rt.Clock != nil {
		clock = rt.Clock
	}
	start := clock.Now()
	wait := cmp.Or(rt.First, time.Second)
	for attempt := 1; ; attempt++ {
		err := f()
		if !tre.IsCode(err, tre.CodeUnavailable) {
			return err
		}
		left := rt.Budget - clock.Now().Sub(start)
		if left <= 0 {
			return err
		}
		wait = min(wait, left)
		log.Warn("dependency unavailable; retrying within the invocation", "attempt", attempt, "retry_in", wait.String(),
			"error", err.Error())
		c, stop := clock.After(wait)
		select {
		case <-ctx.Done():
			stop()
			return err
		case <-c:
		}
		wait = min(2*wait, cmp.Or(rt.Max, 30*time.Second))
	}
}
