package lifecycle

import (
	"context"
	"fmt"

	"github.com/tre-go/tre/internal/tre"
)

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
