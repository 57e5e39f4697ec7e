package processor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// A job is one request message handled from its receipt to its
// settlement:
//
//   - run decides what became of the request, as one outcome: it checks
//     the request, looks in the session for a cancel request sent before
//     the bundle starts, reads the secrets, reports the start and runs the
//     bundle (again after transient errors, with backoff);
//   - while the bundle runs, goroutines the job owns and waits for: drain
//     (when the agent stops, the bundle may finish within DrainTimeout,
//     then it is cancelled), keepAlive (renews the session lock, sends
//     heartbeats) and watchCancel (receives from the session and stops the
//     bundle when a cancel request for its step arrives). One that stops
//     the bundle says why with stop(outcome): the weightiest reason wins;
//   - settle maps the outcome to the final status, if any, and to what
//     becomes of the message (completed, abandoned, dead-lettered).
type job struct {
	a      *Agent
	worker int
	st     *sessionState
	m      *tre.Received
	log    *slog.Logger

	// agentCtx ends when the agent is told to stop; settleCtx never ends
	// (reports and settlements must not be cut short); ctx is the bundle's:
	// it ends when the job is stopped (stop).
	agentCtx  context.Context
	settleCtx context.Context
	ctx       context.Context
	cancel    context.CancelFunc

	// runEnded, if set, is called when the bundle has ended, before the
	// job settles.
	runEnded func()

	req      *tre.ResourceRequest
	statuses tre.ActionStatuses
	tail     *tail
	redact   func(string) string

	// The goroutines the job runs while the bundle runs: done tells drain
	// and keepAlive that the run is over, watchCtx ends watchCancel's
	// receive.
	bg        sync.WaitGroup
	done      chan struct{}
	watchCtx  context.Context
	stopWatch context.CancelFunc
	ended     bool

	mu       sync.Mutex
	stopped  outcome // why the job was stopped early (kind 0: it was not)
	progress string  // the last transient error, for heartbeats
}

// outcomeKind is what became of a request. The three reasons to stop a
// running bundle come last, by weight: a cancel request is answered even
// if the lock was lost or the drain timed out at the same time, and a
// lost lock means the message can no longer be abandoned.
type outcomeKind int

const (
	outSucceeded      outcomeKind = iota + 1
	outFailed                     // the bundle (or reading its secrets) failed
	outMalformed                  // dead-lettered: not a valid request
	outExpired                    // dead-lettered: the control plane stopped waiting for it
	outNotStarted                 // the start could not be ensured or reported: abandoned
	outCancelledEarly             // a cancel request came before the bundle started
	outDrained                    // the drain timeout stopped the bundle: abandoned
	outLost                       // the session lock was lost: another worker will run it
	outCancelled                  // a cancel request stopped the bundle
)

// outcome is decided once per job; settle acts on it.
type outcome struct {
	kind outcomeKind
	// reason is why the request was refused or not started.
	reason error
	// cancel and cancelMsg are the cancel request and its message.
	cancel    *tre.CancelRequest
	cancelMsg *tre.Received
	runs
}

// runs is what running the bundle gave: its result or last error, and the
// errors of earlier tries that failed with a transient error.
type runs struct {
	result     tre.JobResult
	err        error
	tries      int
	transients []string
}

// handle runs one request to its end and reports whether the worker may
// go on with the session (false: the session was lost or the agent is
// stopping).
func (a *Agent) handle(ctx context.Context, worker int, st *sessionState, m *tre.Received, log *slog.Logger, runEnded func()) bool {
	j := &job{a: a, worker: worker, st: st, m: m, log: log, agentCtx: ctx, settleCtx: context.WithoutCancel(ctx),
		tail: newTail(a.cfg.TailBytes), redact: func(s string) string { return s }, done: make(chan struct{}), runEnded: runEnded}
	// The bundle keeps running when the agent is told to stop, for up to
	// the drain timeout (drain).
	j.ctx, j.cancel = context.WithCancel(j.settleCtx)
	defer j.cancel()
	j.watchCtx, j.stopWatch = context.WithCancel(j.ctx)
	defer j.stopWatch()
	return j.settle(j.run())
}

