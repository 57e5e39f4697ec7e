package roster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/roster"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestHeartbeatsAndHealth(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	s := roster.New(st, clk.now)

	require.ErrorContains(t, s.Health(ctx, time.Minute), "no Resource Processor agent has reported yet")
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(s.Record(ctx, tre.AgentHeartbeat{Agent: " "})))

	require.NoError(t, s.Record(ctx, tre.AgentHeartbeat{Agent: "vm-0", Workers: 2, Healthy: true, SentAt: 10}))
	require.NoError(t, s.Health(ctx, time.Minute))

	// A late heartbeat does not replace a newer one.
	require.NoError(t, s.Record(ctx, tre.AgentHeartbeat{Agent: "vm-0", Workers: 1, Healthy: false, Problem: "old", SentAt: 5}))
	clk.advance(time.Second)
	require.NoError(t, s.Record(ctx, tre.AgentHeartbeat{Agent: "vm-1", Healthy: false, Problem: "porter missing", SentAt: 11}))
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "vm-1", list[0].Agent, "most recent first")
	require.Equal(t, 2, list[1].Workers, "the late heartbeat was ignored")

	// Silent for too long: not healthy, and the error says what was seen.
	clk.advance(2 * time.Minute)
	err = s.Health(ctx, time.Minute)
	require.ErrorContains(t, err, "vm-0 last reported 2m1s ago (healthy)")
	require.ErrorContains(t, err, "vm-1 last reported 2m0s ago (unhealthy: porter missing)")
}
