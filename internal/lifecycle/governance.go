package lifecycle

import (
	"context"

	"github.com/tre-go/tre/internal/tre"
)

// TemplatePolicy says which templates a workspace may use;
// *catalog.Service implements it.
type TemplatePolicy interface {
	// Allowed returns CodeForbidden when template version t may not be
	// used in the workspace.
	Allowed(ctx context.Context, workspaceID string, t *tre.Template) error
}

// Outcomes is told of every operation that reaches a terminal status
// (once per attempt), after the write that ended it. It must not block:
// it runs on the status path.
type Outcomes interface {
	OperationEnded(ctx context.Context, op tre.Operation)
}

// OutcomeRecorder records every operation that reaches a terminal status
// (once per attempt) through the store it is given: the transaction that
// ended the operation when the store offers one (tre.Atomic), so that the
// record and the end are one commit and a rolled-back end leaves no
// record; the service's store otherwise. Its error fails that write (the
// status message is then redelivered). after, if not nil, runs once the
// record is committed.
type OutcomeRecorder interface {
	RecordEnded(ctx context.Context, store tre.Store, op tre.Operation) (after func(), err error)
}

// parent is the resource a new resource goes under, if any.
func (p parents) parent() *tre.Resource {
	if p.svc != nil {
		return p.svc
	}
	return p.ws
}

// allowedIn applies the workspace's catalogue. Returns CodeForbidden.
func (s *Service) allowedIn(ctx context.Context, workspaceID string, t *tre.Template) error {
	if s.catalog == nil || workspaceID == "" {
		return nil
	}
	return s.catalog.Allowed(ctx, workspaceID, t)
}

// parentVersionOK applies the template's minimum parent version. Returns
// CodeInvalid naming field.
func parentVersionOK(t *tre.Template, parent *tre.Resource, field string) error {
	if t.MinimumParentVersion == "" || parent == nil {
		return nil
	}
	if tre.CompareVersions(parent.TemplateVersion, t.MinimumParentVersion) < 0 {
		return tre.FieldErrorf(tre.CodeInvalid, field,
			"Template %s version %s needs its parent's template at version %s or later, but the parent %s %s is at version %s (%s): upgrade the parent first",
			t.Name, t.Version, t.MinimumParentVersion, parent.ResourceType, parent.ID, parent.TemplateVersion, parent.TemplateName)
	}
	return nil
}

// upgradeGoverned applies the template rules to moving r to template
// version t: the workspace's catalogue, the minimum parent version.
func (s *Service) upgradeGoverned(ctx context.Context, r *tre.Resource, t *tre.Template) error {
	var parent *tre.Resource
	var err error
	switch r.ResourceType {
	case tre.TypeWorkspaceService:
		parent, err = s.getResource(ctx, r.WorkspaceID)
	case tre.TypeUserResource:
		parent, err = s.getResource(ctx, r.ParentWorkspaceServiceID)
	}
	if err != nil {
		return err
	}
	if err := s.allowedIn(ctx, r.WorkspaceID, t); err != nil {
		return err
	}
	return parentVersionOK(t, parent, "templateVersion")
}

// CheckUpgrade says whether r may move to template version target, by
// every rule a PATCH of templateVersion applies (semantic versions, major
// changes and downgrades only with force, a registered version that is
// not deprecated, the workspace's catalogue, the minimum parent version),
// and returns the target template. Returns CodeInvalid, CodeForbidden.
func (s *Service) CheckUpgrade(ctx context.Context, r *tre.Resource, target string, force bool) (*tre.Template, error) {
	k, err := s.kindOf(ctx, r)
	if err != nil {
		return nil, err
	}
	t, err := s.upgradeTarget(ctx, k, r, target, force)
	if err != nil {
		return nil, err
	}
	return t, s.upgradeGoverned(ctx, r, t)
}
