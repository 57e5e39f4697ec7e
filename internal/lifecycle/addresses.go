package lifecycle

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/tre"
)

// The address-space ledger is one document changed with its etag: two
// concurrent allocations cannot both write the same version, so no two
// resources get overlapping ranges. Entries are released when their
// resource is deleted, and entries of resources that were never created (a
// crash between allocation and creation) are dropped by recovery.
const ledgerID = "workspace-address-spaces"

type ledger struct {
	ID          string       `json:"id"`
	Allocations []allocation `json:"allocations"`
	ETag        string       `json:"_etag,omitempty"`
}

func (l *ledger) SetETag(e string) { l.ETag = e }

type allocation struct {
	CIDR       string  `json:"cidr"`
	ResourceID string  `json:"resourceId"`
	When       float64 `json:"when"`
}

// allocate gives resourceID an address space: a block of the size named
// (small /24, medium /22, large /16; unknown sizes are small, as in
// AzureTRE), or the custom CIDR if one is given. Returns CodeUnprocessable
// for a custom range that is malformed or taken, CodeConflict when the
// space is exhausted.
func (s *Service) allocate(ctx context.Context, resourceID, size, custom string) (netip.Prefix, error) {
	var want netip.Prefix
	bits, ok := cidr.Sizes[strings.ToLower(size)]
	if !ok {
		bits = cidr.Sizes["small"]
	}
	if strings.EqualFold(size, "custom") {
		if custom == "" {
			return netip.Prefix{}, tre.FieldErrorf(tre.CodeUnprocessable, "properties.address_space", "Missing 'address_space' from properties.")
		}
		p, err := cidr.Parse(custom)
		if err != nil {
			return netip.Prefix{}, tre.FieldErrorf(tre.CodeUnprocessable, "properties.address_space", "%s", tre.ErrorMessage(err))
		}
		want = p
	}
	return s.updateLedger(ctx, func(l *ledger) (netip.Prefix, error) {
		used := []netip.Prefix{s.cfg.CoreAddressSpace}
		for _, a := range l.Allocations {
			if p, err := netip.ParsePrefix(a.CIDR); err == nil {
				used = append(used, p)
			}
		}
		got := want
		if got.IsValid() {
			if !cidr.Available(s.cfg.AddressSpace, used, got) {
				return netip.Prefix{}, tre.FieldErrorf(tre.CodeUnprocessable, "properties.address_space",
					"The custom 'address_space' you requested does not fit in the current network.")
			}
		} else {
			var err error
			if got, err = cidr.Allocate(s.cfg.AddressSpace, used, bits); err != nil {
				return netip.Prefix{}, err
			}
		}
		l.Allocations = append(l.Allocations, allocation{CIDR: got.String(), ResourceID: resourceID, When: s.ts()})
		return got, nil
	})
}

// releaseAddresses frees every range held by resourceID.
func (s *Service) releaseAddresses(ctx context.Context, resourceID string) error {
	_, err := s.updateLedger(ctx, func(l *ledger) (netip.Prefix, error) {
		kept := l.Allocations[:0]
		for _, a := range l.Allocations {
			if a.ResourceID != resourceID {
				kept = append(kept, a)
			}
		}
		l.Allocations = kept
		return netip.Prefix{}, nil
	})
	return err
}

