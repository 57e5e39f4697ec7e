package funchost

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func TestHostDeliversThroughTheInvocationPath(t *testing.T) {
	q, err := sqlite.OpenQueue(context.Background(), t.TempDir(), sqlite.QueueOptions{LockDuration: 2 * time.Second, MaxDeliveryCount: 3})
	require.NoError(t, err)
	defer q.Close()

	var mu sync.Mutex
	var bodies []string
	var deliveries []int
	timers := 0
	failNext := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var inv Invocation
		require.NoError(t, json.NewDecoder(r.Body).Decode(&inv))
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/deployment-status":
			body, err := inv.Body("msg")
			require.NoError(t, err)
			require.Equal(t, "op-1", inv.String("SessionId"))
			bodies = append(bodies, string(body))
			deliveries = append(deliveries, inv.Int("DeliveryCount"))
			if failNext {
				failNext = false
				WriteResponse(w, http.StatusInternalServerError, "retry")
				return
			}
			WriteResponse(w, http.StatusOK)
		case "/dispatch-redelivery":
			_, err := inv.Body("timer")
			require.NoError(t, err)
			timers++
			WriteResponse(w, http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	for i, s := range []string{"deploying", "deployed"} {
		body, _ := json.Marshal(map[string]any{"status": s, "n": i})
		require.NoError(t, q.Send(context.Background(), tre.QueueStatus, tre.Message{MessageID: s, SessionID: "op-1", Body: body}))
	}
	h := &Host{Queue: q, HandlerURL: srv.URL, Sessions: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues: []QueueTrigger{{Function: "deployment-status", Queue: tre.QueueStatus, Binding: "msg"}},
		Timers: []TimerTrigger{{Function: "dispatch-redelivery", Binding: "timer", Every: 50 * time.Millisecond}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	defer func() { cancel(); <-done }()

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(bodies) == 3 && timers > 0
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	// The first delivery failed (500): the message was abandoned and came
	// back first, before the next one of its session.
	require.Equal(t, []int{1, 2, 1}, deliveries)
	require.JSONEq(t, `{"status":"deploying","n":0}`, bodies[0])
	require.JSONEq(t, `{"status":"deploying","n":0}`, bodies[1])
	require.JSONEq(t, `{"status":"deployed","n":1}`, bodies[2])
}

// countingQueue counts the lock renewals of the sessions it hands out.
type countingQueue struct {
	tre.Queue
	mu       sync.Mutex
	renewals int
}

func (c *countingQueue) AcceptNextSession(ctx context.Context, queue string) (tre.Session, error) {
	s, err := c.Queue.AcceptNextSession(ctx, queue)
	if err != nil {
		return nil, err
	}
	return &countingSession{Session: s, q: c}, nil
}

func (c *countingQueue) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.renewals
}

type countingSession struct {
	tre.Session
	q *countingQueue
}

func (s *countingSession) RenewLock(ctx context.Context) (time.Time, error) {
	s.q.mu.Lock()
	s.q.renewals++
	s.q.mu.Unlock()
	return s.Session.RenewLock(ctx)
}

// An invocation that outlasts the session lock keeps it, renewed, as the
// Functions host renews it: the message is not delivered again.
func TestHostRenewsTheLockWhileAnInvocationRuns(t *testing.T) {
	lock := 300 * time.Millisecond
	inner, err := sqlite.OpenQueue(context.Background(), t.TempDir(), sqlite.QueueOptions{LockDuration: lock, MaxDeliveryCount: 3})
	require.NoError(t, err)
	defer inner.Close()
	q := &countingQueue{Queue: inner}

	var mu sync.Mutex
	var deliveries []int
	answered := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var inv Invocation
		require.NoError(t, json.NewDecoder(r.Body).Decode(&inv))
		mu.Lock()
		deliveries = append(deliveries, inv.Int("DeliveryCount"))
		mu.Unlock()
		// Hold the invocation over several lock durations: until the lock
		// has been renewed five times.
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for q.count() < 5 {
			select {
			case <-tick.C:
			case <-deadline:
				WriteResponse(w, http.StatusInternalServerError, "never renewed")
				return
			}
		}
		WriteResponse(w, http.StatusOK)
		close(answered)
	}))
	defer srv.Close()

	require.NoError(t, inner.Send(context.Background(), tre.QueueStatus, tre.Message{MessageID: "m1", SessionID: "s1", Body: []byte(`{}`)}))
	h := &Host{Queue: q, HandlerURL: srv.URL, Sessions: 2, RenewEvery: lock / 3, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues: []QueueTrigger{{Function: "deployment-status", Queue: tre.QueueStatus, Binding: "msg"}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	defer func() { cancel(); <-done }()

	select {
	case <-answered:
	case <-time.After(15 * time.Second):
		t.Fatal("the invocation did not end")
	}
	require.Eventually(t, func() bool {
		actx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		s, err := inner.AcceptNextSession(actx, tre.QueueStatus)
		if err == nil {
			_ = s.Close(context.Background())
		}
		return errors.Is(err, tre.ErrNoSession)
	}, 10*time.Second, 20*time.Millisecond, "the message was completed")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{1}, deliveries, "delivered once: the lock never expired under it")
	require.GreaterOrEqual(t, q.count(), 5)
}
