package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/processor/fakeclock"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// fakeRunner runs a test's function for each job and records the jobs.
type fakeRunner struct {
	mu   sync.Mutex
	jobs []tre.Job
	run  func(ctx context.Context, job tre.Job) (tre.JobResult, error)
}

func (f *fakeRunner) Run(ctx context.Context, job tre.Job) (tre.JobResult, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, job)
	f.mu.Unlock()
	return f.run(ctx, job)
}

func (f *fakeRunner) seen() []tre.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tre.Job(nil), f.jobs...)
}

type rig struct {
	t       *testing.T
	q       *sqlite.Queue
	seen    *observedQueue
	secrets *secretfile.Store
	runner  *fakeRunner
	clock   *fakeclock.Clock
	agent   *Agent
	cancel  context.CancelFunc
	done    chan struct{}
}

// The rig's timers (on its manual clock) are all different, so that a
// test can wait for the one it means; the queue's lock (on real time)
// outlasts any test, so that renewals only happen when a test makes them.
const (
	rigRenewEvery     = 20 * time.Second
	rigHeartbeatEvery = time.Hour
	rigAgentHeartbeat = 30 * time.Second
	rigLockDuration   = time.Minute
)

func newRig(t *testing.T, cfg Config, run func(context.Context, tre.Job) (tre.JobResult, error)) *rig {
	t.Helper()
	return newRigLock(t, rigLockDuration, cfg, run)
}

// newRigLock is newRig with the queue's lock duration.
func newRigLock(t *testing.T, lock time.Duration, cfg Config, run func(context.Context, tre.Job) (tre.JobResult, error)) *rig {
	t.Helper()
	dir := t.TempDir()
	q, err := sqlite.OpenQueue(context.Background(), dir, sqlite.QueueOptions{LockDuration: lock, MaxDeliveryCount: 5})
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	if cfg.AcceptWait == 0 {
		cfg.AcceptWait = 200 * time.Millisecond
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = 100 * time.Millisecond
	}
	if cfg.RenewEvery == 0 {
		cfg.RenewEvery = rigRenewEvery
	}
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = rigHeartbeatEvery
	}
	if cfg.AgentHeartbeatEvery == 0 {
		cfg.AgentHeartbeatEvery = rigAgentHeartbeat
	}
	clock := fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	cfg.Clock = clock
	r := &rig{t: t, q: q, secrets: sec, runner: &fakeRunner{run: run}, clock: clock}
	r.seen = &observedQueue{Queue: q, changed: make(chan struct{})}
	r.agent = New(r.seen, r.runner, sec, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return r
}

// waitTimer waits until the agent has set a timer of d on the rig's clock
// (lo to hi: a backoff has jitter).
func (r *rig) waitTimer(lo, hi time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(r.t, r.clock.WaitTimer(ctx, lo, hi))
}

// waitFor waits until ch is closed.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting: %s", what)
	}
}

// waitSent waits until a status the agent sent matches ok, and returns it.
func (r *rig) waitSent(what string, ok func(tre.StatusUpdate) bool) tre.StatusUpdate {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		sent, changed := r.seen.sent()
		for _, u := range sent {
			if ok(u) {
				return u
			}
		}
		select {
		case <-changed:
		case <-deadline:
			r.t.Fatalf("timed out waiting for a status: %s (sent: %v)", what, sent)
		}
	}
}

// observedQueue is the agent's queue, telling the test what the agent
// sent and how it treated its sessions.
type observedQueue struct {
	tre.Queue
	mu        sync.Mutex
	statuses  []tre.StatusUpdate
	renewals  int
	failRenew error // when set, renewals fail with it
	oneByOne  bool  // when set, each receive returns one message at most
	// sentReceiver passes on the sessions' tre.SentReceiver, which the
	// agent then uses instead of markers.
	sentReceiver bool
	changed      chan struct{}
}

func (o *observedQueue) note(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
	close(o.changed)
	o.changed = make(chan struct{})
}

func (o *observedQueue) sent() ([]tre.StatusUpdate, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]tre.StatusUpdate(nil), o.statuses...), o.changed
}

