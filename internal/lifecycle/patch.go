package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// ETagConflictMessage is AzureTRE's text for a stale etag.
const ETagConflictMessage = "This document has been modified by another user or process since you last retrieved it. Please get the document again and retry."

// PatchRequest asks to change a resource: enable or disable it, change
// updateable properties, or move it to another template version.
type PatchRequest struct {
	Ref             Ref
	IsEnabled       *bool
	Properties      map[string]any
	TemplateVersion *string
	// ETag is the version the caller read; IfMatch says it came in the
	// standard If-Match header (stale → 412) rather than AzureTRE's etag
	// header (stale → 409).
	ETag    string
	IfMatch bool
	// Force allows major upgrades and downgrades (force_version_update).
	Force bool
	User  tre.User
}

// staleETag is the error for a request made on an old version.
func staleETag(ifMatch bool) error {
	if ifMatch {
		return tre.FieldErrorf(tre.CodePreconditionFailed, "If-Match", "%s", ETagConflictMessage)
	}
	return tre.FieldErrorf(tre.CodeConflict, "etag", "%s", ETagConflictMessage)
}

// NormalizeETag strips the quotes and weak marker HTTP clients put around
// an etag.
func NormalizeETag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	return strings.Trim(e, `"`)
}

// Patch validates a change and starts its upgrade operation. Disabling a
// workspace or workspace service disables its children in the same
// operation, after the root's etag has been checked. Returns CodeNotFound,
// CodePreconditionFailed or CodeConflict (stale etag, see PatchRequest),
// CodeConflict (an operation is in progress), CodeInvalid (properties not
// updateable or wrong, version rules).
func (s *Service) Patch(ctx context.Context, req PatchRequest) (*tre.Operation, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MutationTimeout)
	defer cancel()
	r, err := s.Get(ctx, req.Ref)
	if err != nil {
		return nil, err
	}
	// "*" matches any version (RFC 9110's If-Match; AzureTRE's e2e helpers
	// send it in the etag header): the change is then made on the version
	// read here, still conditionally, so a concurrent write is a conflict.
	if e := NormalizeETag(req.ETag); e != "*" && e != r.ETag {
		return nil, staleETag(req.IfMatch)
	}
	if err := s.checkIdle(ctx, r); err != nil {
		return nil, err
	}
	patch, err := s.patchOf(ctx, req, r)
	if err != nil {
		return nil, err
	}
	// Disabling cascades to every enabled child, deepest first; enabling
	// does not (as in AzureTRE).
	var children []*tre.Resource
	if req.IsEnabled != nil && !*req.IsEnabled {
		if children, err = s.enabledDescendants(ctx, r); err != nil {
			return nil, err
		}
	}
	steps, err := s.buildSteps(ctx, tre.ActionUpgrade, append(append([]*tre.Resource(nil), children...), r))
	if err != nil {
		return nil, err
	}
	changes := patchChanges(r, children, patch, steps)
	root := *r
	root.ResourceVersion++
	op := s.newOperation(&root, tre.ActionUpgrade, steps, req.User)
	fixHistoryIDs(op.ID, changes)
	if err := s.commit(ctx, op, changes); err != nil {
		s.deleteSecrets(context.WithoutCancel(ctx), patch.SecretRefs)
		if tre.IsCode(err, tre.CodePreconditionFailed) {
			return nil, staleETag(req.IfMatch)
		}
		return nil, err
	}
	s.deleteSecrets(context.WithoutCancel(ctx), superseded(r, patch))
	s.log.InfoContext(ctx, "resource patched", "resource_id", r.ID, "operation_id", op.ID, "cascaded", len(children))
	return op, nil
}

