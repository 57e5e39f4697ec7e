package firewall

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/lock"
	"github.com/tre-go/tre/internal/tre"
)

// recordingBackend wraps a backend, records writes and how many overlapped,
// and fails puts of chosen groups.
type recordingBackend struct {
	tre.Firewall
	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	writes      []string
	failPut     map[string]error
}

func (b *recordingBackend) enter(op string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight++
	b.maxInFlight = max(b.maxInFlight, b.inFlight)
	b.writes = append(b.writes, op)
}

func (b *recordingBackend) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight--
}

func (b *recordingBackend) Put(ctx context.Context, g tre.RuleCollectionGroup) error {
	b.enter("put " + g.Name)
	defer b.leave()
	b.mu.Lock()
	err := b.failPut[g.Name]
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return b.Firewall.Put(ctx, g)
}

func (b *recordingBackend) Delete(ctx context.Context, name string) error {
	b.enter("delete " + name)
	defer b.leave()
	return b.Firewall.Delete(ctx, name)
}

func (b *recordingBackend) takeWrites() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.writes
	b.writes = nil
	return w
}

type reconcileFixture struct {
	store   tre.Store
	file    *firewallfile.Backend
	backend *recordingBackend
	r       *Reconciler
	at      time.Time
}

func newReconcileFixture(t *testing.T) *reconcileFixture {
	t.Helper()
	store := openStore(t)
	file := &firewallfile.Backend{Path: filepath.Join(t.TempDir(), "firewall.json")}
	rec := &recordingBackend{Firewall: file}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &reconcileFixture{
		store: store, file: file, backend: rec, at: at,
		r: &Reconciler{
			Firewall: rec,
			Lease:    &lock.Lease{Store: store, Name: "firewall", Holder: "test", MaxWait: 10 * time.Millisecond},
			Now:      func() time.Time { return at },
		},
	}
}

func (f *reconcileFixture) groups(t *testing.T) map[string]tre.RuleCollectionGroup {
	t.Helper()
	groups, err := f.file.Groups(context.Background())
	require.NoError(t, err)
	out := map[string]tre.RuleCollectionGroup{}
	for _, g := range groups {
		out[g.Name] = g
	}
	return out
}

func foreignGroup() tre.RuleCollectionGroup {
	return tre.RuleCollectionGroup{Name: "rcg-core", Priority: 100, Collections: []tre.RuleCollection{{
		Name: "nrc-core", Priority: 100, Action: tre.RuleAllow,
		NetworkRules: []tre.NetworkRule{{Name: "allow-all-dns", SourceAddresses: []string{"*"}, DestinationAddresses: []string{"*"},
			DestinationPorts: []string{"53"}, Protocols: []string{"UDP"}}},
	}}}
}

