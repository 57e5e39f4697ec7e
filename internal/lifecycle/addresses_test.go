package lifecycle

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// readCounter counts the reads and writes made through it.
type readCounter struct {
	countingStore
	reads int
}

func (c *readCounter) Get(ctx context.Context, col tre.Collection, id string) (tre.Document, error) {
	c.reads++
	return c.Store.Get(ctx, col, id)
}

func (c *readCounter) Query(ctx context.Context, col tre.Collection, q tre.Query) ([]tre.Document, error) {
	c.reads++
	return c.Store.Query(ctx, col, q)
}

// TestAllocationCostIsFlat: the 300th allocation reads and writes as many
// documents, of the same size bound, as the 3rd.
func TestAllocationCostIsFlat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cost := func(i int) (reads, writes int) {
		c := &readCounter{countingStore: countingStore{Store: f.store}}
		f.svc.store = c
		defer func() { f.svc.store = f.store }()
		_, err := f.svc.allocate(ctx, fmt.Sprintf("r-%d", i), "small", "")
		require.NoError(t, err)
		return c.reads, c.n
	}
	var early, late [2]int
	for i := range 300 {
		r, w := cost(i)
		switch i {
		case 2:
			early = [2]int{r, w}
		case 299:
			late = [2]int{r, w}
		}
	}
	require.Equal(t, 1, late[1], "one write")
	require.LessOrEqual(t, late[0], early[0]+1, "reads: %v then %v", early, late)
	blocks, err := tre.QueryAs[addressBlock](ctx, f.store, tre.Allocations, tre.Query{})
	require.NoError(t, err)
	for _, b := range blocks {
		require.LessOrEqual(t, len(b.Entries), 16, "a block holds at most sixteen /24s")
	}
	require.Len(t, f.allocations(), 300)
}

// TestAllocationsDoNotOverlapAndAreFreed: every size and custom ranges
// across blocks; freed space is reused; a range larger than a block that
// finds one of its blocks taken gives back those it claimed.
func TestAllocationsDoNotOverlapAndAreFreed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var got []netip.Prefix
	alloc := func(id, size, custom string) netip.Prefix {
		t.Helper()
		p, err := f.svc.allocate(ctx, id, size, custom)
		require.NoError(t, err, "%s %s %s", id, size, custom)
		for _, q := range got {
			require.False(t, p.Overlaps(q), "%s overlaps %s", p, q)
		}
		require.False(t, p.Overlaps(f.svc.cfg.CoreAddressSpace))
		got = append(got, p)
		return p
	}
	require.Equal(t, "10.1.4.0/24", alloc("a", "small", "").String(), "next to the core first")
	require.Equal(t, "10.1.8.0/22", alloc("b", "medium", "").String())
	large := alloc("c", "large", "")
	require.Equal(t, 16, large.Bits())
	custom := alloc("d", "custom", "10.4.0.0/15")
	for range 20 {
		alloc(fmt.Sprintf("s%d", len(got)), "small", "")
	}

	// A custom /15 over the large /16 finds it taken, and keeps nothing of
	// the blocks it claimed before it.
	before := f.allocations()
	_, err := f.svc.allocate(ctx, "e", "custom", netip.PrefixFrom(large.Addr(), 15).Masked().String())
	require.Equal(t, tre.CodeUnprocessable, tre.ErrorCode(err))
	require.Equal(t, before, f.allocations())

	// Freed, the large range is given again.
	require.NoError(t, f.svc.releaseAddresses(ctx, &tre.Resource{ID: "c", Properties: map[string]any{"address_space": large.String()}}))
	require.NotContains(t, f.allocations(), "c")
	require.NoError(t, f.svc.releaseAddresses(ctx, &tre.Resource{ID: "d", Properties: map[string]any{"address_space": custom.String()}}))
	got = got[:0]
	for _, cidrs := range f.allocations() {
		for _, c := range cidrs {
			got = append(got, netip.MustParsePrefix(c))
		}
	}
	require.Equal(t, large, alloc("c2", "large", ""), "the freed /16 is the first aligned free run")
	alloc("d2", "custom", custom.String())
	require.Len(t, f.allocations()["d2"], 32, "a /15 is recorded in each of its 32 blocks of /20")
}

// TestPendingAllocationsAreSettled: without shared transactions an
// allocation is pending until the sweep finds its resource (confirmed) or
// finds none after RecoverAfter (dropped, and its space given again).
func TestPendingAllocationsAreSettled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, _ := f.createWorkspace(nil)
	orphan, err := f.svc.allocate(ctx, "never-created", "small", "")
	require.NoError(t, err)
	pending := func() int {
		n := 0
		blocks, err := tre.QueryAs[addressBlock](ctx, f.store, tre.Allocations, tre.Query{Where: []tre.Cond{tre.Eq("pending", true)}})
		require.NoError(t, err)
		for _, b := range blocks {
			for _, e := range b.Entries {
				if e.Pending {
					n++
				}
			}
		}
		return n
	}
	require.Equal(t, 2, pending())
	n, err := f.svc.releaseOrphanAddresses(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "too recent to judge")
	f.clock.advance(f.svc.cfg.RecoverAfter + 1)
	n, err = f.svc.releaseOrphanAddresses(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, pending())
	require.Contains(t, f.allocations(), ws.ID)
	require.NotContains(t, f.allocations(), "never-created")
	again, err := f.svc.allocate(ctx, "next", "small", "")
	require.NoError(t, err)
	require.Equal(t, orphan, again, "the dropped space is given again")
}

// TestLedgerIsFoldedIntoBlocks: the single ledger of earlier versions is
// moved into blocks on first use, and its allocations stay taken.
func TestLedgerIsFoldedIntoBlocks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, _ := f.createWorkspace(nil) // a real resource, so the sweep keeps it
	space := f.resource(ws.ID).Properties["address_space"].(string)
	// Back to the old layout: its allocation in the ledger only.
	require.NoError(t, f.svc.releaseAddresses(ctx, f.resource(ws.ID)))
	_, err := tre.CreateAs(ctx, f.store, tre.Allocations, ledgerID, &ledger{ID: ledgerID, Allocations: []ledgerEntry{
		{CIDR: space, ResourceID: ws.ID, When: f.svc.ts()},
		{CIDR: "10.2.0.0/16", ResourceID: "gone", When: f.svc.ts()},
	}})
	require.NoError(t, err)
	svc := New(f.store, f.reg, f.secrets, f.sent, f.svc.cfg, Options{Now: f.clock.now, Log: f.svc.log}) // a new process

	p, err := svc.allocate(ctx, "new", "small", "")
	require.NoError(t, err)
	require.NotEqual(t, space, p.String(), "the ledger's allocation is still taken")
	_, err = svc.allocate(ctx, "new2", "custom", "10.2.4.0/24")
	require.Equal(t, tre.CodeUnprocessable, tre.ErrorCode(err), "inside the ledger's /16")
	_, err = f.store.Get(ctx, tre.Allocations, ledgerID)
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err), "the ledger is gone")
	require.Len(t, f.allocations()["gone"], 16)

	f.clock.advance(f.svc.cfg.RecoverAfter + 1)
	n, err := svc.releaseOrphanAddresses(ctx)
	require.NoError(t, err)
	require.Equal(t, 16+1, n, "allocations of resources that do not exist are dropped (gone's, block by block, and new's)")
	require.Equal(t, map[string][]string{ws.ID: {space}}, f.allocations())
}
