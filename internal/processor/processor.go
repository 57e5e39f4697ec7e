// Package processor is the Resource Processor agent: workers that take
// sessions of the request queue (one resource each, so one resource's
// changes run in order), run each request's bundle action with a bundle
// runner, and report progress and results on the status queue.
//
// A request message is completed only after its final status was sent: if
// the agent dies while a bundle runs, the session lock expires and another
// worker runs the request again (bundle actions are idempotent, Porter's
// contract). While a bundle runs, the worker renews the session lock and
// sends heartbeats carrying the tail of the bundle's output, and stops the
// bundle when a cancel request for its step arrives on the session; a
// cancel request sent before the bundle starts keeps it from starting (the
// worker receives up to a marker it sent to the session, see lookAhead).
// A malformed request is dead-lettered with a reason rather than retried.
// On shutdown the agent stops taking work, lets running bundles finish
// within the drain timeout, then cancels them and abandons their messages,
// which come back.
package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// Config tunes the agent.
type Config struct {
	// AgentID names this agent in status messages and logs.
	AgentID string
	// Workers is how many requests run at once (each on its own session).
	Workers int
	// AcceptWait bounds one wait for a session with messages.
	AcceptWait time.Duration
	// SessionIdle is how long a worker waits for more messages of a session
	// before releasing it.
	SessionIdle time.Duration
	// RenewEvery is how often the session lock is renewed while a bundle
	// runs: well under the queue's lock duration.
	RenewEvery time.Duration
	// HeartbeatEvery is how often a running step reports progress.
	HeartbeatEvery time.Duration
	// DrainTimeout is how long shutdown waits for running bundles.
	DrainTimeout time.Duration
	// TailBytes is how much of the bundle's output heartbeats carry.
	TailBytes int
	// TransientRetries is how many times a bundle that failed with an error
	// recognised as transient (ARM throttling, AnotherOperationInProgress,
	// RetryableError, network timeouts) runs again; TransientBackoff is the
	// first wait, doubled each time (with jitter) up to TransientBackoffMax.
	TransientRetries    int
	TransientBackoff    time.Duration
	TransientBackoffMax time.Duration
	// SendBackoff is the first wait before sending a status message again
	// (five tries, the wait doubling).
	SendBackoff time.Duration
	// AgentHeartbeatEvery is how often the agent tells the control plane it
	// is alive (the API's health report reads it).
	AgentHeartbeatEvery time.Duration
	// Version is reported in the agent's heartbeats.
	Version string
	// Clock is the source of time of the agent's timestamps and timers
	// (heartbeats, lock renewals, drain timeout, backoffs). Nil: real time.
	Clock Clock
}