func (o *observedQueue) renewed() (int, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.renewals, o.changed
}

func (o *observedQueue) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	if err := o.Queue.Send(ctx, queue, msgs...); err != nil {
		return err
	}
	for _, m := range msgs {
		var u tre.StatusUpdate
		if queue == tre.QueueStatus && m.Subject != tre.KindAgentHeartbeat && json.Unmarshal(m.Body, &u) == nil {
			o.note(func() { o.statuses = append(o.statuses, u) })
		}
	}
	return nil
}

func (o *observedQueue) AcceptNextSession(ctx context.Context, queue string) (tre.Session, error) {
	s, err := o.Queue.AcceptNextSession(ctx, queue)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	passOn := o.sentReceiver
	o.mu.Unlock()
	if sr, ok := s.(tre.SentReceiver); ok && passOn {
		return &sentReceivingSession{observedSession{Session: s, q: o}, sr}, nil
	}
	return &observedSession{Session: s, q: o}, nil
}

type sentReceivingSession struct {
	observedSession
	tre.SentReceiver
}

type observedSession struct {
	tre.Session
	q *observedQueue
}

func (s *observedSession) Receive(ctx context.Context, max int) ([]*tre.Received, error) {
	s.q.mu.Lock()
	if s.q.oneByOne {
		max = 1
	}
	s.q.mu.Unlock()
	return s.Session.Receive(ctx, max)
}

func (s *observedSession) RenewLock(ctx context.Context) (time.Time, error) {
	s.q.mu.Lock()
	fail := s.q.failRenew
	s.q.mu.Unlock()
	if fail != nil {
		return time.Time{}, fail
	}
	until, err := s.Session.RenewLock(ctx)
	if err == nil {
		s.q.note(func() { s.q.renewals++ })
	}
	return until, err
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		_ = r.agent.Run(ctx)
	}()
	r.t.Cleanup(r.stop)
}

// stop stops the agent and waits for it, bounded.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.t.Fatal("agent did not stop")
	}
	r.cancel = nil
}

func request(op, step, id, action string, params map[string]any) tre.ResourceRequest {
	return tre.ResourceRequest{OperationID: op, StepID: step, Action: action, ID: id, Name: "tre-workspace-sandbox", Version: "0.1.0",
		ResourceType: tre.TypeWorkspace, Parameters: params}
}

func (r *rig) send(req tre.ResourceRequest) {
	r.t.Helper()
	b, err := json.Marshal(req)
	require.NoError(r.t, err)
	require.NoError(r.t, r.q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: req.StepID, SessionID: req.ID, Body: b}))
}

// statuses collects status messages of an operation until one with a
// terminal status arrives (or the deadline).
func (r *rig) statuses(op string, deadline time.Duration) []tre.StatusUpdate {
	r.t.Helper()
	var out []tre.StatusUpdate
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		sess, err := r.q.AcceptNextSession(ctx, tre.QueueStatus)
		cancel()
		if errors.Is(err, tre.ErrNoSession) {
			continue
		}
		require.NoError(r.t, err)
		if strings.HasPrefix(sess.ID(), "agent-") {
			drainAgentSession(r.t, sess)
			continue
		}
		require.Equal(r.t, op, sess.ID(), "status session = operation id")
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			msgs, err := sess.Receive(ctx, 10)
			cancel()
			require.NoError(r.t, err)
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				var u tre.StatusUpdate
				require.NoError(r.t, json.Unmarshal(m.Body, &u))
				out = append(out, u)
				require.NoError(r.t, sess.Complete(context.Background(), m))
			}
		}
		require.NoError(r.t, sess.Close(context.Background()))
		if len(out) > 0 && out[len(out)-1].Status.Terminal() {
			return out
		}
	}
	return out
}

func (r *rig) requestsLeft() int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	sess, err := r.q.AcceptNextSession(ctx, tre.QueueRequests)
	if errors.Is(err, tre.ErrNoSession) {
		return 0
	}
	require.NoError(r.t, err)
	defer sess.Close(context.Background())
	msgs, err := sess.Receive(ctx, 10)
	require.NoError(r.t, err)
	for _, m := range msgs {
		require.NoError(r.t, sess.Abandon(context.Background(), m))
	}
	return len(msgs)
}

