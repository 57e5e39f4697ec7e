package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func (r *rig) sendCancel(c tre.CancelRequest, resource string) {
	r.t.Helper()
	b, err := json.Marshal(c)
	require.NoError(r.t, err)
	require.NoError(r.t, r.q.Send(context.Background(), tre.QueueRequests, tre.Message{
		MessageID: "cancel:" + c.StepID, SessionID: resource, Subject: tre.SubjectCancel, Body: b}))
}

func TestExpiredRequestIsNotRun(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	req := request("op1", "s1", "res1", "install", nil)
	req.NotAfter = tre.Timestamp(r.clock.Now().Add(-time.Minute))
	r.send(req)
	r.start()
	require.Eventually(t, func() bool {
		dl, err := r.q.DeadLetters(context.Background(), tre.QueueRequests)
		return err == nil && len(dl) == 1 && dl[0].Reason == "Expired"
	}, 10*time.Second, 20*time.Millisecond)
	require.Empty(t, r.runner.seen())
}

func TestCancelRunningBundle(t *testing.T) {
	started := make(chan struct{})
	var sawCancel atomic.Bool
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		close(started)
		<-ctx.Done()
		sawCancel.Store(true)
		return tre.JobResult{}, ctx.Err()
	})
	req := request("op2", "s2", "res2", "install", nil)
	req.Attempt = 1
	r.send(req)
	r.start()
	<-started
	r.sendCancel(tre.CancelRequest{OperationID: "op2", StepID: "s2", Attempt: 1, By: "alice (a-1)"}, "res2")
	got := r.statuses("op2", 10*time.Second)
	last := got[len(got)-1]
	require.Equal(t, tre.StatusDeploymentFailed, last.Status)
	require.Equal(t, "res2: cancelled by alice (a-1)", last.Message)
	require.Equal(t, 1, last.Attempt)
	require.True(t, sawCancel.Load(), "the bundle's context was cancelled")
	r.stop()
	require.Zero(t, r.requestsLeft(), "the request and the cancel are both settled")
}

func TestCancelBeforeStart(t *testing.T) {
	for _, sentReceiver := range []bool{false, true} {
		t.Run(fmt.Sprintf("SentReceiver=%v", sentReceiver), func(t *testing.T) { testCancelBeforeStart(t, sentReceiver) })
	}
}

func testCancelBeforeStart(t *testing.T, sentReceiver bool) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	r.seen.sentReceiver = sentReceiver
	r.send(request("op3", "s3", "res3", "install", nil))
	r.sendCancel(tre.CancelRequest{OperationID: "op3", StepID: "s3", By: "bob"}, "res3")
	r.start()
	got := r.statuses("op3", 10*time.Second)
	require.Len(t, got, 1)
	require.Equal(t, "res3: cancelled by bob before it started", got[0].Message)
	require.Empty(t, r.runner.seen(), "the bundle never ran")
}

// The look-ahead does not depend on how much one receive returns: with a
// queue that hands out one message at a time, the cancel behind another
// request still stops the bundle before it starts.
func TestCancelBehindAnotherRequestWins(t *testing.T) {
	for _, sentReceiver := range []bool{false, true} {
		t.Run(fmt.Sprintf("SentReceiver=%v", sentReceiver), func(t *testing.T) { testCancelBehindAnotherRequestWins(t, sentReceiver) })
	}
}

func testCancelBehindAnotherRequestWins(t *testing.T, sentReceiver bool) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	r.seen.oneByOne = true
	r.seen.sentReceiver = sentReceiver
	r.send(request("opA", "a", "res", "install", nil))
	r.send(request("opB", "b", "res", "upgrade", nil))
	r.sendCancel(tre.CancelRequest{OperationID: "opA", StepID: "a", By: "bob"}, "res")
	r.start()
	got := r.statuses("opA", 10*time.Second)
	require.Len(t, got, 1)
	require.Equal(t, "res: cancelled by bob before it started", got[0].Message)
	got = r.statuses("opB", 10*time.Second)
	require.Equal(t, tre.StatusUpdated, got[len(got)-1].Status, "the request behind runs next")
	jobs := r.runner.seen()
	require.Len(t, jobs, 1)
	require.Equal(t, "b", jobs[0].Message.StepID)
	r.stop()
	require.Zero(t, r.requestsLeft(), "requests, cancel and markers all settled")
}

