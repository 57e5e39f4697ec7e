package funchost

import (
	"context"
	"encoding/json"
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
