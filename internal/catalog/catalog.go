// Package catalog keeps each workspace's catalogue: which workspace
// service and user resource templates, and which of their versions, may be
// used in the workspace (AzureTRE #4315, #3316). A workspace owner or a
// TRE admin sets it; creation and upgrade in the workspace enforce it
// (package lifecycle asks Allowed), and the workspace's template lists
// show only what it allows. A workspace without a catalogue allows every
// template, as AzureTRE does; an empty catalogue allows none.
//
// Versions are exact versions or ranges (">=1.2.0 <2.0.0"): a new version
// can be canaried by allowing it in a few workspaces only.
package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Entry allows one template in a workspace: a workspace service template,
// or a user resource template of a workspace service template (Parent).
// Versions lists versions or ranges; empty allows every version.
type Entry struct {
	ResourceType tre.ResourceType `json:"resourceType"`
	Name         string           `json:"name"`
	Parent       string           `json:"parentWorkspaceService,omitempty"`
	Versions     []string         `json:"versions,omitempty"`
}

// Catalog is a workspace's catalogue, stored as one document per
// workspace (its id is the workspace's).
type Catalog struct {
	ID          string   `json:"id"`
	WorkspaceID string   `json:"workspaceId"`
	Templates   []Entry  `json:"templates"`
	UpdatedWhen float64  `json:"updatedWhen"`
	UpdatedBy   tre.User `json:"updatedBy"`
	ETag        string   `json:"_etag,omitempty"`
}

// SetETag records the store's version tag.
func (c *Catalog) SetETag(etag string) { c.ETag = etag }

// Service keeps the catalogues.
type Service struct {
	store tre.Store
	log   *slog.Logger
	now   func() time.Time
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
}

// New returns the service.
func New(store tre.Store, opt Options) *Service {
	s := &Service{store: store, log: opt.Log, now: opt.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Get returns a workspace's catalogue, nil when it has none (every
// template is allowed).
func (s *Service) Get(ctx context.Context, workspaceID string) (*Catalog, error) {
	c, err := tre.GetAs[Catalog](ctx, s.store, tre.WorkspaceCatalogs, workspaceID)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: get %s: %w", workspaceID, err)
	}
	return c, nil
}

// Put sets a workspace's catalogue (the caller checked the workspace
// exists). Returns CodeInvalid naming each entry at fault.
func (s *Service) Put(ctx context.Context, workspaceID string, entries []Entry, by tre.User) (*Catalog, error) {
	if err := check(entries); err != nil {
		return nil, err
	}
	if entries == nil {
		entries = []Entry{}
	}
	c := &Catalog{ID: workspaceID, WorkspaceID: workspaceID, Templates: entries, UpdatedWhen: tre.Timestamp(s.now()), UpdatedBy: by}
	for attempt := 0; ; attempt++ {
		old, err := s.Get(ctx, workspaceID)
		if err != nil {
			return nil, err
		}
		if old == nil {
			c.ETag, err = tre.CreateAs(ctx, s.store, tre.WorkspaceCatalogs, c.ID, c)
		} else {
			c.ETag, err = tre.ReplaceAs(ctx, s.store, tre.WorkspaceCatalogs, c.ID, old.ETag, c)
		}
		if (tre.IsCode(err, tre.CodeConflict) || tre.IsCode(err, tre.CodePreconditionFailed)) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: put %s: %w", workspaceID, err)
		}
		s.log.InfoContext(ctx, "workspace catalogue set", "workspace_id", workspaceID, "templates", len(entries), "by", by.ID)
		return c, nil
	}
}

// Delete removes a workspace's catalogue: every template is allowed again.
// Returns CodeNotFound when it has none.
func (s *Service) Delete(ctx context.Context, workspaceID string, by tre.User) error {
	err := s.store.Delete(ctx, tre.WorkspaceCatalogs, workspaceID, "")
	if tre.IsCode(err, tre.CodeNotFound) {
		return tre.Errorf(tre.CodeNotFound, "The workspace has no catalogue of allowed templates: every template is allowed")
	}
	if err != nil {
		return fmt.Errorf("catalog: delete %s: %w", workspaceID, err)
	}
	s.log.InfoContext(ctx, "workspace catalogue removed", "workspace_id", workspaceID, "by", by.ID)
	return nil
}

// Allowed says whether template version t may be used in the workspace.
// Workspace and shared service templates are not catalogued. Returns
// CodeForbidden naming the template, version and workspace.
func (s *Service) Allowed(ctx context.Context, workspaceID string, t *tre.Template) error {
	if t.ResourceType != tre.TypeWorkspaceService && t.ResourceType != tre.TypeUserResource {
		return nil
	}
	c, err := s.Get(ctx, workspaceID)
	if err != nil {
		return err
	}
	if c.Allows(t) {
		return nil
	}
	return tre.Errorf(tre.CodeForbidden, "Template %s version %s is not allowed in workspace %s: its catalogue of allowed templates (GET /api/workspaces/%s/allowed-templates) does not list it",
		t.Name, t.Version, workspaceID, workspaceID)
}

// Allows reports whether the catalogue allows template version t; a nil
// catalogue allows everything.
func (c *Catalog) Allows(t *tre.Template) bool {
	if c == nil {
		return true
	}
	for _, e := range c.Templates {
		if e.ResourceType != t.ResourceType || e.Name != t.Name || e.Parent != t.ParentWorkspaceService {
			continue
		}
		if len(e.Versions) == 0 || slices.ContainsFunc(e.Versions, func(v string) bool { return inRange(v, t.Version) }) {
			return true
		}
	}
	return false
}

func inRange(rng, version string) bool {
	r, err := tre.ParseVersionRange(rng)
	return err == nil && r.Contains(version)
}

func check(entries []Entry) error {
	var problems []tre.FieldError
	add := func(i int, field, format string, args ...any) {
		problems = append(problems, tre.FieldError{Field: fmt.Sprintf("templates[%d].%s", i, field), Message: fmt.Sprintf(format, args...)})
	}
	for i, e := range entries {
		switch e.ResourceType {
		case tre.TypeWorkspaceService:
			if e.Parent != "" {
				add(i, "parentWorkspaceService", "a workspace service template has no parent")
			}
		case tre.TypeUserResource:
			if e.Parent == "" {
				add(i, "parentWorkspaceService", "a user resource template is named with its workspace service template")
			}
		default:
			add(i, "resourceType", "resourceType must be workspace-service or user-resource, not %q", e.ResourceType)
		}
		if strings.TrimSpace(e.Name) == "" {
			add(i, "name", "name is required")
		}
		for j, v := range e.Versions {
			if _, err := tre.ParseVersionRange(v); err != nil {
				add(i, fmt.Sprintf("versions[%d]", j), "%s", tre.ErrorMessage(err))
			}
		}
	}
	return tre.InvalidFields("Invalid catalogue", problems)
}
