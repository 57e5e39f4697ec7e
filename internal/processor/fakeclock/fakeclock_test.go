package fakeclock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-c:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestTimersFireWhenAdvancedPastThem(t *testing.T) {
	c := New(t0)
	short, _ := c.After(time.Second)
	long, _ := c.After(time.Minute)
	require.Equal(t, []time.Duration{time.Second, time.Minute}, c.Timers())

	c.Advance(999 * time.Millisecond)
	_, ok := fired(short)
	require.False(t, ok, "not yet")
	c.Advance(time.Millisecond)
	at, ok := fired(short)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), at, "a timer receives its own deadline")
	_, ok = fired(long)
	require.False(t, ok)
	require.Equal(t, []time.Duration{time.Minute}, c.Timers())

	c.Advance(time.Hour)
	at, ok = fired(long)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Minute), at)
	require.Equal(t, t0.Add(time.Hour+time.Second), c.Now())
	require.Empty(t, c.Timers())
}

func TestStoppedTimerNeverFires(t *testing.T) {
	c := New(t0)
	ch, stop := c.After(time.Second)
	stop()
	require.Empty(t, c.Timers())
	c.Advance(time.Hour)
	_, ok := fired(ch)
	require.False(t, ok)

	now, _ := c.After(0)
	_, ok = fired(now)
	require.True(t, ok, "a timer of no duration has fired already")
}

func TestWaitTimer(t *testing.T) {
	c := New(t0)
	set := make(chan struct{})
	go func() {
		<-set
		c.After(1500 * time.Millisecond)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.WaitTimer(ctx, time.Second, 2*time.Second), context.DeadlineExceeded, "no timer yet")

	close(set)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.WaitTimer(ctx, time.Second, 2*time.Second))
	require.NoError(t, c.WaitTimer(ctx, 1500*time.Millisecond, 1500*time.Millisecond), "bounds are included")
}
