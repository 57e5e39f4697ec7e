package egress

import (
	"context"
	"time"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/tre"
)

// Firewall documents in tre.FirewallRules.
const (
	reportID     = "reconcile-status"
	manualPrefix = "manual-"
)

// Report is the record of the last reconcile, kept in the store.
type Report struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	Result firewall.Result `json:"result"`
	// Problems are the owners left out of the desired state, and why.
	Problems []Problem `json:"problems"`
}

// Sync makes the firewall match the store now, under the lease, and
// records the result. It returns the owners left out and why.
// Returns CodeUnavailable when the firewall service is off or the firewall
// could not be updated (with the report of what was done).
func (s *Service) Sync(ctx context.Context) (*Report, error) {
	if s.firewall == nil {
		return nil, errOff()
	}
	var problems []Problem
	res, err := s.reconciler.ReconcileFrom(ctx, func(ctx context.Context) ([]tre.RuleCollectionGroup, error) {
		groups, found, err := s.desired(ctx)
		problems = found
		return groups, err
	})
	rep := &Report{ID: reportID, Kind: "status", Result: res, Problems: problems}
	if rep.Problems == nil {
		rep.Problems = []Problem{}
	}
	s.record(ctx, rep)
	if err != nil {
		s.log.WarnContext(ctx, "firewall reconcile failed", "error", err.Error())
		return rep, tre.WrapError(tre.CodeUnavailable, err, "The firewall could not be updated: %s", res.Err)
	}
	if len(res.Written)+len(res.Deleted) > 0 || len(problems) > 0 {
		s.log.InfoContext(ctx, "firewall reconciled", "written", res.Written, "deleted", res.Deleted, "problems", len(problems))
	}
	return rep, nil
}

// desired computes the groups the owners' rules add up to, and the owners
// left out.
func (s *Service) desired(ctx context.Context) ([]tre.RuleCollectionGroup, []Problem, error) {
	owned, problems, err := s.owners(ctx)
	if err != nil {
		return nil, nil, err
	}
	groups, ownerErrs := firewall.Desired(owned, s.cfg.Firewall)
	for _, oe := range ownerErrs {
		problems = append(problems, Problem{Owner: oe.Owner, Message: tre.ErrorMessage(oe.Err)})
	}
	return groups, problems, nil
}

// record keeps the report of a reconcile; a failure is logged (the next
// reconcile writes it again). It is written even when ctx has ended (a
// run stopped at its time budget): what it wrote is the progress made.
func (s *Service) record(ctx context.Context, rep *Report) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := tre.ReplaceAs(ctx, s.store, tre.FirewallRules, rep.ID, "", rep)
	if tre.IsCode(err, tre.CodeNotFound) {
		_, err = tre.CreateAs(ctx, s.store, tre.FirewallRules, rep.ID, rep)
		if tre.IsCode(err, tre.CodeConflict) {
			err = nil
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "firewall status not recorded", "error", err.Error())
	}
}

// View is the firewall as admins see it.
type View struct {
	// Desired are the groups the owners' rules add up to now.
	Desired []tre.RuleCollectionGroup
	// Applied are the groups the firewall has (managed and others).
	Applied []tre.RuleCollectionGroup
	// Owners is the desired state by owner.
	Owners []firewall.Owned
	// Problems are the owners left out, and why.
	Problems []Problem
	// LastReconcile is the last reconcile's result.
	LastReconcile *firewall.Result
	GroupPrefix   string
}

// View returns the desired and applied state. Returns CodeUnavailable
// when the firewall service is off or the firewall cannot be read.
func (s *Service) View(ctx context.Context) (*View, error) {
	if s.firewall == nil {
		return nil, errOff()
	}
	groups, problems, err := s.desired(ctx)
	if err != nil {
		return nil, err
	}
	applied, err := s.firewall.Groups(ctx)
	if err != nil {
		return nil, tre.WrapError(tre.CodeUnavailable, err, "The firewall cannot be read")
	}
	v := &View{Desired: groups, Applied: applied, Owners: firewall.ByOwner(groups), Problems: problems, GroupPrefix: s.cfg.Firewall.GroupPrefix}
	if rep, err := tre.GetAs[Report](ctx, s.store, tre.FirewallRules, reportID); err == nil {
		v.LastReconcile = &rep.Result
	}
	for _, sl := range []*[]tre.RuleCollectionGroup{&v.Desired, &v.Applied} {
		if *sl == nil {
			*sl = []tre.RuleCollectionGroup{}
		}
	}
	if v.Owners == nil {
		v.Owners = []firewall.Owned{}
	}
	if v.Problems == nil {
		v.Problems = []Problem{}
	}
	return v, nil
}
