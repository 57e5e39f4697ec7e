package faulttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/processor/fakeclock"
	"github.com/tre-go/tre/internal/tre"
)

// hangs until the job is cancelled: a bundle still running.
func hang(ctx context.Context) (tre.JobResult, error) {
	<-ctx.Done()
	return tre.JobResult{}, ctx.Err()
}

func ok() (tre.JobResult, error) {
	return tre.JobResult{Outputs: []tre.Output{{Name: "connection_uri", Value: "https://ok", Type: "string"}}}, nil
}

// A processor dies mid-step: its heartbeats stop, the watchdog fails the
// step within its limit saying so, a retry runs it again on another
// processor, and the workspace is deployed.
func TestKilledProcessorWatchdogRetry(t *testing.T) {
	w := newWorld(t, options{lockDuration: 3 * time.Second, heartbeatLimit: time.Second}, func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error) {
		if run == 1 {
			return hang(ctx)
		}
		return ok()
	})
	first := w.startAgent("doomed")
	loc := w.createWorkspace()
	w.waitStatus(loc, "deploying", 10*time.Second)
	first.kill()

	// The deadline is liveness only; which check failed the step is what
	// the message says.
	op := w.waitStatus(loc, "deployment_failed", 30*time.Second)
	require.Contains(t, op["message"], "The Resource Processor (doomed) stopped reporting on the step: last heartbeat at")

	w.startAgent("healthy")
	status, body, _ := w.do("POST", loc+"/retry", "")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	op = w.waitStatus(loc, "deployed", 20*time.Second)
	attempts := op["attempts"].([]any)
	require.Len(t, attempts, 2)
	require.Equal(t, "deployment_failed", attempts[0].(map[string]any)["outcome"])
	require.Equal(t, "deployed", attempts[1].(map[string]any)["outcome"])
	w.assertNothingInProgress()
}

// A request is dead-lettered (its processor died more often than the
// queue allows): the operation fails with the dead-letter reason instead
// of waiting; an admin replays it and it is deployed.
func TestDeadLetteredRequestFailsThenReplays(t *testing.T) {
	w := newWorld(t, options{lockDuration: time.Second, maxDelivery: 1}, func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error) {
		if run == 1 {
			return hang(ctx)
		}
		return ok()
	})
	first := w.startAgent("doomed")
	loc := w.createWorkspace()
	w.waitStatus(loc, "deploying", 10*time.Second)
	first.kill()

	op := w.waitStatus(loc, "deployment_failed", 15*time.Second)
	require.Contains(t, op["message"], "The request was dead-lettered")
	require.Contains(t, op["message"], tre.ReasonMaxDeliveryCount)

	status, body, _ := w.do("GET", "/api/admin/dead-letters", "")
	require.Equal(t, http.StatusOK, status)
	var id string
	for _, d := range body["deadLetters"].([]any) {
		dl := d.(map[string]any)
		if dl["queue"] == tre.QueueRequests {
			require.Equal(t, tre.ReasonMaxDeliveryCount, dl["reason"])
			require.Equal(t, op["id"], dl["operationId"])
			id = dl["id"].(string)
		}
	}
	require.NotEmpty(t, id, "the dead letter is listed with its operation")

	w.startAgent("healthy")
	status, body, _ = w.do("POST", "/api/admin/dead-letters/"+tre.QueueRequests+"/"+id+"/replay", "")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	w.waitStatus(loc, "deployed", 20*time.Second)
	_, body, _ = w.do("GET", "/api/admin/dead-letters", "")
	for _, d := range body["deadLetters"].([]any) {
		require.NotEqual(t, tre.QueueRequests, d.(map[string]any)["queue"], "the replayed dead letter is gone")
	}
	w.assertNothingInProgress()
}

// Cancelling a running step stops the bundle and fails the step with who
// cancelled it.
func TestCancelStopsTheBundle(t *testing.T) {
	var stopped atomic.Bool
	w := newWorld(t, options{}, func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error) {
		<-ctx.Done()
		stopped.Store(true)
		return tre.JobResult{}, ctx.Err()
	})
	w.startAgent("agent")
	loc := w.createWorkspace()
	w.waitStatus(loc, "deploying", 10*time.Second)
	status, body, _ := w.do("POST", loc+"/cancel", "")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	op := w.waitStatus(loc, "deployment_failed", 10*time.Second)
	require.True(t, stopped.Load(), "the bundle process was told to stop")
	require.Contains(t, stepMessage(op), "cancelled by admin")
	w.assertNothingInProgress()
}

