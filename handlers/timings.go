package main

import (
	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/lifecycle"
)

// The delays of recovery and redelivery derive from the queue's lock
// duration (TRE_QUEUE_LOCK_DURATION; in Azure the queues' lock_duration,
// PT1M, the same default): a request or trigger invocation that takes
// longer than the lock is abandoned by then anyway, so each mutation is
// bounded by it. An operation interrupted by a crash is recovered once it
// is twice that old (no request can still be writing it), and an unsent
// step is re-sent once the request that committed it has ended.
func (c Config) withTimings(lc lifecycle.Config) lifecycle.Config {
	lc.MutationTimeout = c.LockDuration
	lc.RecoverAfter = 2 * c.LockDuration
	lc.RedispatchAfter = c.LockDuration
	return lc
}

// timingSettings checks the watchdog's dispatch limit against the
// redelivery it waits for: a step that could not be sent gets at least
// two re-sends before the watchdog fails it.
func (c *Config) timingSettings(e *config.Env) {
	least := 2 * (c.LockDuration + c.SweepInterval)
	if c.DispatchLimit > 0 && c.LockDuration > 0 && c.DispatchLimit < least {
		e.Problemf("TRE_DISPATCH_LIMIT: %s is too short: an unsent step is re-sent TRE_QUEUE_LOCK_DURATION (%s) after it was "+
			"committed, then every TRE_SWEEP_INTERVAL (%s); the limit must leave two tries, at least %s",
			c.DispatchLimit, c.LockDuration, c.SweepInterval, least)
	}
}