func (c *Config) defaults() {
	if c.AgentID == "" {
		c.AgentID = "agent-" + uuid.NewString()[:8]
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.AcceptWait <= 0 {
		c.AcceptWait = 5 * time.Second
	}
	if c.SessionIdle <= 0 {
		// Holding a finished resource's session only helps its next
		// message; a worker that holds it longer is not taking others'.
		c.SessionIdle = 100 * time.Millisecond
	}
	if c.RenewEvery <= 0 {
		c.RenewEvery = 20 * time.Second
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = 30 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Minute
	}
	if c.TailBytes <= 0 {
		c.TailBytes = 2048
	}
	if c.TransientRetries < 0 {
		c.TransientRetries = 0
	}
	if c.TransientBackoff <= 0 {
		c.TransientBackoff = 30 * time.Second
	}
	if c.TransientBackoffMax <= 0 {
		c.TransientBackoffMax = 5 * time.Minute
	}
	if c.SendBackoff <= 0 {
		c.SendBackoff = 500 * time.Millisecond
	}
	if c.AgentHeartbeatEvery <= 0 {
		c.AgentHeartbeatEvery = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
}

// Agent is the Resource Processor.
type Agent struct {
	queue   tre.Queue
	runner  tre.Runner
	secrets tre.Secrets
	cfg     Config
	log     *slog.Logger
	clock   Clock

	// alive[i] is when worker i last showed it was working (UnixNano).
	alive []atomic.Int64
}

// New returns an agent.
func New(queue tre.Queue, runner tre.Runner, secrets tre.Secrets, cfg Config, log *slog.Logger) *Agent {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	a := &Agent{queue: queue, runner: runner, secrets: secrets, cfg: cfg,
		log: log.With("agent", cfg.AgentID), clock: cfg.Clock, alive: make([]atomic.Int64, cfg.Workers)}
	// A new agent counts as alive for one check window: health probes may
	// come before its workers have started.
	for i := range a.alive {
		a.alive[i].Store(a.now().UnixNano())
	}
	return a
}

// ID is the agent's id.
func (a *Agent) ID() string { return a.cfg.AgentID }

// Run runs the workers until ctx ends, then drains: it returns once every
// worker has stopped (nil on a clean shutdown).
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range a.cfg.Workers {
		a.alive[i].Store(a.now().UnixNano())
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.work(ctx, i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.heartbeats(ctx)
	}()
	a.log.Info("processor started", "workers", a.cfg.Workers)
	wg.Wait()
	a.log.Info("processor stopped")
	return nil
}

// Healthy reports whether at least one worker has shown life recently.
// Returns an error saying why not.
func (a *Agent) Healthy() error {
	limit := 3*a.cfg.AcceptWait + a.cfg.SessionIdle + a.cfg.RenewEvery
	now := a.now()
	for i := range a.alive {
		if now.Sub(time.Unix(0, a.alive[i].Load())) < limit {
			return nil
		}
	}
	return fmt.Errorf("no worker of agent %s has been alive in the last %s", a.cfg.AgentID, limit)
}

func (a *Agent) beat(worker int) { a.alive[worker].Store(a.now().UnixNano()) }

func (a *Agent) now() time.Time { return a.clock.Now() }

// sleep waits d on the agent's clock, or until ctx ends.
func (a *Agent) sleep(ctx context.Context, d time.Duration) {
	c, stop := a.clock.After(d)
	defer stop()
	select {
	case <-ctx.Done():
	case <-c:
	}
}

// heartbeats tells the control plane, at once and then every
// AgentHeartbeatEvery, that this agent is alive and whether its workers
// are.
func (a *Agent) heartbeats(ctx context.Context) {
	for {
		hb := tre.AgentHeartbeat{Kind: tre.KindAgentHeartbeat, Agent: a.cfg.AgentID, Version: a.cfg.Version,
			Workers: a.cfg.Workers, Healthy: true, SentAt: tre.Timestamp(a.now())}
		if err := a.Healthy(); err != nil {
			hb.Healthy, hb.Problem = false, err.Error()
		}
		body, _ := json.Marshal(hb)
		err := a.queue.Send(ctx, tre.QueueStatus, tre.Message{MessageID: uuid.NewString(), SessionID: "agent-" + a.cfg.AgentID,
			Subject: tre.KindAgentHeartbeat, Body: body})
		if err != nil && ctx.Err() == nil {
			a.log.Warn("agent heartbeat not sent", "error", err.Error())
		}
		a.sleep(ctx, a.cfg.AgentHeartbeatEvery)
		if ctx.Err() != nil {
			return
		}
	}
}

// work is one worker: take the next session, serve it, release it. The
// next session is looked for while a bundle ends (prefetch), so that the
// worker does not wait for it once the job has settled.
func (a *Agent) work(ctx context.Context, worker int) {
	log := a.log.With("worker", worker)
	backoff := time.Second
	var next *prefetch
	defer func() { next.drop() }()
	for ctx.Err() == nil {
		a.beat(worker)
		sess, err := next.take()
		next = nil
		if sess == nil && err == nil {
			actx, cancel := context.WithTimeout(ctx, a.cfg.AcceptWait)
			sess, err = a.queue.AcceptNextSession(actx, tre.QueueRequests)
			cancel()
		}
		switch {
		case errors.Is(err, tre.ErrNoSession) || ctx.Err() != nil:
			continue
		case err != nil:
			log.Warn("cannot take a session; retrying", "error", err.Error(), "in", backoff.String())
			a.sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		next = a.serveSession(ctx, worker, sess, log.With("session_id", sess.ID()))
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := sess.Close(cctx); err != nil && !errors.Is(err, tre.ErrSessionLost) {
			log.Warn("cannot release session", "session_id", sess.ID(), "error", err.Error())
		}
		cancel()
	}
}

// serveSession handles the session's messages in order until it is idle,
// lost, or the agent stops. It returns the next session looked for while
// its last bundle ended, if any.
func (a *Agent) serveSession(ctx context.Context, worker int, sess tre.Session, log *slog.Logger) *prefetch {
	st := &sessionState{sess: sess}
	var next *prefetch
	idle := a.cfg.SessionIdle
	for ctx.Err() == nil {
		a.beat(worker)
		m, err := st.next(ctx, idle)
		if err != nil {
			if !errors.Is(err, tre.ErrSessionLost) && ctx.Err() == nil {
				log.Warn("receive failed", "error", err.Error())
			}
			return next
		}
		if m == nil {
			return next
		}
		if next != nil {
			// More of this session: the next session goes back to the
			// queue, for a worker that is free.
			next.drop()
			next = nil
		}
		if m.Subject == tre.SubjectCancel || m.Subject == subjectMarker {
			// Nothing of this session runs: the step a cancel request
			// names has ended; a marker was for a job that has ended.
			_ = sess.Complete(context.WithoutCancel(ctx), m)
			continue
		}
		ok := a.handle(ctx, worker, st, m, log, func() {
			if next == nil && ctx.Err() == nil {
				next = a.prefetch(ctx)
			}
		})
		if !ok {
			return next
		}
		// After a job, only what the session already holds is served
		// here; the rest of the queue comes first.
		idle = 0
	}
	return next
}

// prefetch is a session being accepted in the background.
type prefetch struct {
	done   chan struct{}
	cancel context.CancelFunc
	sess   tre.Session
	err    error
}

// prefetch starts accepting the next session (within AcceptWait).
func (a *Agent) prefetch(ctx context.Context) *prefetch {
	actx, cancel := context.WithTimeout(ctx, a.cfg.AcceptWait)
	p := &prefetch{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		p.sess, p.err = a.queue.AcceptNextSession(actx, tre.QueueRequests)
	}()
	return p
}

// take waits for the prefetched session: nil and no error when there is
// no prefetch, ErrNoSession when none came.
func (p *prefetch) take() (tre.Session, error) {
	if p == nil {
		return nil, nil
	}
	<-p.done
	p.cancel()
	return p.sess, p.err
}

// drop stops the prefetch and releases a session it got (its messages are
// offered again at once, uncounted).
func (p *prefetch) drop() {
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
	if p.sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.sess.Close(ctx)
	}
}

// sessionState holds messages received from a session but not handled
// yet: while a bundle runs, the worker keeps receiving from its session to
// see cancel requests, and keeps the other messages for later (their locks
// are the session's, which it renews).
type sessionState struct {
	sess     tre.Session
	mu       sync.Mutex
	buffered []*tre.Received
}

// next returns the next message, waiting up to idle; nil when none came.
// With idle 0 it returns only a message the session already holds (at
// once with a tre.SentReceiver, else within a short receive).
func (s *sessionState) next(ctx context.Context, idle time.Duration) (*tre.Received, error) {
	if m := s.take(); m != nil {
		return m, nil
	}
	if idle == 0 {
		if sr, ok := s.sess.(tre.SentReceiver); ok {
			msgs, err := sr.ReceiveSent(ctx)
			s.keep(msgs...)
			return s.take(), err
		}
		idle = heldWait
	}
	rctx, cancel := context.WithTimeout(ctx, idle)
	defer cancel()
	msgs, err := s.sess.Receive(rctx, 1)
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	return msgs[0], nil
}

// heldWait is how long a receive looks for a message a session already
// holds, on a queue that cannot say so at once (a round trip to Service
// Bus).
const heldWait = 50 * time.Millisecond

// take removes and returns the first buffered message, nil if none.
func (s *sessionState) take() *tre.Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buffered) == 0 {
		return nil
	}
	m := s.buffered[0]
	s.buffered = s.buffered[1:]
	return m
}