// run takes the request to its outcome.
func (j *job) run() outcome {
	req, err := decode(j.m)
	if err != nil {
		return outcome{kind: outMalformed, reason: err}
	}
	j.req, j.statuses = req, tre.StatusesFor(req.Action)
	j.log = j.log.With("operation_id", req.OperationID, "step_id", req.StepID, "resource_id", req.ID, "action", req.Action,
		"attempt", req.Attempt, "delivery_count", j.m.DeliveryCount)
	if req.NotAfter != 0 && tre.Timestamp(j.a.now()) > req.NotAfter {
		// The control plane has given up on this step (its watchdog failed
		// it): running it now would change a resource behind its back.
		return outcome{kind: outExpired}
	}
	j.log.Info("request received", "bundle", req.Name, "version", req.Version)
	j.spawn(j.drain)
	defer j.wait()
	secrets, params, err := j.a.resolve(j.ctx, req)
	j.redact = redactor(secrets)
	if lerr := j.lookAhead(); lerr != nil {
		return outcome{kind: outNotStarted, reason: lerr}
	}
	if cm, c := j.st.takeCancel(req.StepID, req.Attempt); c != nil {
		return outcome{kind: outCancelledEarly, cancel: c, cancelMsg: cm}
	}
	if serr := j.report(j.statuses.Running, req.ID+": Job starting", nil, false); serr != nil {
		return outcome{kind: outNotStarted, reason: fmt.Errorf("report the start: %w", serr)}
	}
	j.spawn(j.keepAlive)
	j.spawn(j.watchCancel)
	r := runs{err: err}
	if err == nil {
		r = j.attempt(params)
	}
	if j.runEnded != nil {
		j.runEnded() // the worker looks for its next session while this one settles
	}
	j.wait()
	return j.decide(r)
}

// lookAhead receives every message sent to the session before now, so
// that a cancel request sent before the bundle starts always wins:
//
// The session delivers its messages in order, and only to this worker
// while it holds the lock. lookAhead sends a marker to the session and
// receives until the marker comes back: by then every message sent to the
// session before the marker is in the buffer, however slow the queue or
// the machine. So a cancel request sent before the marker is found and the
// bundle never starts; one sent after it is received by watchCancel, which
// stops the bundle. The marker is the last step before the bundle starts
// (only the start report comes between), so "sent before the bundle
// starts" means sent before the marker. No wait duration is involved, only
// the session's order. It costs one message per request.
//
// A queue that can say at once which messages were sent to the session
// before now (tre.SentReceiver, the embedded queue) needs no marker: one
// call receives them.
func (j *job) lookAhead() error {
	if sr, ok := j.st.sess.(tre.SentReceiver); ok {
		msgs, err := sr.ReceiveSent(j.ctx)
		if err != nil {
			return fmt.Errorf("receive what was sent to the session: %w", err)
		}
		j.st.keep(msgs...)
		return nil
	}
	id := "marker:" + uuid.NewString()
	err := j.a.queue.Send(j.ctx, tre.QueueRequests, tre.Message{MessageID: id, SessionID: j.st.sess.ID(),
		Subject: subjectMarker, Body: []byte(`{"marker":"the Resource Processor looking ahead in the session"}`)})
	if err != nil {
		return fmt.Errorf("send a marker to the session: %w", err)
	}
	if err := j.st.receiveUntil(j.ctx, j.settleCtx, id); err != nil {
		return fmt.Errorf("receive up to the marker: %w", err)
	}
	return nil
}