// releaseOrphanAddresses drops allocations older than RecoverAfter whose
// resource does not exist: the creation that allocated them never happened.
func (s *Service) releaseOrphanAddresses(ctx context.Context) (int, error) {
	l, err := tre.GetAs[ledger](ctx, s.store, tre.Allocations, ledgerID)
	if tre.IsCode(err, tre.CodeNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cutoff := tre.Timestamp(s.now().Add(-s.cfg.RecoverAfter))
	orphans := map[string]bool{}
	for _, a := range l.Allocations {
		if a.When > cutoff {
			continue
		}
		if _, err := s.getResource(ctx, a.ResourceID); tre.IsCode(err, tre.CodeNotFound) {
			orphans[a.ResourceID] = true
		}
	}
	for id := range orphans {
		if err := s.releaseAddresses(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(orphans), nil
}

// updateLedger applies fn to the ledger and writes it with its etag,
// retrying from a fresh read when another writer got there first.
func (s *Service) updateLedger(ctx context.Context, fn func(*ledger) (netip.Prefix, error)) (netip.Prefix, error) {
	for attempt := 0; attempt < 200; attempt++ {
		l, err := tre.GetAs[ledger](ctx, s.store, tre.Allocations, ledgerID)
		if tre.IsCode(err, tre.CodeNotFound) {
			l, err = &ledger{ID: ledgerID}, nil
		}
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("lifecycle: address ledger: %w", err)
		}
		got, err := fn(l)
		if err != nil {
			return netip.Prefix{}, err
		}
		if l.ETag == "" {
			_, err = tre.CreateAs(ctx, s.store, tre.Allocations, ledgerID, l)
			if tre.IsCode(err, tre.CodeConflict) {
				continue
			}
		} else {
			_, err = tre.ReplaceAs(ctx, s.store, tre.Allocations, ledgerID, l.ETag, l)
			if tre.IsCode(err, tre.CodePreconditionFailed) {
				continue
			}
		}
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("lifecycle: address ledger: %w", err)
		}
		return got, nil
	}
	return netip.Prefix{}, tre.Errorf(tre.CodeUnavailable, "The address space ledger is too busy: try again")
}

// singleton is the claim of the one active shared service of a template.
type singleton struct {
	ID         string  `json:"id"`
	Template   string  `json:"templateName"`
	ResourceID string  `json:"resourceId"`
	When       float64 `json:"when"`
	ETag       string  `json:"_etag,omitempty"`
}

func (c *singleton) SetETag(e string) { c.ETag = e }

func singletonID(templateName string) string { return "shared-service-" + templateName }

// claimSharedService makes resourceID the one shared service of a
// template, unless an active one (not deleted, not failed to deploy)
// exists. Returns CodeConflict.
func (s *Service) claimSharedService(ctx context.Context, templateName, resourceID string) error {
	id := singletonID(templateName)
	for attempt := 0; attempt < 50; attempt++ {
		c, err := tre.GetAs[singleton](ctx, s.store, tre.Allocations, id)
		switch {
		case tre.IsCode(err, tre.CodeNotFound):
			_, err = tre.CreateAs(ctx, s.store, tre.Allocations, id, &singleton{ID: id, Template: templateName, ResourceID: resourceID, When: s.ts()})
			if tre.IsCode(err, tre.CodeConflict) {
				continue
			}
			return err
		case err != nil:
			return fmt.Errorf("lifecycle: shared service claim: %w", err)
		}
		if holder, err := s.getResource(ctx, c.ResourceID); err == nil && holder.Active() && holder.DeploymentStatus != tre.StatusDeploymentFailed {
			return tre.Errorf(tre.CodeConflict, "A shared service of template %s already exists: %s", templateName, holder.ID)
		} else if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
			return err
		} else if err != nil && c.ResourceID != resourceID && s.recentClaim(c) {
			// Claimed by a creation still in flight.
			return tre.Errorf(tre.CodeConflict, "A shared service of template %s is being created: %s", templateName, c.ResourceID)
		}
		c.ResourceID, c.When = resourceID, s.ts()
		_, err = tre.ReplaceAs(ctx, s.store, tre.Allocations, id, c.ETag, c)
		if tre.IsCode(err, tre.CodePreconditionFailed) {
			continue
		}
		return err
	}
	return tre.Errorf(tre.CodeUnavailable, "The shared service claim is too busy: try again")
}

// recentClaim: a claim whose resource does not exist yet may belong to a
// request still at work; after RecoverAfter it is abandoned.
func (s *Service) recentClaim(c *singleton) bool {
	return c.When > tre.Timestamp(s.now().Add(-s.cfg.RecoverAfter))
}

// releaseSharedService drops resourceID's claim after its creation failed.
func (s *Service) releaseSharedService(ctx context.Context, templateName, resourceID string) {
	c, err := tre.GetAs[singleton](ctx, s.store, tre.Allocations, singletonID(templateName))
	if err != nil || c.ResourceID != resourceID {
		return
	}
	if err := s.store.Delete(ctx, tre.Allocations, c.ID, c.ETag); err != nil && !tre.IsCode(err, tre.CodeNotFound) {
		s.log.WarnContext(ctx, "could not release a shared service claim", "template_name", templateName, "error", err.Error())
	}
}
