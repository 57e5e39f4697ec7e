package lifecycle

import (
	"context"
	"fmt"
	"sort"

	"github.com/tre-go/tre/internal/tre"
)

// AvailableUpgrades lists the registered, non-deprecated versions of the
// resource's template above its own: minor and patch upgrades first, then
// major ones (which need force_version_update), each ascending (AzureTRE's
// availableUpgrades, computed on every read).
func (s *Service) AvailableUpgrades(ctx context.Context, r *tre.Resource) ([]tre.AvailableUpgrade, error) {
	k, err := s.kindOf(ctx, r)
	if err != nil {
		return nil, err
	}
	versions, err := s.registry.Versions(ctx, k, r.TemplateName)
	if tre.IsCode(err, tre.CodeNotFound) {
		return []tre.AvailableUpgrade{}, nil
	}
	if err != nil {
		return nil, err
	}
	cur, err := tre.ParseVersion(r.TemplateVersion)
	if err != nil {
		return []tre.AvailableUpgrade{}, nil
	}
	var minor, major []tre.AvailableUpgrade
	for _, t := range versions {
		v, err := tre.ParseVersion(t.Version)
		if err != nil || t.Deprecated || v.Compare(cur) <= 0 {
			continue
		}
		if v.Major == cur.Major {
			minor = append(minor, tre.AvailableUpgrade{Version: t.Version})
		} else {
			major = append(major, tre.AvailableUpgrade{Version: t.Version, ForceUpdateRequired: true})
		}
	}
	// Versions come sorted ascending from the registry.
	return append(append([]tre.AvailableUpgrade{}, minor...), major...), nil
}

// Operations lists the operations of a resource, oldest first.
func (s *Service) Operations(ctx context.Context, r *tre.Resource) ([]*tre.Operation, error) {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("resourceId", r.ID)}})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: operations of %s: %w", r.ID, err)
	}
	sortOperations(ops)
	return ops, nil
}

// Operation returns one operation of a resource: an operation of another
// resource is not found, whatever its id. Returns CodeInvalid (malformed
// id), CodeNotFound.
func (s *Service) Operation(ctx context.Context, r *tre.Resource, opID string) (*tre.Operation, error) {
	if err := CheckID("operation_id", opID); err != nil {
		return nil, err
	}
	op, err := tre.GetAs[tre.Operation](ctx, s.store, tre.Operations, opID)
	if tre.IsCode(err, tre.CodeNotFound) || (err == nil && op.ResourceID != r.ID) {
		return nil, tre.Errorf(tre.CodeNotFound, "Operation does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("lifecycle: operation %s: %w", opID, err)
	}
	return op, nil
}

// MyOperations lists the caller's operations in progress, oldest first.
func (s *Service) MyOperations(ctx context.Context, userID string) ([]*tre.Operation, error) {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.Eq("user.id", userID), tre.In("status", tre.InProgressStatuses()...),
	}})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: operations of user %s: %w", userID, err)
	}
	sortOperations(ops)
	return ops, nil
}

func sortOperations(ops []*tre.Operation) {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].CreatedWhen < ops[j].CreatedWhen })
}

// History lists a resource's history, oldest first.
func (s *Service) History(ctx context.Context, r *tre.Resource) ([]*tre.ResourceHistoryItem, error) {
	items, err := tre.QueryAs[tre.ResourceHistoryItem](ctx, s.store, tre.ResourceHistory, tre.Query{Where: []tre.Cond{tre.Eq("resourceId", r.ID)}})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: history of %s: %w", r.ID, err)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ResourceVersion < items[j].ResourceVersion })
	return items, nil
}