// attempt runs the bundle, again after a transient error (with backoff)
// up to TransientRetries times, until the job is stopped.
func (j *job) attempt(params map[string]any) runs {
	req := j.req
	var r runs
	for {
		r.tries++
		r.result, r.err = j.a.runner.Run(j.ctx, tre.Job{
			Action: req.Action, Installation: req.ID, ResourceType: req.ResourceType, Bundle: req.Name, Version: req.Version,
			Parameters: params, Message: req, Output: j.tail,
		})
		if r.err == nil || j.ctx.Err() != nil || !Transient(r.err) || r.tries > j.a.cfg.TransientRetries {
			return r
		}
		delay := j.a.backoff(r.tries)
		r.transients = append(r.transients, fmt.Sprintf("try %d: %s", r.tries, j.redact(shorten(r.err.Error(), 200))))
		p := fmt.Sprintf("try %d of %d failed with a transient error, trying again in %s: %s",
			r.tries, j.a.cfg.TransientRetries+1, delay.Round(10*time.Millisecond), shorten(r.err.Error(), 300))
		j.log.Warn("transient bundle error", "try", r.tries, "in", delay.String(), "error", j.redact(shorten(r.err.Error(), 300)))
		j.mu.Lock()
		j.progress = p
		j.mu.Unlock()
		if err := j.report(j.statuses.Running, req.ID+": "+p, nil, false); err != nil {
			j.log.Warn("heartbeat not sent", "error", err.Error())
		}
		j.a.sleep(j.ctx, delay)
		if j.ctx.Err() != nil {
			return r
		}
	}
}

// decide is the outcome of a run that started: why it was stopped, if it
// was, else the bundle's success or failure. The job's goroutines have
// ended.
func (j *job) decide(r runs) outcome {
	j.mu.Lock()
	o := j.stopped
	j.mu.Unlock()
	switch {
	case o.kind != 0:
	case r.err != nil:
		o.kind = outFailed
	default:
		o.kind = outSucceeded
	}
	o.runs = r
	return o
}

// spawn runs f in a goroutine the job waits for (wait).
func (j *job) spawn(f func()) {
	j.bg.Add(1)
	go func() {
		defer j.bg.Done()
		f()
	}()
}

// wait tells the job's goroutines that the run is over and waits for them.
func (j *job) wait() {
	if j.ended {
		return
	}
	j.ended = true
	j.stopWatch()
	close(j.done)
	j.bg.Wait()
}

// stop stops the bundle, saying why; the weightiest reason is kept.
func (j *job) stop(o outcome) {
	j.mu.Lock()
	if o.kind > j.stopped.kind {
		j.stopped = o
	}
	j.mu.Unlock()
	j.cancel()
}

// drain stops the bundle when the agent has been stopping for
// DrainTimeout: its message is abandoned and comes back.
func (j *job) drain() {
	select {
	case <-j.done:
		return
	case <-j.agentCtx.Done():
	}
	timeout, stop := j.a.clock.After(j.a.cfg.DrainTimeout)
	defer stop()
	select {
	case <-j.done:
	case <-timeout:
		j.log.Warn("drain timeout: cancelling the bundle; its message will be delivered again")
		j.stop(outcome{kind: outDrained})
	}
}

// keepAlive renews the session lock (a lost lock stops the bundle:
// another worker will run the request) and sends heartbeats.
func (j *job) keepAlive() {
	// Read before the tickers exist: a heartbeat's elapsed time is
	// counted from no later than its ticker's start (found by make
	// stress: read after, a clock moved between the two gave "0s").
	started := j.a.now()
	renew := newTicker(j.a.clock, j.a.cfg.RenewEvery)
	defer renew.stop()
	beat := newTicker(j.a.clock, j.a.cfg.HeartbeatEvery)
	defer beat.stop()
	for {
		select {
		case <-j.done:
			return
		case <-renew.c:
			renew.next()
			j.a.beat(j.worker)
			if _, err := j.st.sess.RenewLock(j.settleCtx); err != nil {
				j.log.Warn("session lock lost: stopping the bundle; another worker will run it", "error", err.Error())
				j.stop(outcome{kind: outLost})
				return
			}
		case <-beat.c:
			beat.next()
			j.heartbeat(started)
		}
	}
}

func (j *job) heartbeat(started time.Time) {
	j.mu.Lock()
	p := j.progress
	j.mu.Unlock()
	msg := fmt.Sprintf("%s: %s running for %s", j.req.ID, j.req.Action, j.a.now().Sub(started).Round(time.Second))
	if p != "" {
		msg += "; " + p
	}
	if err := j.report(j.statuses.Running, msg, nil, false); err != nil {
		j.log.Warn("heartbeat not sent", "error", err.Error())
	}
}

