package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/processor"
	"github.com/tre-go/tre/internal/processor/fakeclock"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/roster"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// runner runs each job with the test's script, counting runs per
// installation.
type runner struct {
	mu     sync.Mutex
	runs   map[string]int
	script func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error)
}

func (r *runner) Run(ctx context.Context, job tre.Job) (tre.JobResult, error) {
	r.mu.Lock()
	r.runs[job.Installation]++
	n := r.runs[job.Installation]
	r.mu.Unlock()
	return r.script(ctx, job, n)
}

// options tune a world.
type options struct {
	lockDuration   time.Duration
	maxDelivery    int
	heartbeatLimit time.Duration
	// clock, when set, is the agents' clock: their heartbeats, renewals,
	// drain timeout and backoffs happen when the test advances it. Give
	// such a world a lock that outlasts the test (renewals wait for the
	// clock; the queue's lock runs on real time).
	clock *fakeclock.Clock
}

type world struct {
	t       *testing.T
	clock   *fakeclock.Clock
	db      *sqlite.DB
	queue   *sqlite.Queue
	store   *sqlite.Store
	svc     *lifecycle.Service
	secrets *secretfile.Store
	keys    *auth.DevKeys
	srv     *httptest.Server
	runner  *runner
	admin   string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newWorld(t *testing.T, o options, script func(context.Context, tre.Job, int) (tre.JobResult, error)) *world {
	t.Helper()
	if o.lockDuration == 0 {
		// Long enough that no lock expires by accident on a loaded
		// machine; the tests of expiry set their own.
		o.lockDuration = 30 * time.Second
	}
	if o.maxDelivery == 0 {
		o.maxDelivery = 10
	}
	if o.heartbeatLimit == 0 {
		o.heartbeatLimit = time.Hour
	}
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	require.NoError(t, err)
	q := sqlite.NewQueue(db, sqlite.QueueOptions{LockDuration: o.lockDuration, MaxDeliveryCount: o.maxDelivery})
	st := sqlite.NewStore(db)
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	keys, err := auth.LoadDevKeys(dir)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(st, nil)
	_, err = reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: "ws", Version: "1.0.0", Current: true,
		JSONSchema: map[string]any{"title": "WS", "description": "d", "type": "object", "properties": map[string]any{}}}, tre.User{ID: "admin"})
	require.NoError(t, err)
	svc := lifecycle.New(st, reg, sec, q, lifecycle.Config{TREID: "t", Location: "l",
		AddressSpace: cidr.MustParse("10.0.0.0/12"), CoreAddressSpace: cidr.MustParse("10.1.0.0/22"),
		HeartbeatLimit: o.heartbeatLimit, RedispatchAfter: time.Second},
		lifecycle.Options{Log: log, DeadLetters: q})
	a := &api.API{Log: log, Auth: &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: keys},
		Registry: reg, Resources: svc, Operations: svc, Triggers: svc, Assignments: assignment.New(st, svc, assignment.Options{Log: log}),
		Agents: roster.New(st, nil), DeadLetters: deadletter.New(st, q, svc, deadletter.Options{Log: log}), EventPoll: 20 * time.Millisecond}
	srv := httptest.NewServer(a.Handler())
	w := &world{t: t, clock: o.clock, db: db, queue: q, store: st, svc: svc, secrets: sec, keys: keys, srv: srv,
		runner: &runner{runs: map[string]int{}, script: script}}
	w.admin = w.token("admin", "TREAdmin")

	hctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	host := &funchost.Host{Queue: q, HandlerURL: srv.URL, Log: log,
		Queues: []funchost.QueueTrigger{{Function: api.FunctionDeploymentStatus, Queue: tre.QueueStatus, Binding: "msg"}},
		Timers: []funchost.TimerTrigger{
			{Function: api.FunctionDispatchRedelivery, Binding: "timer", Every: 200 * time.Millisecond},
			{Function: api.FunctionOperationsWatchdog, Binding: "timer", Every: 200 * time.Millisecond},
		}}
	w.wg.Add(1)
	go func() { defer w.wg.Done(); _ = host.Run(hctx) }()
	t.Cleanup(w.close)
	return w
}

func (w *world) close() {
	w.cancel()
	w.wg.Wait()
	w.srv.Close()
	w.queue.Close()
	w.db.Close()
}

// agent is a running processor that can be stopped or killed.
type agent struct {
	*processor.Agent
	queue  *killable
	cancel context.CancelFunc
	done   chan struct{}
}