func TestSuccessReportsStartThenResultAndCompletes(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		return tre.JobResult{Outputs: []tre.Output{{Name: "connection_uri", Value: "https://x", Type: "string"}}}, nil
	})
	r.start()
	r.send(request("op1", "step1", "res1", "install", map[string]any{"display_name": "x"}))
	got := r.statuses("op1", 10*time.Second)
	require.Len(t, got, 2)
	require.Equal(t, tre.StatusDeploying, got[0].Status)
	require.Equal(t, "res1: Job starting", got[0].Message)
	require.Equal(t, tre.StatusDeployed, got[1].Status)
	require.Equal(t, "res1: install action completed successfully.", got[1].Message)
	require.Equal(t, []tre.Output{{Name: "connection_uri", Value: "https://x", Type: "string"}}, got[1].Outputs)
	require.Equal(t, r.agent.ID(), got[1].Agent)
	jobs := r.runner.seen()
	require.Len(t, jobs, 1)
	require.Equal(t, "res1", jobs[0].Installation)
	require.Equal(t, "x", jobs[0].Parameters["display_name"])
	r.stop()
	require.Zero(t, r.requestsLeft(), "completed after the final status")
}

func TestFailureCarriesTheBundleError(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		return tre.JobResult{}, errors.New("sandbox: simulated failure: quota exceeded")
	})
	r.start()
	r.send(request("op2", "s", "res2", "upgrade", nil))
	got := r.statuses("op2", 10*time.Second)
	require.Equal(t, tre.StatusUpdatingFailed, got[len(got)-1].Status)
	require.Equal(t, "res2: sandbox: simulated failure: quota exceeded", got[len(got)-1].Message)
}

func TestMalformedRequestIsDeadLettered(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	r.start()
	require.NoError(t, r.q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: "bad1", SessionID: "res3", Body: []byte(`{not json`)}))
	require.NoError(t, r.q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: "bad2", SessionID: "res3", Body: []byte(`{"id":"res3"}`)}))
	var dl []tre.DeadLetter
	require.Eventually(t, func() bool {
		var err error
		dl, err = r.q.DeadLetters(context.Background(), tre.QueueRequests)
		return err == nil && len(dl) == 2
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "MalformedRequest", dl[0].Reason)
	require.Contains(t, dl[0].Description, "not a JSON request")
	require.Contains(t, dl[1].Description, "lacks action, name, operationId, stepId, version")
	require.Empty(t, r.runner.seen(), "nothing ran")
}

func TestSecretsResolvedAndRedacted(t *testing.T) {
	const secret = "hunter2-very-secret"
	r := newRig(t, Config{HeartbeatEvery: time.Minute}, nil)
	wrote, release := make(chan struct{}), make(chan struct{})
	r.runner.run = func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		fmt.Fprintf(job.Output, "connecting with password %s\n", job.Parameters["admin_password"])
		close(wrote)
		<-release
		return tre.JobResult{}, fmt.Errorf("login with %s refused", job.Parameters["admin_password"])
	}
	require.NoError(t, r.secrets.Put(context.Background(), "r-res4-1", `"`+secret+`"`))
	req := request("op4", "s", "res4", "install", map[string]any{"admin_password": tre.Redacted})
	req.SecretRefs = map[string]string{"/admin_password": "r-res4-1"}
	r.start()
	r.send(req)
	waitFor(t, wrote, "the bundle wrote its output")
	r.waitTimer(time.Minute, time.Minute)
	r.clock.Advance(time.Minute) // a heartbeat with the output tail goes out
	r.waitSent("a heartbeat", func(u tre.StatusUpdate) bool { return strings.Contains(u.Message, "running for") })
	close(release)
	got := r.statuses("op4", 10*time.Second)
	require.Equal(t, secret, r.runner.seen()[0].Parameters["admin_password"], "the bundle gets the value")
	all, _ := json.Marshal(got)
	require.NotContains(t, string(all), secret, "no status message carries it")
	require.Contains(t, string(all), "connecting with password ***")
	require.Equal(t, "res4: login with *** refused", got[len(got)-1].Message)
	heartbeats := 0
	for _, u := range got {
		if u.Status == tre.StatusDeploying && strings.Contains(u.Message, "running for") {
			heartbeats++
		}
	}
	require.Positive(t, heartbeats)
}

