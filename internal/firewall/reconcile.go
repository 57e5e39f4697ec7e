package firewall

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Reconciler makes the firewall's managed groups equal to a desired state.
// It is safe for concurrent use: calls serialise on Lease, so that one
// write at a time reaches the policy even across several instances.
type Reconciler struct {
	Backend Backend
	Lease   *Lease
	// Config says which groups are managed (GroupPrefix); it must be the
	// configuration the desired state was computed with.
	Config Config
	// Now is the clock for Result.At; nil means time.Now.
	Now func() time.Time
}

// Result reports one reconcile: the groups written, deleted and found
// already matching, by name, and the error text if it failed (partly).
type Result struct {
	At        time.Time `json:"at"`
	Written   []string  `json:"written"`
	Deleted   []string  `json:"deleted"`
	Unchanged []string  `json:"unchanged"`
	Err       string    `json:"err,omitempty"`
}

// MarshalJSON writes empty lists as [], not null.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	p := plain(r)
	for _, l := range []*[]string{&p.Written, &p.Deleted, &p.Unchanged} {
		if *l == nil {
			*l = []string{}
		}
	}
	return json.Marshal(p)
}

// Reconcile makes the managed groups equal to desired (see ReconcileFrom).
// desired is copied before Reconcile waits for the lease.
func (r *Reconciler) Reconcile(ctx context.Context, desired []RuleCollectionGroup) (Result, error) {
	desired = CloneGroups(desired)
	return r.ReconcileFrom(ctx, func(context.Context) ([]RuleCollectionGroup, error) { return desired, nil })
}

// ReconcileFrom takes the lease, then asks source for the desired groups
// and makes the firewall match them. Computing the desired state under the
// lease (source reads the owners from the store and calls Desired) means
// the last reconcile to run writes the newest state; with Reconcile, a
// caller that computed its state earlier could overwrite a newer one until
// the next run.
//
// Under the lease it reads the backend's groups, then writes, strictly one
// at a time and in priority order, each desired group that differs from
// what the backend has (skipping those that already match), then deletes
// the managed groups (name starts with Config.GroupPrefix) that are not
// desired or desired empty. Groups without the prefix are never touched. A
// failed write does not stop the others; the errors are joined and
// returned, and also set in Result.Err. Returns CodeInvalid for a
// misconfigured Reconciler or a desired group outside the prefix.
func (r *Reconciler) ReconcileFrom(ctx context.Context, source func(context.Context) ([]RuleCollectionGroup, error)) (Result, error) {
	res, err := r.reconcile(ctx, source)
	if err != nil {
		err = fmt.Errorf("firewall: reconcile: %w", err)
		res.Err = err.Error()
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, source func(context.Context) ([]RuleCollectionGroup, error)) (Result, error) {
	if r.Backend == nil || r.Lease == nil {
		return Result{At: r.now()}, tre.Errorf(tre.CodeInvalid, "reconciler needs a Backend and a Lease")
	}
	cfg := r.Config.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{At: r.now()}, err
	}
	held, release, err := r.Lease.Hold(ctx)
	if err != nil {
		return Result{At: r.now()}, err
	}
	defer release()
	res := Result{At: r.now()}

	desired, err := source(held)
	if err != nil {
		return res, fmt.Errorf("desired state: %w", err)
	}
	want := map[string]RuleCollectionGroup{}
	for _, g := range desired {
		if !cfg.Owns(g.Name) {
			return res, tre.Errorf(tre.CodeInvalid, "desired group %q does not start with %q", g.Name, cfg.GroupPrefix)
		}
		key := strings.ToLower(g.Name)
		if _, dup := want[key]; dup {
			return res, tre.Errorf(tre.CodeInvalid, "desired group %q is listed twice", g.Name)
		}
		want[key] = g
	}

	actual, err := r.Backend.Groups(held)
	if err != nil {
		return res, leaseCause(held, err)
	}
	have := map[string]RuleCollectionGroup{}
	for _, g := range actual {
		if cfg.Owns(g.Name) {
			have[strings.ToLower(g.Name)] = g
		}
	}

	var errs []error
	puts := make([]RuleCollectionGroup, 0, len(want))
	for _, g := range want {
		if len(g.Collections) > 0 {
			puts = append(puts, g)
		}
	}
	slices.SortFunc(puts, func(a, b RuleCollectionGroup) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Name, b.Name))
	})
	// Writes before deletes: if a run stops half-way, rules a resource
	// needs are in place (AzureTRE #2328) and the next run removes leftovers.
	for _, g := range puts {
		if cur, ok := have[strings.ToLower(g.Name)]; ok && cur.Equal(g) {
			res.Unchanged = append(res.Unchanged, g.Name)
			continue
		}
		if err := r.Backend.Put(held, g); err != nil {
			errs = append(errs, leaseCause(held, err))
			if held.Err() != nil {
				return res, errors.Join(errs...)
			}
			continue
		}
		res.Written = append(res.Written, g.Name)
	}
	var deletes []string
	for key, g := range have {
		if w, ok := want[key]; !ok || len(w.Collections) == 0 {
			deletes = append(deletes, g.Name)
		}
	}
	slices.Sort(deletes)
	for _, name := range deletes {
		if err := r.Backend.Delete(held, name); err != nil {
			errs = append(errs, leaseCause(held, err))
			if held.Err() != nil {
				return res, errors.Join(errs...)
			}
			continue
		}
		res.Deleted = append(res.Deleted, name)
	}
	return res, errors.Join(errs...)
}

// leaseCause adds the reason when work stopped because the lease was lost.
func leaseCause(held context.Context, err error) error {
	if cause := context.Cause(held); errors.Is(cause, ErrLeaseLost) {
		return fmt.Errorf("%w (%w)", err, cause)
	}
	return err
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