// startAgent runs a processor agent on its own queue handle.
func (w *world) startAgent(id string) *agent {
	k := &killable{Queue: w.queue}
	cfg := processor.Config{AgentID: id, Workers: 2, AcceptWait: 200 * time.Millisecond,
		RenewEvery: 300 * time.Millisecond, HeartbeatEvery: 200 * time.Millisecond, DrainTimeout: time.Second,
		TransientRetries: 3, TransientBackoff: 50 * time.Millisecond, SendBackoff: 20 * time.Millisecond}
	if w.clock != nil {
		cfg.Clock = w.clock
	}
	p := processor.New(k, w.runner, w.secrets, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{Agent: p, queue: k, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(a.done); _ = p.Run(ctx) }()
	w.t.Cleanup(a.stop)
	return a
}

func (a *agent) stop() {
	a.cancel()
	<-a.done
}

// kill makes the agent's process die, as far as the queue can tell: from
// now on nothing it does reaches the queue (no heartbeat, no renewal, no
// settlement), so its session lock simply expires. Its goroutines wind
// down in the background (the test's cleanup waits for them).
func (a *agent) kill() {
	a.queue.dead.Store(true)
	a.cancel()
}

var errKilled = errors.New("this process was killed")

type killable struct {
	tre.Queue
	dead atomic.Bool
}

func (k *killable) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	if k.dead.Load() {
		return errKilled
	}
	return k.Queue.Send(ctx, queue, msgs...)
}

func (k *killable) AcceptNextSession(ctx context.Context, queue string) (tre.Session, error) {
	if k.dead.Load() {
		<-ctx.Done()
		return nil, tre.ErrNoSession
	}
	s, err := k.Queue.AcceptNextSession(ctx, queue)
	if err != nil {
		return nil, err
	}
	return &killableSession{Session: s, dead: &k.dead}, nil
}

type killableSession struct {
	tre.Session
	dead *atomic.Bool
}

func (s *killableSession) Receive(ctx context.Context, max int) ([]*tre.Received, error) {
	if s.dead.Load() {
		return nil, tre.ErrSessionLost
	}
	return s.Session.Receive(ctx, max)
}

func (s *killableSession) RenewLock(ctx context.Context) (time.Time, error) {
	if s.dead.Load() {
		return time.Time{}, errKilled
	}
	return s.Session.RenewLock(ctx)
}

func (s *killableSession) Complete(ctx context.Context, m *tre.Received) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Session.Complete(ctx, m)
}

func (s *killableSession) Abandon(ctx context.Context, m *tre.Received) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Session.Abandon(ctx, m)
}

func (s *killableSession) DeadLetter(ctx context.Context, m *tre.Received, reason, desc string) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Session.DeadLetter(ctx, m, reason, desc)
}

func (s *killableSession) Close(ctx context.Context) error {
	if s.dead.Load() {
		return nil // a dead process releases nothing: the lock expires
	}
	return s.Session.Close(ctx)
}

// advance waits until the agents have set a timer of lo to hi on the
// world's clock, then moves the clock by hi.
func (w *world) advance(lo, hi time.Duration) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(w.t, w.clock.WaitTimer(ctx, lo, hi))
	w.clock.Advance(hi)
}

func (w *world) token(name string, roles ...string) string {
	tok, err := w.keys.Mint(name, roles, time.Hour, time.Now())
	require.NoError(w.t, err)
	return tok
}

func (w *world) do(method, path, body string) (int, map[string]any, http.Header) {
	w.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, rd)
	require.NoError(w.t, err)
	req.Header.Set("Authorization", "Bearer "+w.admin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// createWorkspace starts an install and returns the operation's location.
func (w *world) createWorkspace() string {
	w.t.Helper()
	status, body, hdr := w.do("POST", "/api/workspaces", `{"templateName":"ws","properties":{"display_name":"x","description":"y"}}`)
	require.Equal(w.t, http.StatusAccepted, status, "%v", body)
	return hdr.Get("Location")
}

func (w *world) operation(loc string) map[string]any {
	w.t.Helper()
	status, body, _ := w.do("GET", loc, "")
	require.Equal(w.t, http.StatusOK, status, "%v", body)
	return body["operation"].(map[string]any)
}

// patience multiplies the waits for a state: they only detect a state that
// never comes, so they are generous, and a test goes on the moment the
// state is reached (make stress runs these with both cores busy).
const patience = 6

func (w *world) waitStatus(loc string, want string, within time.Duration) map[string]any {
	w.t.Helper()
	var op map[string]any
	require.Eventually(w.t, func() bool {
		op = w.operation(loc)
		return op["status"] == want
	}, patience*within, 20*time.Millisecond, "operation never became %s within %s", want, patience*within)
	return op
}

func stepMessage(op map[string]any) string {
	return op["steps"].([]any)[0].(map[string]any)["message"].(string)
}

// assertNothingInProgress: no operation of the world is left in progress.
func (w *world) assertNothingInProgress() {
	w.t.Helper()
	ops, err := tre.QueryAs[tre.Operation](context.Background(), w.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.In("status", tre.InProgressStatuses()...)}})
	require.NoError(w.t, err)
	require.Empty(w.t, ops, "operations left in progress")
}