func TestReconcileWritesOnlyDifferencesAndRemovesLeftovers(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 30*time.Second)
	desired, errs := Desired([]Owned{
		owned(tre.RuleOwnerResource, "ws-a", []string{"arc_a"}, []string{"nrc_a"}),
		owned(tre.RuleOwnerManual, "admin", nil, []string{"nrc_m"}),
	}, Config{})
	require.Empty(t, errs)
	require.Len(t, desired, 3)
	byName := map[string]tre.RuleCollectionGroup{}
	for _, g := range desired {
		byName[g.Name] = g
	}

	// Azure holds: the network group already right (labels aside), a stale
	// application group, a leftover group and a manual group that is no
	// longer desired, and a group that is not TRE's.
	same := byName["rcg-tre-network"].Clone()
	same.Collections[0].Owner = tre.RuleOwner{}
	stale := byName["rcg-tre-application"].Clone()
	stale.Collections[0].ApplicationRules[0].TargetFQDNs = []string{"old.example.com"}
	leftover := byName["rcg-tre-network"].Clone()
	leftover.Name, leftover.Priority = "rcg-tre-old", 520
	manualApp := foreignGroup()
	manualApp.Name, manualApp.Priority = "RCG-TRE-manual-application", 210
	for _, g := range []tre.RuleCollectionGroup{same, stale, leftover, manualApp, foreignGroup()} {
		require.NoError(t, f.file.Put(ctx, g))
	}

	res, err := f.r.Reconcile(ctx, desired)
	require.NoError(t, err)
	require.Equal(t, Result{
		At:        f.at,
		Written:   []string{"rcg-tre-manual-network", "rcg-tre-application"},
		Deleted:   []string{"RCG-TRE-manual-application", "rcg-tre-old"},
		Unchanged: []string{"rcg-tre-network"},
	}, res)
	require.Equal(t, []string{
		"put rcg-tre-manual-network", "put rcg-tre-application",
		"delete RCG-TRE-manual-application", "delete rcg-tre-old",
	}, f.backend.takeWrites(), "writes in priority order, then deletes")

	got := f.groups(t)
	require.Len(t, got, 4)
	for _, g := range desired {
		require.True(t, got[g.Name].Equal(g), g.Name)
	}
	require.Equal(t, foreignGroup(), got["rcg-core"], "a group without the prefix is never touched")

	// Nothing changed: nothing is written.
	res, err = f.r.Reconcile(ctx, desired)
	require.NoError(t, err)
	require.Empty(t, res.Written)
	require.Empty(t, res.Deleted)
	require.ElementsMatch(t, []string{"rcg-tre-manual-network", "rcg-tre-network", "rcg-tre-application"}, res.Unchanged)
	require.Empty(t, f.backend.takeWrites())
}

func TestReconcileRevertsDriftAndLeavesOthersAlone(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 30*time.Second)
	desired, _ := Desired([]Owned{owned(tre.RuleOwnerResource, "ws-a", nil, []string{"nrc_a"})}, Config{})
	require.NoError(t, f.file.Put(ctx, foreignGroup()))
	_, err := f.r.Reconcile(ctx, desired)
	require.NoError(t, err)
	f.backend.takeWrites()

	// Someone edits TRE's group and the core group by hand.
	drifted := f.groups(t)["rcg-tre-network"]
	drifted.Collections[0].NetworkRules[0].DestinationAddresses = []string{"*"}
	drifted.Collections = append(drifted.Collections, foreignGroup().Collections[0])
	require.NoError(t, f.file.Put(ctx, drifted))
	core := foreignGroup()
	core.Collections[0].NetworkRules[0].DestinationPorts = []string{"*"}
	require.NoError(t, f.file.Put(ctx, core))

	res, err := f.r.Reconcile(ctx, desired)
	require.NoError(t, err)
	require.Equal(t, []string{"rcg-tre-network"}, res.Written)
	got := f.groups(t)
	require.True(t, got["rcg-tre-network"].Equal(desired[0]))
	require.Equal(t, core, got["rcg-core"])
}

func TestReconcileEmptyDesiredDeletesEveryManagedGroup(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 30*time.Second)
	desired, _ := Desired([]Owned{owned(tre.RuleOwnerResource, "ws-a", []string{"arc"}, []string{"nrc"})}, Config{})
	require.NoError(t, f.file.Put(ctx, foreignGroup()))
	_, err := f.r.Reconcile(ctx, desired)
	require.NoError(t, err)

	// An empty group in the desired state counts as not desired.
	res, err := f.r.Reconcile(ctx, []tre.RuleCollectionGroup{{Name: "rcg-tre-network", Priority: 500}})
	require.NoError(t, err)
	require.Empty(t, res.Written)
	require.Equal(t, []string{"rcg-tre-application", "rcg-tre-network"}, res.Deleted)
	require.Equal(t, map[string]tre.RuleCollectionGroup{"rcg-core": foreignGroup()}, f.groups(t))
}

func TestReconcileRefusesGroupsOutsideThePrefix(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 30*time.Second)
	require.NoError(t, f.file.Put(ctx, foreignGroup()))
	core := foreignGroup()
	core.Priority = 150
	res, err := f.r.Reconcile(ctx, []tre.RuleCollectionGroup{core})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.Contains(t, res.Err, `desired group "rcg-core" does not start with "rcg-tre-"`)
	require.Empty(t, f.backend.takeWrites())
	require.Equal(t, foreignGroup(), f.groups(t)["rcg-core"])
}

