package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// The handler listens first and connects after: with the Azure adapters,
// Cosmos DB and Service Bus are connections opened in the background, each
// retried with backoff until it succeeds. Until then the handler serves
// what needs neither (the web UI, /api/health, which names what is not
// connected), and what needs one answers 503 naming it (the Cosmos DB
// store refuses every call until it has connected). The Functions host
// waits for the handler's first answer before it sends anything, and a
// start-up that blocked on an unreachable dependency would leave it with
// no answer at all, only a process that never starts.

// connection is one dependency the handler opens after it listens.
type connection struct {
	// name is AzureTRE's service name, as /api/health reports it.
	name string
	// open connects (and runs what must follow, such as the start-up
	// writes to the store); it is called again after each failure.
	open func(ctx context.Context) error

	mu       sync.Mutex
	ready    bool
	attempts int
	err      error // the last attempt's
}

// maxConnectBackoff caps the wait between attempts.
const maxConnectBackoff = 30 * time.Second

// run tries to open the connection, each attempt within timeout, until it
// succeeds or ctx ends, waiting
// first, then twice as long after each failure (up to maxConnectBackoff).
// Each failure is logged at error level with what is down.
func (c *connection) run(ctx context.Context, log *slog.Logger, first, timeout time.Duration) {
	wait := first
	for {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := c.open(actx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		attempt := c.record(err)
		if err == nil {
			log.Info("connected", "service", c.name, "attempt", attempt)
			return
		}
		log.Error("dependency unreachable; retrying", "service", c.name, "attempt", attempt,
			"retry_in", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, maxConnectBackoff)
	}
}

func (c *connection) record(err error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	c.err = err
	c.ready = err == nil
	return c.attempts
}

// check is the connection's health check: until it has connected, why not
// (at once, without reaching the service); then live, the service's own.
func (c *connection) check(live func(ctx context.Context) error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c.mu.Lock()
		ready, attempts, err := c.ready, c.attempts, c.err
		c.mu.Unlock()
		switch {
		case ready:
			return live(ctx)
		case err != nil:
			return fmt.Errorf("not connected yet (%d attempts; the handler keeps trying): %w", attempts, err)
		}
		return fmt.Errorf("connecting")
	}
}
