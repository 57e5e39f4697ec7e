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
	secrets *secretfile.Store
	runner  *fakeRunner
	agent   *Agent
	cancel  context.CancelFunc
	done    chan struct{}
}

func newRig(t *testing.T, cfg Config, run func(context.Context, tre.Job) (tre.JobResult, error)) *rig {
	t.Helper()
	dir := t.TempDir()
	q, err := sqlite.OpenQueue(context.Background(), dir, sqlite.QueueOptions{LockDuration: 2 * time.Second, MaxDeliveryCount: 5})
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
		cfg.RenewEvery = 300 * time.Millisecond
	}
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = time.Hour
	}
	r := &rig{t: t, q: q, secrets: sec, runner: &fakeRunner{run: run}}
	r.agent = New(q, r.runner, sec, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return r
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
	r := newRig(t, Config{HeartbeatEvery: 100 * time.Millisecond}, nil)
	release := make(chan struct{})
	r.runner.run = func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		fmt.Fprintf(job.Output, "connecting with password %s\n", job.Parameters["admin_password"])
		<-release
		return tre.JobResult{}, fmt.Errorf("login with %s refused", job.Parameters["admin_password"])
	}
	require.NoError(t, r.secrets.Put(context.Background(), "r-res4-1", `"`+secret+`"`))
	req := request("op4", "s", "res4", "install", map[string]any{"admin_password": tre.Redacted})
	req.SecretRefs = map[string]string{"/admin_password": "r-res4-1"}
	r.start()
	r.send(req)
	time.Sleep(400 * time.Millisecond) // let heartbeats with the output tail go out
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
	r := newRig(t, Config{Workers: 3}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		order = append(order, job.Installation+"/"+job.Message.StepID)
		mu.Unlock()
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
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
}

func TestDrainLetsRunningBundleFinish(t *testing.T) {
	started := make(chan struct{})
	r := newRig(t, Config{DrainTimeout: 10 * time.Second}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return tre.JobResult{}, ctx.Err()
	})
	r.start()
	r.send(request("op6", "s", "res6", "install", nil))
	<-started
	r.stop()
	got := r.statuses("op6", 5*time.Second)
	require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status, "the bundle finished during the drain")
	require.Zero(t, r.requestsLeft())
}

func TestDrainTimeoutCancelsAndAbandons(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	r := newRig(t, Config{DrainTimeout: 200 * time.Millisecond}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return tre.JobResult{}, ctx.Err()
	})
	r.start()
	r.send(request("op7", "s", "res7", "install", nil))
	<-started
	begin := time.Now()
	r.stop()
	require.Less(t, time.Since(begin), 5*time.Second)
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
	first := newRig(t, Config{RenewEvery: time.Hour}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
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
	base := time.Now()
	r.agent.now = func() time.Time { return base.Add(time.Hour) }
	require.Error(t, r.agent.Healthy(), "never started, an hour later")
	r.agent.now = time.Now
	r.start()
	require.Eventually(t, func() bool { return r.agent.Healthy() == nil }, 5*time.Second, 10*time.Millisecond)
	r.stop()
	base = time.Now()
	r.agent.now = func() time.Time { return base.Add(time.Hour) }
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
