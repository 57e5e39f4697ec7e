package firewall

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/lock"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// benchOwners is a TRE with n workspace services, each declaring one
// application and one network collection.
func benchOwners(n int) []Owned {
	owners := make([]Owned, n)
	for i := range owners {
		owners[i] = owned(tre.RuleOwnerResource, fmt.Sprintf("svc-%04d", i), []string{"arc_web"}, []string{"nrc_ntp"})
	}
	return owners
}

// The firewall-reconcile timer computes this every run.
func BenchmarkDesired200Owners(b *testing.B) {
	owners := benchOwners(200)
	for b.Loop() {
		if _, errs := Desired(owners, Config{}); len(errs) > 0 {
			b.Fatal(errs[0])
		}
	}
}

// A reconcile that finds the firewall already right: what the timer costs
// when nothing changed (lease taken and released in the store, groups read
// and compared, nothing written).
func BenchmarkReconcileUnchanged200Owners(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlite.OpenStore(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	backend := &firewallfile.Backend{Path: filepath.Join(dir, "firewall.json")}
	desired, errs := Desired(benchOwners(200), Config{})
	if len(errs) > 0 {
		b.Fatal(errs[0])
	}
	r := &Reconciler{Firewall: backend, Lease: &lock.Lease{Store: store, Name: "firewall", Holder: "bench"}}
	if _, err := r.Reconcile(ctx, desired); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := r.Reconcile(ctx, desired)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Written)+len(res.Deleted) > 0 {
			b.Fatalf("wrote %v, deleted %v", res.Written, res.Deleted)
		}
	}
}