// Two transient errors, then success: deployed, with each failed try in
// the operation's final message.
func TestTransientErrorsThenSuccess(t *testing.T) {
	clock := fakeclock.New(time.Now())
	w := newWorld(t, options{clock: clock, lockDuration: time.Minute}, func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error) {
		switch run {
		case 1:
			return tre.JobResult{}, errors.New("creating Key Vault: StatusCode=429 Code=TooManyRequests")
		case 2:
			return tre.JobResult{}, errors.New("deleting subnet: Code=AnotherOperationInProgress")
		}
		return ok()
	})
	w.startAgent("agent")
	loc := w.createWorkspace()
	// Each rerun waits for its backoff (50 ms, then 100 ms, less up to 20%
	// of jitter): the clock moves past each one in turn.
	w.advance(40*time.Millisecond, 50*time.Millisecond)
	w.advance(80*time.Millisecond, 100*time.Millisecond)
	op := w.waitStatus(loc, "deployed", 15*time.Second)
	msg := op["message"].(string)
	require.Contains(t, msg, "after 3 tries")
	require.Contains(t, msg, "try 1: creating Key Vault: StatusCode=429")
	require.Contains(t, msg, "try 2: deleting subnet: Code=AnotherOperationInProgress")
	w.assertNothingInProgress()
}

// Many retry requests at once start one retry.
func TestDuplicateRetriesRetryOnce(t *testing.T) {
	fail := atomic.Bool{}
	fail.Store(true)
	w := newWorld(t, options{}, func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error) {
		if fail.Load() {
			return tre.JobResult{}, errors.New("Error: quota exceeded")
		}
		return ok()
	})
	w.startAgent("agent")
	loc := w.createWorkspace()
	w.waitStatus(loc, "deployment_failed", 10*time.Second)
	fail.Store(false)

	const n = 10
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = w.do("POST", loc+"/retry", "")
		}()
	}
	wg.Wait()
	accepted := 0
	for _, c := range codes {
		switch c {
		case http.StatusAccepted:
			accepted++
		case http.StatusConflict:
		default:
			t.Fatalf("unexpected answer %d to a retry", c)
		}
	}
	require.Equal(t, 1, accepted, "codes %v", codes)
	op := w.waitStatus(loc, "deployed", 10*time.Second)
	require.Len(t, op["attempts"], 2)
	w.runner.mu.Lock()
	runs := 0
	for _, n := range w.runner.runs {
		runs += n
	}
	w.runner.mu.Unlock()
	require.Equal(t, 2, runs, "the bundle ran once per attempt")
	w.assertNothingInProgress()
}

// The event stream shows each change of an operation until it ends.
func TestEventStream(t *testing.T) {
	wrote, release := make(chan struct{}), make(chan struct{})
	w := newWorld(t, options{clock: fakeclock.New(time.Now()), lockDuration: time.Minute}, func(ctx context.Context, job tre.Job, run int) (tre.JobResult, error) {
		fmt.Fprintln(job.Output, "step one of the deployment")
		close(wrote)
		<-release
		return ok()
	})
	w.startAgent("agent")
	loc := w.createWorkspace()
	req, err := http.NewRequest("GET", w.srv.URL+loc+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+w.admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	stream := &streamBuffer{changed: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(stream, resp.Body)
	}()
	w.waitStatus(loc, "deploying", 10*time.Second)
	select {
	case <-wrote:
	case <-time.After(patience * 10 * time.Second):
		t.Fatal("the bundle wrote nothing")
	}
	w.advance(200*time.Millisecond, 200*time.Millisecond) // a heartbeat with the output
	stream.waitFor(t, "step one of the deployment")
	close(release)
	select {
	case <-read:
	case <-time.After(patience * 10 * time.Second):
		t.Fatal("the event stream did not end")
	}
	streamed := stream.String()
	require.Contains(t, streamed, `"status":"awaiting_deployment"`)
	require.Contains(t, streamed, `"status":"deploying"`)
	require.Contains(t, streamed, "step one of the deployment", "the output tail is streamed")
	require.Contains(t, streamed, "event: end\ndata: {\"status\":\"deployed\"}")
	w.assertNothingInProgress()
}

// streamBuffer is what an event stream sent so far.
type streamBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{} // closed and replaced on each write
}

func (s *streamBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *streamBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the stream contains want.
func (s *streamBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(patience * 10 * time.Second)
	for {
		s.mu.Lock()
		got, changed := s.b.String(), s.changed
		s.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the stream never showed %q; it has:\n%s", want, got)
		}
	}
}