func TestReconcileContinuesAfterAFailedWrite(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 30*time.Second)
	desired, _ := Desired([]Owned{owned(tre.RuleOwnerResource, "ws-a", []string{"arc"}, []string{"nrc"})}, Config{})
	f.backend.failPut = map[string]error{"rcg-tre-network": tre.Errorf(tre.CodeUnavailable, "azure is down")}

	res, err := f.r.Reconcile(ctx, desired)
	require.Error(t, err)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	require.Equal(t, []string{"rcg-tre-application"}, res.Written)
	require.Equal(t, "firewall: reconcile: azure is down", res.Err)
	require.Equal(t, err.Error(), res.Err)
	_, ok := f.groups(t)["rcg-tre-application"]
	require.True(t, ok)

	f.backend.failPut = nil
	res, err = f.r.Reconcile(ctx, desired)
	require.NoError(t, err)
	require.Equal(t, []string{"rcg-tre-network"}, res.Written)
	require.Equal(t, []string{"rcg-tre-application"}, res.Unchanged)
}

func TestReconcileStopsWhenTheLeaseIsLost(t *testing.T) {
	f := newReconcileFixture(t)
	f.r.Lease.(*lock.Lease).RenewEvery = 5 * time.Millisecond
	desired, _ := Desired([]Owned{owned(tre.RuleOwnerResource, "ws-a", []string{"arc"}, nil)}, Config{})

	_, err := f.r.ReconcileFrom(timeout(t, 30*time.Second), func(held context.Context) ([]tre.RuleCollectionGroup, error) {
		// Another instance takes the lease over while this one works.
		_, err := tre.ReplaceAs(context.Background(), f.store, tre.Leases, "firewall", "",
			map[string]any{"id": "firewall", "holder": "other", "token": "t", "expiresAt": time.Now().Add(time.Hour)})
		if err != nil {
			return nil, err
		}
		select {
		case <-held.Done():
		case <-time.After(10 * time.Second):
			return nil, errors.New("held context not cancelled")
		}
		return desired, nil
	})
	require.ErrorIs(t, err, lock.ErrLost)
	require.Empty(t, f.backend.takeWrites())
}

func TestReconcileConcurrentCallersWriteOneAtATime(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 60*time.Second)
	var mu sync.Mutex
	var registered []Owned
	source := func(context.Context) ([]tre.RuleCollectionGroup, error) {
		mu.Lock()
		defer mu.Unlock()
		groups, errs := Desired(registered, Config{})
		if len(errs) > 0 {
			return nil, errs[0]
		}
		return groups, nil
	}

	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			registered = append(registered, owned(tre.RuleOwnerResource, fmt.Sprintf("ws-%02d", i), []string{"arc"}, []string{"nrc"}))
			mu.Unlock()
			_, err := f.r.ReconcileFrom(ctx, source)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.backend.maxInFlight)

	got := f.groups(t)
	for _, name := range []string{"rcg-tre-network", "rcg-tre-application"} {
		var owners []string
		for _, c := range got[name].Collections {
			owners = append(owners, c.Owner.ID)
		}
		require.Len(t, owners, n, name)
		require.True(t, slices.IsSorted(owners))
	}
}

func TestReconcilerChecksItsConfiguration(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := timeout(t, 5*time.Second)
	tests := []struct {
		name string
		r    Reconciler
	}{
		{"no firewall", Reconciler{Lease: f.r.Lease}},
		{"no lease", Reconciler{Firewall: f.backend}},
		{"bad config", Reconciler{Firewall: f.backend, Lease: f.r.Lease, Config: Config{GroupPrefix: "bad prefix"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.r.Reconcile(ctx, nil)
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err), "%v", err)
			require.NotEmpty(t, res.Err)
		})
	}
	require.Empty(t, f.backend.takeWrites())
}