// A marker left by a worker that died before its came back is discarded.
func TestStaleMarkerIsDiscarded(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	require.NoError(t, r.q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: "marker:old", SessionID: "res",
		Subject: subjectMarker, Body: []byte(`{}`)}))
	r.send(request("op", "s", "res", "install", nil))
	require.NoError(t, r.q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: "marker:older", SessionID: "res",
		Subject: subjectMarker, Body: []byte(`{}`)}))
	r.start()
	got := r.statuses("op", 10*time.Second)
	require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status)
	r.stop()
	require.Zero(t, r.requestsLeft())
	dl, err := r.q.DeadLetters(context.Background(), tre.QueueRequests)
	require.NoError(t, err)
	require.Empty(t, dl, "a marker is not a malformed request")
}

func TestStaleCancelIsDiscarded(t *testing.T) {
	r := newRig(t, Config{}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) { return tre.JobResult{}, nil })
	r.sendCancel(tre.CancelRequest{OperationID: "old", StepID: "old-step", By: "bob"}, "res4")
	r.send(request("op4", "s4", "res4", "install", nil))
	r.start()
	got := r.statuses("op4", 10*time.Second)
	require.Equal(t, tre.StatusDeployed, got[len(got)-1].Status)
	r.stop()
	require.Zero(t, r.requestsLeft())
}

func TestTransientErrorsAreRetried(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, Config{TransientRetries: 3, TransientBackoff: time.Second}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		switch calls.Add(1) {
		case 1:
			return tre.JobResult{}, errors.New("Error: creating Storage Account: StatusCode=429 Code=TooManyRequests")
		case 2:
			return tre.JobResult{}, errors.New("Code=\"AnotherOperationInProgress\" Message=\"Another operation is in progress\"")
		}
		return tre.JobResult{Outputs: []tre.Output{{Name: "x", Value: "1"}}}, nil
	})
	r.send(request("op5", "s5", "res5", "install", nil))
	r.start()
	// The backoff doubles, less up to 20% of jitter; nothing runs before it
	// has passed.
	r.waitTimer(800*time.Millisecond, time.Second)
	require.EqualValues(t, 1, calls.Load())
	r.clock.Advance(time.Second)
	r.waitTimer(1600*time.Millisecond, 2*time.Second)
	require.EqualValues(t, 2, calls.Load())
	r.clock.Advance(2 * time.Second)
	got := r.statuses("op5", 10*time.Second)
	require.EqualValues(t, 3, calls.Load())
	last := got[len(got)-1]
	require.Equal(t, tre.StatusDeployed, last.Status)
	require.Contains(t, last.Message, "after 3 tries")
	require.Contains(t, last.Message, "try 1: Error: creating Storage Account: StatusCode=429", "every try stays visible in the final message")
	require.Contains(t, last.Message, "try 2: Code=\"AnotherOperationInProgress\"")
	var tries []string
	for _, u := range got {
		if strings.Contains(u.Message, "trying again in") {
			tries = append(tries, u.Message)
		}
	}
	require.Len(t, tries, 2, "each transient failure is reported")
	require.Contains(t, tries[0], "try 1 of 4")
	require.Contains(t, tries[0], "TooManyRequests")
	require.Contains(t, tries[1], "try 2 of 4")
	require.Contains(t, tries[1], "AnotherOperationInProgress")
}

func TestOtherErrorsFailFast(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, Config{TransientRetries: 3, TransientBackoff: time.Second}, func(ctx context.Context, job tre.Job) (tre.JobResult, error) {
		calls.Add(1)
		return tre.JobResult{}, errors.New("Error: Invalid value for variable: address_space must be a CIDR")
	})
	r.send(request("op6", "s6", "res6", "install", nil))
	r.start()
	got := r.statuses("op6", 10*time.Second)
	require.EqualValues(t, 1, calls.Load())
	require.Equal(t, "res6: Error: Invalid value for variable: address_space must be a CIDR", got[len(got)-1].Message)
}

func TestTransient(t *testing.T) {
	for _, s := range []string{"StatusCode=429", "Too Many Requests", "AnotherOperationInProgress", "RetryableError: x",
		"dial tcp: i/o timeout", "net/http: TLS handshake timeout", "read: connection reset by peer"} {
		require.True(t, Transient(errors.New(s)), s)
	}
	for _, s := range []string{"Invalid value for variable", "error 4290 in line", "exit status 1"} {
		require.False(t, Transient(errors.New(s)), s)
	}
}