// watchCancel receives from the session while the bundle runs, keeping
// the messages for later, and stops the bundle when a cancel request of
// its step arrives.
func (j *job) watchCancel() {
	for {
		err := j.st.receive(j.watchCtx)
		if j.watchCtx.Err() != nil {
			return
		}
		if err != nil {
			j.log.Warn("cannot watch the session for a cancel request", "error", err.Error())
			return
		}
		if cm, c := j.st.takeCancel(j.req.StepID, j.req.Attempt); c != nil {
			j.log.Info("cancel requested: stopping the bundle", "by", c.By)
			j.stop(outcome{kind: outCancelled, cancel: c, cancelMsg: cm})
			return
		}
	}
}

// report sends a status of the step, its secrets redacted.
func (j *job) report(status tre.Status, message string, outputs []tre.Output, final bool) error {
	return j.a.sendStatus(j.settleCtx, j.req, status, j.redact(message), outputs, j.redact(j.tail.String()), final)
}

// settle acts on the outcome: the final status, then the message's
// settlement. It reports whether the worker may go on with the session.
func (j *job) settle(o outcome) bool {
	sess := j.st.sess
	switch o.kind {
	case outMalformed:
		j.log.Warn("dead-lettering a malformed request", "message_id", j.m.MessageID, "error", o.reason.Error())
		if err := sess.DeadLetter(j.settleCtx, j.m, "MalformedRequest", o.reason.Error()); err != nil {
			j.log.Warn("cannot dead-letter", "message_id", j.m.MessageID, "error", err.Error())
			return false
		}
		return true
	case outExpired:
		desc := fmt.Sprintf("the control plane stopped waiting for step %s at %s; it was not run", j.req.StepID,
			time.Unix(0, int64(j.req.NotAfter*1e9)).UTC().Format(time.RFC3339))
		j.log.Warn("dead-lettering an expired request", "reason", desc)
		return sess.DeadLetter(j.settleCtx, j.m, "Expired", desc) == nil
	case outNotStarted:
		j.log.Warn("cannot start; the message will come back", "error", o.reason.Error())
		_ = sess.Abandon(j.settleCtx, j.m)
		return false
	case outDrained:
		_ = sess.Abandon(j.settleCtx, j.m)
		return false
	case outLost:
		return false
	}
	status, message, outputs := j.final(o)
	if err := j.report(status, message, outputs, true); err != nil {
		j.log.Warn("cannot report the end; the message will come back", "status", string(status), "error", err.Error())
		_ = sess.Abandon(j.settleCtx, j.m)
		return false
	}
	if o.cancelMsg != nil {
		_ = sess.Complete(j.settleCtx, o.cancelMsg)
	}
	if err := sess.Complete(j.settleCtx, j.m); err != nil {
		j.log.Warn("cannot complete the request; it may run again", "error", err.Error())
		return false
	}
	return j.agentCtx.Err() == nil
}

// final is the final status of an outcome that has one, and its message.
func (j *job) final(o outcome) (tre.Status, string, []tre.Output) {
	id := j.req.ID
	switch o.kind {
	case outCancelledEarly:
		j.log.Info("cancelled before it started", "by", o.cancel.By)
		return j.statuses.Failed, id + ": " + cancelMessage(o.cancel) + " before it started", nil
	case outCancelled:
		return j.statuses.Failed, id + ": " + cancelMessage(o.cancel), nil
	case outFailed:
		msg := o.runs.err.Error()
		if o.tries > 1 {
			msg = fmt.Sprintf("%s (after %d tries; earlier: %s)", msg, o.tries, strings.Join(o.transients, "; "))
		}
		j.log.Warn("bundle failed", "error", j.redact(shorten(msg, 500)))
		return j.statuses.Failed, id + ": " + msg, nil
	}
	msg := fmt.Sprintf("%s: %s action completed successfully.", id, j.req.Action)
	if o.result.Message != "" {
		msg += " " + o.result.Message
	}
	if o.tries > 1 {
		msg += fmt.Sprintf(" (after %d tries; earlier tries failed with transient errors: %s)", o.tries, strings.Join(o.transients, "; "))
	}
	j.log.Info("bundle succeeded", "outputs", len(o.result.Outputs), "tries", o.tries)
	return j.statuses.Succeeded, msg, o.result.Outputs
}
