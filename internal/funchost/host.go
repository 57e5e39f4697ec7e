package funchost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// QueueTrigger is a Service Bus trigger function with sessions enabled.
type QueueTrigger struct {
	Function string // the function (and route) name
	Queue    string
	Binding  string // the trigger binding's name in function.json
}

// TimerTrigger is a timer function run every Every.
type TimerTrigger struct {
	Function string
	Binding  string
	Every    time.Duration
}

// Host stands in for the Azure Functions host when running locally: it
// receives from queues and fires timers, and invokes the handler's trigger
// routes over HTTP with the host's payloads, settling each message as the
// host does (complete on a 2xx answer, abandon otherwise). So the trigger
// handlers run the same code path locally as in Azure.
type Host struct {
	Queue      tre.Queue
	HandlerURL string
	Client     *http.Client
	Queues     []QueueTrigger
	Timers     []TimerTrigger
	// Sessions is how many sessions each queue trigger serves at once
	// (the host's maxConcurrentSessions); DefaultSessions if unset.
	Sessions int
	// SessionIdle is how long a session is kept waiting for more messages
	// before it is released (the host's sessionIdleTimeout). Status
	// sessions are one operation's: a long wait only blocks other
	// operations' statuses.
	SessionIdle time.Duration
	// RenewEvery is how often the session lock is renewed while an
	// invocation runs, as the host renews it (up to its
	// maxAutoLockRenewalDuration): well under the queue's lock duration
	// (default 20 s). An airlock copy of large files may take minutes.
	RenewEvery time.Duration
	Log        *slog.Logger
	// TriggerKey is sent in TriggerKeyHeader with every invocation: the
	// per-process secret the handler requires on its trigger routes, so
	// that no other local process can post statuses or timers to it.
	TriggerKey string
}

// TriggerKeyHeader carries the trigger key from the local stand-in for the
// Functions host to the handler.
const TriggerKeyHeader = "X-TRE-Trigger-Key"

// DefaultSessions is host.json's serviceBus maxConcurrentSessions, so the
// stand-in invokes a trigger as many times at once as the deployed host
// may (a test holds the two equal).
const DefaultSessions = 16

// Run serves the triggers until ctx ends.
func (h *Host) Run(ctx context.Context) error {
	if h.Client == nil {
		h.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	if h.Sessions <= 0 {
		h.Sessions = DefaultSessions
	}
	if h.SessionIdle <= 0 {
		h.SessionIdle = 100 * time.Millisecond
	}
	if h.RenewEvery <= 0 {
		h.RenewEvery = 20 * time.Second
	}
	if h.Log == nil {
		h.Log = slog.Default()
	}
	var wg sync.WaitGroup
	for _, q := range h.Queues {
		for range h.Sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.serveQueue(ctx, q)
			}()
		}
	}
	for _, t := range h.Timers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.serveTimer(ctx, t)
		}()
	}
	wg.Wait()
	return nil
}

func (h *Host) serveQueue(ctx context.Context, q QueueTrigger) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sess, err := h.Queue.AcceptNextSession(actx, q.Queue)
		cancel()
		if errors.Is(err, tre.ErrNoSession) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			h.Log.Warn("host: cannot take a session", "queue", q.Queue, "error", err.Error())
			sleep(ctx, backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		h.serveSession(ctx, q, sess)
		_ = sess.Close(context.WithoutCancel(ctx))
	}
}

func (h *Host) serveSession(ctx context.Context, q QueueTrigger, sess tre.Session) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, h.SessionIdle)
		msgs, err := sess.Receive(rctx, 1)
		cancel()
		if err != nil || len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			inv := Invocation{
				Data: map[string]json.RawMessage{q.Binding: StringData(m.Body)},
				Metadata: ServiceBusMetadata(m.MessageID, m.SessionID, m.CorrelationID, m.DeliveryCount, m.SequenceNumber,
					m.EnqueuedAt.UTC().Format(time.RFC3339Nano), m.Properties),
			}
			settle := context.WithoutCancel(ctx)
			stopRenewing := h.renewWhile(ctx, sess)
			err := h.invoke(ctx, q.Function, inv)
			stopRenewing()
			if err != nil {
				h.Log.Warn("host: invocation failed; abandoning the message", "function", q.Function, "message_id", m.MessageID,
					"delivery_count", m.DeliveryCount, "error", err.Error())
				_ = sess.Abandon(settle, m)
				return // the session's order holds: stop here, the message comes back first
			}
			if err := sess.Complete(settle, m); err != nil {
				h.Log.Warn("host: cannot complete", "message_id", m.MessageID, "error", err.Error())
				return
			}
		}
	}
}

// renewWhile renews the session's lock every RenewEvery until the returned
// function is called (it waits for the renewing goroutine to end).
func (h *Host) renewWhile(ctx context.Context, sess tre.Session) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(h.RenewEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := sess.RenewLock(ctx); err != nil {
				if ctx.Err() == nil {
					h.Log.Warn("host: cannot renew the session lock", "session_id", sess.ID(), "error", err.Error())
				}
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (h *Host) serveTimer(ctx context.Context, t TimerTrigger) {
	tick := time.NewTicker(t.Every)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			timer, _ := json.Marshal(map[string]any{
				"Schedule":       map[string]any{"AdjustForDST": true},
				"ScheduleStatus": map[string]any{"Last": last.UTC().Format(time.RFC3339), "Next": now.Add(t.Every).UTC().Format(time.RFC3339)},
				"IsPastDue":      false,
			})
			sys, _ := json.Marshal(map[string]any{"MethodName": t.Function, "UtcNow": now.UTC().Format(time.RFC3339Nano), "RandGuid": uuid.NewString()})
			inv := Invocation{Data: map[string]json.RawMessage{t.Binding: timer}, Metadata: map[string]json.RawMessage{"sys": sys}}
			if err := h.invoke(ctx, t.Function, inv); err != nil && ctx.Err() == nil {
				h.Log.Warn("host: timer invocation failed", "function", t.Function, "error", err.Error())
			}
			last = now
		}
	}
}

// invoke posts an invocation; a non-2xx answer is an error, as for the host.
func (h *Host) invoke(ctx context.Context, function string, inv Invocation) error {
	body, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.HandlerURL+"/"+function, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tre-local-host")
	req.Header.Set("X-Azure-Functions-InvocationId", uuid.NewString())
	if h.TriggerKey != "" {
		req.Header.Set(TriggerKeyHeader, h.TriggerKey)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d: %s", function, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