func TestMissingSecretFailsTheStep(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	req := request("op5", "s", "res5", "install", map[string]any{"p": tre.Redacted})
	req.SecretRefs = map[string]string{"/p": "r-gone"}
	r.start()
	r.send(req)
	got := r.statuses("op5", 10*time.Second)
	require.Equal(t, tre.StatusDeploymentFailed, got[len(got)-1].Status)
	require.Contains(t, got[len(got)-1].Message, "cannot be read from the secret store")
	require.Empty(t, r.runner.seen())
}

func TestOneResourceInOrderOthersInParallel(t *testing.T) {
	var mu sync.Mutex
	var order []string
	running, peak := 0, 0
	var alone []string
	// resB's and resC's bundles each wait until the other has started: they
	// can only both finish if they run at the same time.
	started := map[string]chan struct{}{"resB": make(chan struct{}), "resC": make(chan struct{})}
	other := map[string]string{"resB": "resC", "resC": "resB"}
	r := newRig(t, Config{Workers: 3}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		order = append(order, job.Installation+"/"+job.Message.StepID)
		mu.Unlock()
		defer func() {
			mu.Lock()
			running--
			mu.Unlock()
		}()
		if o, ok := other[job.Installation]; ok {
			close(started[job.Installation])
			select {
			case <-started[o]:
			case <-time.After(10 * time.Second):
				mu.Lock()
				alone = append(alone, job.Installation)
				mu.Unlock()
			}
		}
		return tre.JobResult{}, nil
	})
	for i := range 3 {
		r.send(request("opA", fmt.Sprintf("a%d", i), "resA", "install", nil))
	}
	r.send(request("opB", "b0", "resB", "install", nil))
	r.send(request("opC", "c0", "resC", "install", nil))
	r.start()
	require.Eventually(t, func() bool { return len(r.runner.seen()) == 5 }, 15*time.Second, 20*time.Millisecond)
	r.stop()
	var a []string
	mu.Lock()
	for _, o := range order {
		if strings.HasPrefix(o, "resA/") {
			a = append(a, o)
		}
	}
	mu.Unlock()
	require.Equal(t, []string{"resA/a0", "resA/a1", "resA/a2"}, a, "one resource's requests run in order")
	require.GreaterOrEqual(t, peak, 2, "different resources run in parallel")
	require.Empty(t, alone, "resB's and resC's bundles ran at the same time")
}

func TestDrainLetsRunningBundleFinish(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	r := newRig(t, Config{DrainTimeout: time.Minute}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return tre.JobResult{}, ctx.Err()
	})
	r.start()
	r.send(request("op6", "s", "res6", "install", nil))
	waitFor(t, started, "the bundle started")
	r.cancel() // the agent is told to stop: it drains
	r.waitTimer(time.Minute, time.Minute)
	close(release) // the bundle finishes within the drain timeout
	r.stop()
	got := r.statuses("op6", 5*time.Second)
	require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status, "the bundle finished during the drain")
	require.Zero(t, r.requestsLeft())
}