// patchOf checks a patch request against the resource's template (or the
// target version's) and turns it into the change of the resource: its
// sensitive values moved to the secret store. Returns CodeInvalid.
func (s *Service) patchOf(ctx context.Context, req PatchRequest, r *tre.Resource) (*tre.ResourcePatch, error) {
	kind, err := s.kindOf(ctx, r)
	if err != nil {
		return nil, err
	}
	tmpl, err := s.registry.Get(ctx, kind, r.TemplateName, r.TemplateVersion)
	if err != nil {
		return nil, err
	}
	patch := &tre.ResourcePatch{IsEnabled: req.IsEnabled}
	if r.IsBuiltInFirewall() && req.IsEnabled != nil && !*req.IsEnabled {
		return nil, builtInFirewallRefusal("disabled")
	}
	if req.TemplateVersion != nil && *req.TemplateVersion != r.TemplateVersion {
		if tmpl, err = s.upgradeTarget(ctx, kind, r, *req.TemplateVersion, req.Force); err != nil {
			return nil, err
		}
		if err := s.upgradeGoverned(ctx, r, tmpl); err != nil {
			return nil, err
		}
		patch.TemplateVersion = tmpl.Version
	}
	if len(req.Properties) == 0 {
		return patch, nil
	}
	v, err := schema.NewValidator(tmpl)
	if err != nil {
		return nil, err
	}
	if err := v.ValidateUpdate(req.Properties); err != nil {
		return nil, err
	}
	if err := checkAddressSpaces(req.Properties); err != nil {
		return nil, err
	}
	props := schema.DeepCopy(req.Properties)
	if patch.SecretRefs, err = s.storeSecrets(ctx, r.ID, v, props); err != nil {
		return nil, err
	}
	// A sensitive value sent back as "REDACTED" (as GET shows it) keeps
	// the stored one.
	for k, val := range props {
		if val == tre.Redacted && r.SecretRefs[tre.Pointer(k)] != "" {
			delete(props, k)
		}
	}
	patch.Properties = props
	return patch, nil
}

