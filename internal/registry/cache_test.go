package registry_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// readCounter counts the store's reads.
type readCounter struct {
	tre.Store
	mu    sync.Mutex
	reads int
}

func (c *readCounter) Get(ctx context.Context, col tre.Collection, id string) (tre.Document, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Get(ctx, col, id)
}

func (c *readCounter) Query(ctx context.Context, col tre.Collection, q tre.Query) ([]tre.Document, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Query(ctx, col, q)
}

func (c *readCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestTemplateCache: reads of a name are served from memory; every change
// made through the registry is seen at once; one made by another instance
// within CacheTTL; a version asked for by name is always found.
func TestTemplateCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	counted := &readCounter{Store: st}
	a := registry.New(counted, clock.now)
	b := registry.New(st, clock.now) // another handler instance
	_, err = a.Register(ctx, ws, reg("base", "1.0.0", true), admin)
	require.NoError(t, err)

	before := counted.count()
	for range 10 {
		cur, err := a.Current(ctx, ws, "base")
		require.NoError(t, err)
		require.Equal(t, "1.0.0", cur.Version)
		cur.Current = false // a caller's copy
		vs, err := a.Versions(ctx, ws, "base")
		require.NoError(t, err)
		require.Len(t, vs, 1)
		_, err = a.Get(ctx, ws, "base", "1.0.0")
		require.NoError(t, err)
	}
	require.LessOrEqual(t, counted.count()-before, 2, "one load of the name: its versions and its pointer")
	cur, err := a.Current(ctx, ws, "base")
	require.NoError(t, err)
	require.True(t, cur.Current, "callers' changes do not reach the cache")

	// Through a: seen at once.
	_, err = a.Register(ctx, ws, reg("base", "1.1.0", true), admin)
	require.NoError(t, err)
	cur, err = a.Current(ctx, ws, "base")
	require.NoError(t, err)
	require.Equal(t, "1.1.0", cur.Version)
	yes := true
	_, err = a.UpdateVersion(ctx, ws, "base", "1.0.0", registry.Update{Deprecated: &yes}, admin)
	require.NoError(t, err)
	vs, err := a.Versions(ctx, ws, "base")
	require.NoError(t, err)
	require.True(t, vs[0].Deprecated)

	// b, another instance, holds the name as it was: a's changes reach it
	// within CacheTTL, and a version it is asked for by name at once.
	cur, err = b.Current(ctx, ws, "base")
	require.NoError(t, err)
	require.Equal(t, "1.1.0", cur.Version)
	_, err = a.Register(ctx, ws, reg("base", "1.2.0", true), admin)
	require.NoError(t, err)
	cur, err = b.Current(ctx, ws, "base")
	require.NoError(t, err)
	require.Equal(t, "1.1.0", cur.Version, "stale within CacheTTL, by design")
	clock.advance(registry.CacheTTL)
	cur, err = b.Current(ctx, ws, "base")
	require.NoError(t, err)
	require.Equal(t, "1.2.0", cur.Version, "another instance's change is seen after CacheTTL")
	_, err = a.Register(ctx, ws, reg("base", "1.3.0", false), admin)
	require.NoError(t, err)
	got, err := b.Get(ctx, ws, "base", "1.3.0")
	require.NoError(t, err, "a version asked for by name is read from the store when the cache lacks it")
	require.Equal(t, "1.3.0", got.Version)
	vs, err = b.Versions(ctx, ws, "base")
	require.NoError(t, err)
	require.Len(t, vs, 4, "and the name is read again")
	require.True(t, vs[0].Deprecated)

	_, err = a.Get(ctx, ws, "base", "9.9.9")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
}