// receive waits for messages of the session (until ctx ends) and keeps
// them in the buffer.
func (s *sessionState) receive(ctx context.Context) error {
	msgs, err := s.sess.Receive(ctx, 10)
	s.keep(msgs...)
	return err
}

func (s *sessionState) keep(msgs ...*tre.Received) {
	s.mu.Lock()
	s.buffered = append(s.buffered, msgs...)
	s.mu.Unlock()
}

// subjectMarker marks a message an agent sends to a session it holds, to
// learn when it has received every message sent to it before (receiveUntil).
const subjectMarker = "tre-processor-marker"

// receiveUntil receives from the session, keeping the messages in the
// buffer, until the marker of the given message id comes back. Other
// markers (of jobs that ended before theirs came back) are completed.
func (s *sessionState) receiveUntil(ctx, settle context.Context, marker string) error {
	for {
		msgs, err := s.sess.Receive(ctx, 10)
		if err != nil {
			return err
		}
		found := false
		for _, m := range msgs {
			if m.Subject != subjectMarker {
				s.keep(m)
				continue
			}
			_ = s.sess.Complete(settle, m)
			found = found || m.MessageID == marker
		}
		if found {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// takeCancel removes and returns a buffered cancel request for a step.
func (s *sessionState) takeCancel(stepID string, attempt int) (*tre.Received, *tre.CancelRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.buffered {
		if m.Subject != tre.SubjectCancel {
			continue
		}
		var c tre.CancelRequest
		if json.Unmarshal(m.Body, &c) != nil || c.StepID != stepID || (c.Attempt != 0 && attempt != 0 && c.Attempt != attempt) {
			continue
		}
		s.buffered = append(s.buffered[:i], s.buffered[i+1:]...)
		return m, &c
	}
	return nil, nil
}

// decode checks a request message. Returns an error saying what is wrong.
func decode(m *tre.Received) (*tre.ResourceRequest, error) {
	var req tre.ResourceRequest
	if err := json.Unmarshal(m.Body, &req); err != nil {
		return nil, fmt.Errorf("the body is not a JSON request: %w", err)
	}
	var missing []string
	for name, v := range map[string]string{"operationId": req.OperationID, "stepId": req.StepID, "action": req.Action,
		"id": req.ID, "name": req.Name, "version": req.Version} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("the request lacks %s", strings.Join(missing, ", "))
	}
	if req.ID != m.SessionID {
		return nil, fmt.Errorf("the request is for resource %s but came on session %s", req.ID, m.SessionID)
	}
	return &req, nil
}