// enabledDescendants are the children a disabling cascades to.
func (s *Service) enabledDescendants(ctx context.Context, r *tre.Resource) ([]*tre.Resource, error) {
	all, err := s.descendants(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []*tre.Resource
	for _, c := range all {
		if c.IsEnabled {
			out = append(out, c)
		}
	}
	return out, nil
}

// patchChanges are the resource writes of a patch: the root's change,
// then each child disabled with it. A resource a step will run on waits
// for its update; each change keeps a snapshot of the state it replaces.
func patchChanges(r *tre.Resource, children []*tre.Resource, patch *tre.ResourcePatch, steps []tre.OperationStep) []tre.ResourceChange {
	withStep := map[string]bool{}
	for _, st := range steps {
		withStep[st.ResourceID] = true
	}
	rootPatch := *patch
	if withStep[r.ID] {
		rootPatch.DeploymentStatus = tre.StatusAwaitingUpdate
	}
	h := snapshot("", r)
	changes := []tre.ResourceChange{{ResourceID: r.ID, Patch: &rootPatch, ETag: r.ETag, History: &h}}
	disabled := false
	for _, c := range children {
		cp := &tre.ResourcePatch{IsEnabled: &disabled}
		if withStep[c.ID] {
			cp.DeploymentStatus = tre.StatusAwaitingUpdate
		}
		ch := snapshot("", c)
		changes = append(changes, tre.ResourceChange{ResourceID: c.ID, Patch: cp, ETag: c.ETag, History: &ch})
	}
	return changes
}

// superseded are the secrets of r a patch leaves without a reference:
// values it replaced, and those under the properties it replaced.
func superseded(r *tre.Resource, p *tre.ResourcePatch) map[string]string {
	after := *r
	after.Properties = schema.DeepCopy(r.Properties)
	after.SecretRefs = maps.Clone(r.SecretRefs)
	applyPatch(&after, p)
	kept := map[string]bool{}
	for _, name := range after.SecretRefs {
		kept[name] = true
	}
	out := map[string]string{}
	for ptr, name := range r.SecretRefs {
		if !kept[name] {
			out[ptr] = name
		}
	}
	return out
}

// fixHistoryIDs gives each change's snapshot the id derived from the
// operation (known only once the operation exists).
func fixHistoryIDs(opID string, changes []tre.ResourceChange) {
	for i := range changes {
		if h := changes[i].History; h != nil {
			h.ID = historyID(opID, changes[i].ResourceID)
		}
	}
}

// kindOf is the template family of a resource.
func (s *Service) kindOf(ctx context.Context, r *tre.Resource) (registry.Kind, error) {
	k := registry.Kind{Type: r.ResourceType}
	if r.ResourceType == tre.TypeUserResource {
		svc, err := s.getResource(ctx, r.ParentWorkspaceServiceID)
		if err != nil {
			return k, err
		}
		k.Parent = svc.TemplateName
	}
	return k, nil
}

// upgradeTarget checks a templateVersion change by AzureTRE's rules: a
// semantic version, no major upgrade or downgrade without force, a
// registered target; and ours: not a deprecated one. Returns CodeInvalid.
func (s *Service) upgradeTarget(ctx context.Context, k registry.Kind, r *tre.Resource, target string, force bool) (*tre.Template, error) {
	from, errFrom := tre.ParseVersion(r.TemplateVersion)
	to, errTo := tre.ParseVersion(target)
	if errFrom != nil || errTo != nil {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "templateVersion", "Attempt to upgrade from %s to %s denied. Invalid version format.", r.TemplateVersion, target)
	}
	if !force {
		if to.Major > from.Major {
			return nil, tre.FieldErrorf(tre.CodeInvalid, "templateVersion", "Attempt to upgrade from %s to %s denied. major version upgrade is not allowed.", r.TemplateVersion, target)
		}
		if to.Compare(from) < 0 {
			return nil, tre.FieldErrorf(tre.CodeInvalid, "templateVersion", "Attempt to downgrade from %s to %s denied. version downgrade is not allowed.", r.TemplateVersion, target)
		}
	}
	t, err := s.registry.Get(ctx, k, r.TemplateName, target)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "templateVersion", "Template '%s' not found for resource type '%s' with target template version '%s'", r.TemplateName, r.ResourceType, target)
	}
	if err != nil {
		return nil, err
	}
	if t.Deprecated {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "templateVersion", "Version %s of template '%s' is deprecated: %s", target, r.TemplateName, t.DeprecationReason)
	}
	return t, nil
}

// checkIdle refuses a new operation on a resource that has one in
// progress: the second would race the first's status on the resource.
// Returns CodeConflict.
func (s *Service) checkIdle(ctx context.Context, r *tre.Resource) error {
	busy, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.Eq("resourceId", r.ID), tre.In("status", tre.InProgressStatuses()...),
	}})
	if err != nil {
		return fmt.Errorf("lifecycle: operations of %s: %w", r.ID, err)
	}
	for _, op := range busy {
		// A pending operation whose change r does not carry yet may still
		// be rolled back (its root write loses to another): naming it
		// would name an operation that never existed. The etag of r, which
		// the caller's own write is conditional on, settles the race.
		if op.Pending && r.LastOperationID != op.ID {
			continue
		}
		return tre.Errorf(tre.CodeConflict, "Operation %s (%s, %s) is in progress on this resource: wait for it to end",
			op.ID, op.Action, op.Status)
	}
	return nil
}

