package processor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// hangs returns a runner that hands each run's context to the test and
// runs until it is cancelled or released.
func hangs(runs chan<- context.Context, release <-chan struct{}) func(context.Context, tre.Job) (tre.JobResult, error) {
	return func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		runs <- ctx
		select {
		case <-ctx.Done():
		case <-release:
		}
		return tre.JobResult{}, ctx.Err()
	}
}

func receive[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting: %s", what)
		panic("unreachable")
	}
}

func (r *rig) waitRenewals(n int) {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got, changed := r.seen.renewed()
		if got >= n {
			require.Equal(r.t, n, got, "one renewal per interval")
			return
		}
		select {
		case <-changed:
		case <-deadline:
			r.t.Fatalf("timed out waiting for renewal %d (got %d)", n, got)
		}
	}
}

func TestLockRenewedEveryIntervalWhileBundleRuns(t *testing.T) {
	runs, release := make(chan context.Context, 1), make(chan struct{})
	r := newRig(t, Config{}, hangs(runs, release))
	r.start()
	r.send(request("op1", "s1", "res1", "install", nil))
	receive(t, runs, "the bundle started")
	for i := 1; i <= 2; i++ {
		r.waitTimer(rigRenewEvery, rigRenewEvery)
		n, _ := r.seen.renewed()
		require.Equal(t, i-1, n, "no renewal before its interval has passed")
		r.clock.Advance(rigRenewEvery)
		r.waitRenewals(i)
	}
	close(release)
	got := r.statuses("op1", 10*time.Second)
	require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status)
}

func TestHeartbeatsInOrder(t *testing.T) {
	runs, release := make(chan context.Context, 1), make(chan struct{})
	r := newRig(t, Config{HeartbeatEvery: time.Minute}, hangs(runs, release))
	r.start()
	r.send(request("op2", "s2", "res2", "install", nil))
	receive(t, runs, "the bundle started")
	for i := 1; i <= 2; i++ {
		r.waitTimer(time.Minute, time.Minute)
		r.clock.Advance(time.Minute)
		want := fmt.Sprintf("res2: install running for %dm0s", i)
		r.waitSent(want, func(u tre.StatusUpdate) bool { return u.Message == want })
	}
	close(release)
	var messages []string
	for _, u := range r.statuses("op2", 10*time.Second) {
		messages = append(messages, u.Message)
	}
	require.Equal(t, []string{"res2: Job starting", "res2: install running for 1m0s", "res2: install running for 2m0s",
		"res2: install action completed successfully."}, messages)
}

// A worker that loses its session lock stops the bundle and settles
// nothing: the request comes back and runs again.
func TestLostLockStopsTheBundleUnsettled(t *testing.T) {
	runs := make(chan context.Context, 2)
	r := newRig(t, Config{DrainTimeout: time.Minute}, hangs(runs, nil))
	r.start()
	r.send(request("op3", "s3", "res3", "install", nil))
	first := receive(t, runs, "the bundle started")
	r.seen.mu.Lock()
	r.seen.failRenew = tre.ErrSessionLost
	r.seen.mu.Unlock()
	r.waitTimer(rigRenewEvery, rigRenewEvery)
	require.NoError(t, first.Err())
	r.clock.Advance(rigRenewEvery)
	receive(t, first.Done(), "the bundle was stopped")
	second := receive(t, runs, "the request came back")
	require.NoError(t, second.Err())

	r.cancel()
	r.waitTimer(time.Minute, time.Minute)
	r.clock.Advance(time.Minute)
	r.stop()
	got := r.statuses("op3", time.Second)
	require.NotEmpty(t, got)
	for _, u := range got {
		require.False(t, u.Status.Terminal(), "no final status: %s", u.Message)
	}
	require.Equal(t, 1, r.requestsLeft(), "the request is still in the queue")
}
