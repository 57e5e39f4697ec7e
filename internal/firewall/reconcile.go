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
	Firewall tre.Firewall
	Lease    Lease
	// Config says which groups are managed (GroupPrefix); it must be the
	// configuration the desired state was computed with.
	Config Config
	// Now is the clock for Result.At; nil means time.Now.
	Now func() time.Time
}

// Lease lets one writer at a time change the firewall, across instances
// (Azure Firewall takes one policy update at a time, AzureTRE #1939).
// *lock.Lease implements it.
type Lease interface {
	// Hold waits until it holds the lease, or ctx ends. The returned
	// context ends when the lease is lost (its cause says why) or
	// released; release is idempotent.
	Hold(ctx context.Context) (held context.Context, release func(), err error)
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
func (r *Reconciler) Reconcile(ctx context.Context, desired []tre.RuleCollectionGroup) (Result, error) {
	desired = tre.CloneGroups(desired)
	return r.ReconcileFrom(ctx, func(context.Context) ([]tre.RuleCollectionGroup, error) { return desired, nil })
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
func (r *Reconciler) ReconcileFrom(ctx context.Context, source func(context.Context) ([]tre.RuleCollectionGroup, error)) (Result, error) {
	res, err := r.reconcile(ctx, source)
	if err != nil {
		err = fmt.Errorf("firewall: reconcile: %w", err)
		res.Err = err.Error()
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, source func(context.Context) ([]tre.RuleCollectionGroup, error)) (Result, error) {
	if r.Firewall == nil || r.Lease == nil {
		return Result{At: r.now()}, tre.Errorf(tre.CodeInvalid, "reconciler needs a Firewall and a Lease")
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
	want, err := byName(desired, cfg)
	if err != nil {
		return res, err
	}
	actual, err := r.Firewall.Groups(held)
	if err != nil {
		return res, leaseCause(ctx, held, err)
	}
	have := map[string]tre.RuleCollectionGroup{}
	for _, g := range actual {
		if cfg.Owns(g.Name) {
			have[strings.ToLower(g.Name)] = g
		}
	}
	// Writes before deletes: if a run stops half-way, rules a resource
	// needs are in place (AzureTRE #2328) and the next run removes leftovers.
	w := writer{ctx: ctx, held: held, firewall: r.Firewall, res: &res}
	if w.puts(want, have) {
		w.deletes(want, have)
	}
	return res, errors.Join(w.errs...)
}

// byName indexes the desired groups by lower-case name. Returns
// CodeInvalid for a group outside the managed prefix, or listed twice.
func byName(desired []tre.RuleCollectionGroup, cfg Config) (map[string]tre.RuleCollectionGroup, error) {
	want := map[string]tre.RuleCollectionGroup{}
	for _, g := range desired {
		if !cfg.Owns(g.Name) {
			return nil, tre.Errorf(tre.CodeInvalid, "desired group %q does not start with %q", g.Name, cfg.GroupPrefix)
		}
		key := strings.ToLower(g.Name)
		if _, dup := want[key]; dup {
			return nil, tre.Errorf(tre.CodeInvalid, "desired group %q is listed twice", g.Name)
		}
		want[key] = g
	}
	return want, nil
}

// writer makes the writes of one reconcile, one at a time, under the
// lease, and keeps their outcomes.
type writer struct {
	ctx, held context.Context
	firewall  tre.Firewall
	res       *Result
	errs      []error
}

// failed records a failed write; it reports whether to go on (the lease
// is still held).
func (w *writer) failed(err error) bool {
	w.errs = append(w.errs, leaseCause(w.ctx, w.held, err))
	return w.held.Err() == nil
}

// puts writes each non-empty desired group that differs from what the
// firewall has, in priority order. It reports whether to go on.
func (w *writer) puts(want, have map[string]tre.RuleCollectionGroup) bool {
	puts := make([]tre.RuleCollectionGroup, 0, len(want))
	for _, g := range want {
		if len(g.Collections) > 0 {
			puts = append(puts, g)
		}
	}
	slices.SortFunc(puts, func(a, b tre.RuleCollectionGroup) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Name, b.Name))
	})
	for _, g := range puts {
		if cur, ok := have[strings.ToLower(g.Name)]; ok && cur.Equal(g) {
			w.res.Unchanged = append(w.res.Unchanged, g.Name)
			continue
		}
		if err := w.firewall.Put(w.held, g); err != nil {
			if !w.failed(err) {
				return false
			}
			continue
		}
		w.res.Written = append(w.res.Written, g.Name)
	}
	return true
}

// deletes removes the managed groups that are not desired, or desired
// empty, in name order.
func (w *writer) deletes(want, have map[string]tre.RuleCollectionGroup) {
	var deletes []string
	for key, g := range have {
		if d, ok := want[key]; !ok || len(d.Collections) == 0 {
			deletes = append(deletes, g.Name)
		}
	}
	slices.Sort(deletes)
	for _, name := range deletes {
		if err := w.firewall.Delete(w.held, name); err != nil {
			if !w.failed(err) {
				return
			}
			continue
		}
		w.res.Deleted = append(w.res.Deleted, name)
	}
}

// leaseCause adds the reason when work stopped because the lease ended
// (was lost) while the caller's context had not.
func leaseCause(ctx, held context.Context, err error) error {
	if held.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("%w (%w)", err, context.Cause(held))
	}
	return err
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