func TestDrainTimeoutCancelsAndAbandons(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	var bundle context.Context
	r := newRig(t, Config{DrainTimeout: time.Minute}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		once.Do(func() { bundle = ctx; close(started) })
		<-ctx.Done()
		return tre.JobResult{}, ctx.Err()
	})
	r.start()
	r.send(request("op7", "s", "res7", "install", nil))
	waitFor(t, started, "the bundle started")
	r.cancel()
	r.waitTimer(time.Minute, time.Minute)
	require.NoError(t, bundle.Err(), "the bundle runs on while the agent drains")
	select {
	case <-r.done:
		t.Fatal("the agent stopped before the drain timeout")
	default:
	}
	r.clock.Advance(time.Minute)
	r.stop()
	require.ErrorIs(t, bundle.Err(), context.Canceled, "the drain timeout cancelled the bundle")
	got := r.statuses("op7", 2*time.Second)
	for _, u := range got {
		require.False(t, u.Status.Terminal(), "no final status for a cancelled run")
	}
	require.Equal(t, 1, r.requestsLeft(), "the request is back in the queue")
}

func TestCrashedAgentsRequestRunsAgain(t *testing.T) {
	// The first agent dies mid-bundle (no renewal, no settlement): when
	// the lock expires the request is delivered again and runs to its end.
	hang := make(chan struct{})
	defer close(hang)
	// Its clock never moves: it renews nothing.
	first := newRigLock(t, 2*time.Second, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		<-hang
		return tre.JobResult{}, nil
	})
	first.start()
	first.send(request("op8", "s", "res8", "install", nil))
	require.Eventually(t, func() bool { return len(first.runner.seen()) == 1 }, 10*time.Second, 20*time.Millisecond)

	second := New(first.q, &fakeRunner{run: func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		return tre.JobResult{}, nil
	}}, first.secrets, Config{AcceptWait: 200 * time.Millisecond, SessionIdle: 100 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = second.Run(ctx) }()
	defer func() { cancel(); <-done }()
	got := first.statuses("op8", 15*time.Second)
	require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status)
	require.Equal(t, second.ID(), got[len(got)-1].Agent)
}

func TestHealthy(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	require.NoError(t, r.agent.Healthy(), "a new agent is given one check window")
	r.clock.Advance(time.Hour)
	require.Error(t, r.agent.Healthy(), "never started, an hour later")
	r.start()
	require.Eventually(t, func() bool { return r.agent.Healthy() == nil }, 5*time.Second, 10*time.Millisecond)
	r.stop()
	r.clock.Advance(time.Hour)
	require.Error(t, r.agent.Healthy(), "no worker alive for an hour")
}

// drainAgentSession settles an agent's heartbeats, checking their shape.
func drainAgentSession(t *testing.T, sess tre.Session) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		msgs, err := sess.Receive(ctx, 10)
		cancel()
		require.NoError(t, err)
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			var hb tre.AgentHeartbeat
			require.NoError(t, json.Unmarshal(m.Body, &hb))
			require.Equal(t, tre.KindAgentHeartbeat, hb.Kind)
			require.NotEmpty(t, hb.Agent)
			require.NoError(t, sess.Complete(context.Background(), m))
		}
	}
	require.NoError(t, sess.Close(context.Background()))
}

// TestNextSessionWhileABundleEnds: a worker that ends a job does not wait
// on its session for more (SessionIdle is for a session just taken): the
// next request of another resource starts at once, the session having
// been looked for while the bundle ended. Requests run in the order sent.
func TestNextSessionWhileABundleEnds(t *testing.T) {
	for _, sentReceiver := range []bool{false, true} {
		t.Run(fmt.Sprintf("SentReceiver=%v", sentReceiver), func(t *testing.T) {
			var mu sync.Mutex
			var order []string
			r := newRig(t, Config{Workers: 1, SessionIdle: 5 * time.Second}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
				mu.Lock()
				order = append(order, job.Installation)
				mu.Unlock()
				return tre.JobResult{}, nil
			})
			r.seen.sentReceiver = sentReceiver
			for _, id := range []string{"res-a", "res-b", "res-c"} {
				r.send(request("op-"+id, "step-"+id, id, "install", nil))
			}
			start := time.Now()
			r.start()
			for _, id := range []string{"res-a", "res-b", "res-c"} {
				got := r.statuses("op-"+id, 10*time.Second)
				require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status)
			}
			require.Less(t, time.Since(start), 4*time.Second, "no SessionIdle wait between the jobs")
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{"res-a", "res-b", "res-c"}, order, "in the order sent")
		})
	}
}