// Delete starts the uninstall of a disabled resource and its (disabled)
// children, children first. A resource whose install failed can be
// deleted: uninstall of a missing installation counts as deleted.
// Returns CodeNotFound, CodeInvalid (not disabled: AzureTRE's texts),
// CodeConflict (an operation is in progress).
func (s *Service) Delete(ctx context.Context, ref Ref, user tre.User) (*tre.Operation, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MutationTimeout)
	defer cancel()
	r, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if r.IsBuiltInFirewall() {
		return nil, builtInFirewallRefusal("deleted")
	}
	children, err := s.descendants(ctx, r)
	if err != nil {
		return nil, err
	}
	enabled := r.IsEnabled
	for _, c := range children {
		enabled = enabled || c.IsEnabled
	}
	if enabled {
		switch r.ResourceType {
		case tre.TypeWorkspace:
			return nil, tre.Errorf(tre.CodeInvalid, "The workspace needs to be disabled before you can delete it")
		case tre.TypeWorkspaceService:
			return nil, tre.Errorf(tre.CodeInvalid, "The workspace service and its user resources need to be disabled before you can delete it")
		case tre.TypeUserResource:
			return nil, tre.Errorf(tre.CodeInvalid, "The resource needs to be disabled before you can delete it")
		default:
			return nil, tre.Errorf(tre.CodeInvalid, "Shared service needs to be disabled before you can delete it")
		}
	}
	if err := s.checkIdle(ctx, r); err != nil {
		return nil, err
	}
	all := append(append([]*tre.Resource(nil), children...), r)
	steps, err := s.buildSteps(ctx, tre.ActionUninstall, all)
	if err != nil {
		return nil, err
	}
	changes := []tre.ResourceChange{{ResourceID: r.ID, ETag: r.ETag, Patch: &tre.ResourcePatch{DeploymentStatus: tre.StatusAwaitingDeletion}}}
	for _, c := range children {
		changes = append(changes, tre.ResourceChange{ResourceID: c.ID, ETag: c.ETag, Patch: &tre.ResourcePatch{DeploymentStatus: tre.StatusAwaitingDeletion}})
	}
	root := *r
	root.ResourceVersion++
	op := s.newOperation(&root, tre.ActionUninstall, steps, user)
	if err := s.commit(ctx, op, changes); err != nil {
		if tre.IsCode(err, tre.CodePreconditionFailed) {
			return nil, tre.Errorf(tre.CodeConflict, "The resource changed while the request was being handled: try again")
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "resource deletion started", "resource_id", r.ID, "operation_id", op.ID, "cascaded", len(children))
	return op, nil
}

// InvokeAction starts a custom action of a resource's template. Returns
// CodeNotFound, CodeInvalid (AzureTRE's texts: no custom actions, unknown
// action), CodeConflict (not deployed, or an operation in progress).
func (s *Service) InvokeAction(ctx context.Context, ref Ref, action string, user tre.User) (*tre.Operation, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MutationTimeout)
	defer cancel()
	r, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	t, err := s.TemplateOf(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(t.CustomActions) == 0 {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "action", "The resource being targeted does not implement any custom actions.")
	}
	found := false
	for _, a := range t.CustomActions {
		found = found || a.Name == action
	}
	if !found || action == "" {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "action", "The specified custom action isn't defined in the targeted resource.")
	}
	if !r.Installed() {
		return nil, tre.Errorf(tre.CodeConflict, "The resource is not deployed (status %s): custom actions run on deployed resources", r.DeploymentStatus)
	}
	if err := s.checkIdle(ctx, r); err != nil {
		return nil, err
	}
	steps, err := s.buildSteps(ctx, action, []*tre.Resource{r})
	if err != nil {
		return nil, err
	}
	root := *r
	root.ResourceVersion++
	op := s.newOperation(&root, action, steps, user)
	changes := []tre.ResourceChange{{ResourceID: r.ID, ETag: r.ETag, Patch: &tre.ResourcePatch{DeploymentStatus: tre.StatusAwaitingAction}}}
	if err := s.commit(ctx, op, changes); err != nil {
		if tre.IsCode(err, tre.CodePreconditionFailed) {
			return nil, tre.Errorf(tre.CodeConflict, "The resource changed while the request was being handled: try again")
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "custom action started", "resource_id", r.ID, "operation_id", op.ID, "action", action)
	return op, nil
}
