package api_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/processor/fakeclock"
	"github.com/tre-go/tre/internal/tre"
)

// flakyTriggers is the lifecycle behind a store that is unreachable until
// a time of the test's clock: the store's own error until then.
type flakyTriggers struct {
	api.Triggers
	clock *fakeclock.Clock
	until time.Time
	calls atomic.Int32
}

func (f *flakyTriggers) ApplyStatus(ctx context.Context, upd tre.StatusUpdate) (lifecycle.Outcome, error) {
	f.calls.Add(1)
	if f.clock.Now().Before(f.until) {
		return "", tre.Errorf(tre.CodeUnavailable, "The configuration store (Cosmos DB) is not responding")
	}
	return f.Triggers.ApplyStatus(ctx, upd)
}

type invoked struct {
	code int
	out  funchost.Response
}

// invokeOnClock invokes a trigger and advances the clock past each wait
// the invocation sets, until it answers.
func invokeOnClock(t *testing.T, e *env, clock *fakeclock.Clock, function string, payload []byte) invoked {
	t.Helper()
	done := make(chan invoked, 1)
	go func() {
		code, out := e.invoke(function, payload)
		done <- invoked{code, out}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		wctx, stop := context.WithCancel(ctx)
		waited := make(chan error, 1)
		go func() { waited <- clock.WaitTimer(wctx, time.Nanosecond, 24*time.Hour) }()
		select {
		case res := <-done:
			stop()
			<-waited
			return res
		case err := <-waited:
			stop()
			require.NoError(t, err, "the invocation neither answered nor waited")
			clock.Advance(clock.Timers()[0])
		}
	}
}

// A status message that meets a store unreachable for a minute is applied
// by its first delivery: the invocation waits, with backoff, instead of
// failing, so the host neither abandons it nor, after the queue's max
// delivery count, dead-letters it. An outage longer than the invocation's
// budget fails it (500) once the budget is spent, for the next delivery.
func TestStatusTriggerRidesOutAShortOutage(t *testing.T) {
	dir, w := buildWorld(t, worldRunning)
	e := openEnv(t, copyDir(t, dir))
	ctx := context.Background()
	op, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, w.wsAct)
	require.NoError(t, err)
	st := op.Steps[0]
	payload := statusPayload(t, tre.StatusUpdate{OperationID: op.ID, StepID: st.ID, ID: st.ResourceID, Attempt: 1,
		Status: tre.StatusActionSucceeded, Message: "done"}, "m1", op.ID)

	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	clock := fakeclock.New(t0)
	flaky := &flakyTriggers{Triggers: e.api.Triggers, clock: clock, until: t0.Add(time.Minute)}
	e.api.Triggers = flaky
	e.api.TriggerRetry = api.TriggerRetry{Budget: 4 * time.Minute, Clock: clock}

	res := invokeOnClock(t, e, clock, "deployment-status", payload)
	require.Equal(t, http.StatusOK, res.code, "%v", res.out.Logs)
	require.Equal(t, []string{"applied: step " + st.ID + " action_succeeded"}, res.out.Logs)
	require.GreaterOrEqual(t, clock.Now().Sub(t0), time.Minute, "it waited out the outage")
	require.Less(t, clock.Now().Sub(t0), 2*time.Minute, "and no longer than a backoff past it")
	require.Greater(t, flaky.calls.Load(), int32(3), "it retried with backoff")
	got, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, op.ID)
	require.NoError(t, err)
	require.Equal(t, tre.StatusActionSucceeded, got.Status)
	require.Contains(t, e.logs.String(), `"msg":"dependency unavailable; retrying within the invocation"`)

	// Down for longer than the budget: 500 when it is spent, saying why.
	t1 := clock.Now()
	flaky.until = t1.Add(time.Hour)
	res = invokeOnClock(t, e, clock, "deployment-status", payload)
	require.Equal(t, http.StatusInternalServerError, res.code)
	require.Equal(t, 4*time.Minute, clock.Now().Sub(t1), "the whole budget, and no more")
	require.Contains(t, res.out.Logs[0], "retry: The configuration store (Cosmos DB) is not responding")
	require.Contains(t, e.logs.String(), `"level":"ERROR","msg":"status ingestion failed; the host will deliver it again"`)
}

// blockingFirewall's steps take until the invocation's time is up.
type blockingFirewall struct {
	api.Firewall
	deadline chan time.Time
}

func (b *blockingFirewall) Enabled() bool { return true }

func (b *blockingFirewall) RunSteps(ctx context.Context) error {
	d, _ := ctx.Deadline()
	b.deadline <- d
	<-ctx.Done()
	return ctx.Err()
}

// The firewall-reconcile timer stops at its time budget and answers 200,
// saying the next run resumes: the host does not count it failed, and it
// never runs into the host's functionTimeout.
func TestFirewallTimerStopsAtItsBudget(t *testing.T) {
	e := openEnv(t, t.TempDir())
	fw := &blockingFirewall{Firewall: e.api.Firewall, deadline: make(chan time.Time, 1)}
	e.api.Firewall = fw
	e.api.TimerBudget = time.Millisecond
	timer, err := os.ReadFile("../funchost/testdata/timer.json")
	require.NoError(t, err)
	start := time.Now()
	code, out := e.invoke("firewall-reconcile", timer)
	require.Equal(t, http.StatusOK, code, "%v", out.Logs)
	require.Contains(t, out.Logs[0], "the next run resumes")
	d := <-fw.deadline
	require.False(t, d.IsZero(), "the run had a deadline")
	require.False(t, d.Before(start), "set by this invocation")
	require.Contains(t, e.logs.String(), `"msg":"firewall reconcile stopped at its time budget; the next run resumes"`)
}

// An event stream ends at its limit with a reconnect event (the client
// opens a new one): the Functions host cuts a proxied invocation at
// 230 s and at its functionTimeout.
func TestEventStreamEndsAtItsLimit(t *testing.T) {
	dir, w := buildWorld(t, worldRunning)
	e := openEnv(t, copyDir(t, dir))
	e.api.StreamLimit = time.Millisecond
	op, err := tre.GetAs[tre.Operation](context.Background(), e.store, tre.Operations, w.wsAct)
	require.NoError(t, err)
	require.False(t, op.Status.Terminal(), "an operation in progress: its stream would go on")
	req, err := http.NewRequest("GET", e.srv.URL+"/api"+op.ResourcePath+"/operations/"+op.ID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.token("admin", "TREAdmin"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "event: operation\n")
	require.True(t, strings.HasSuffix(string(body), "event: reconnect\ndata: {}\n\n"), "%s", body)
}
