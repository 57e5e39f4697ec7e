package upgrade

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// Limits of a request.
const (
	defaultMaxConcurrent     = 5
	defaultStopAfterFailures = 3
	maxMaxConcurrent         = 50
)

// Skip reason codes.
const (
	ReasonSameVersion       = "same-version"
	ReasonDisabled          = "disabled"
	ReasonNotDeployed       = "not-deployed"
	ReasonBusy              = "operation-in-progress"
	ReasonMajor             = "major-version"
	ReasonDowngrade         = "downgrade"
	ReasonNotAllowed        = "not-allowed"
	ReasonParentVersion     = "parent-version"
	ReasonDeprecated        = "deprecated"
	ReasonNotRegistered     = "not-registered"
	ReasonInvalidProperties = "invalid-properties"
	ReasonRefused           = "refused"
	ReasonParentFailed      = "parent-not-upgraded"
)

// normalize checks a request and fills in its defaults. Returns
// CodeInvalid naming every field at fault.
func normalize(req *Request) (match func(string) bool, err error) {
	var problems []tre.FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, tre.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(req.TemplateName) == "" {
		add("templateName", "templateName is required")
	}
	if _, err := tre.ParseVersion(req.ToVersion); err != nil {
		add("toVersion", "toVersion must be a semantic version, not %q", req.ToVersion)
	}
	match = func(string) bool { return true }
	switch {
	case req.FromVersions.Range != "":
		r, err := tre.ParseVersionRange(req.FromVersions.Range)
		if err != nil {
			add("fromVersions", "%s", tre.ErrorMessage(err))
		}
		match = r.Contains
	case len(req.FromVersions.List) > 0:
		match = func(v string) bool { return slices.Contains(req.FromVersions.List, v) }
	}
	for i, id := range req.WorkspaceIDs {
		if lifecycle.CheckID("workspaceIds", id) != nil {
			add(fmt.Sprintf("workspaceIds[%d]", i), "%q is not a workspace id (a UUID)", id)
		}
	}
	if req.MaxConcurrent == 0 {
		req.MaxConcurrent = defaultMaxConcurrent
	}
	if req.MaxConcurrent < 1 || req.MaxConcurrent > maxMaxConcurrent {
		add("maxConcurrent", "maxConcurrent must be from 1 to %d", maxMaxConcurrent)
	}
	if req.StopAfterFailures == 0 {
		req.StopAfterFailures = defaultStopAfterFailures
	}
	if req.StopAfterFailures < 1 {
		add("stopAfterFailures", "stopAfterFailures must be at least 1")
	}
	return match, tre.InvalidFields("Invalid bulk upgrade", problems)
}

// Plan says what a bulk upgrade would do; nothing changes. Returns
// CodeInvalid.
func (s *Service) Plan(ctx context.Context, req Request) (*Plan, error) {
	match, err := normalize(&req)
	if err != nil {
		return nil, err
	}
	list, err := tre.QueryAs[tre.Resource](ctx, s.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Eq("templateName", req.TemplateName), tre.Ne("deploymentStatus", string(tre.StatusDeleted)),
	}})
	if err != nil {
		return nil, fmt.Errorf("upgrade: resources of %s: %w", req.TemplateName, err)
	}
	plan := &Plan{Items: []Item{}, Summary: Summary{Skipped: map[string]int{}}}
	for _, r := range list {
		if !match(r.TemplateVersion) || !inWorkspaces(r, req.WorkspaceIDs) {
			continue
		}
		it, err := s.itemOf(ctx, r, req)
		if err != nil {
			return nil, err
		}
		plan.Items = append(plan.Items, it)
	}
	order(plan.Items)
	for _, it := range plan.Items {
		plan.Summary.Total++
		if it.Action == ActionUpgrade {
			plan.Summary.Upgrade++
		} else {
			plan.Summary.Skip++
			plan.Summary.Skipped[it.ReasonCode]++
		}
	}
	return plan, nil
}

func inWorkspaces(r *tre.Resource, ids []string) bool {
	if len(ids) == 0 {
		return true
	}
	ws := r.WorkspaceID
	if r.ResourceType == tre.TypeWorkspace {
		ws = r.ID
	}
	return slices.Contains(ids, ws)
}

// order puts parents before children, then by path; each item learns its
// parent in the plan.
func order(items []Item) {
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Depth != items[j].Depth {
			return items[i].Depth < items[j].Depth
		}
		return items[i].ResourcePath < items[j].ResourcePath
	})
	upgrading := map[string]string{} // path → id
	for _, it := range items {
		if it.Action == ActionUpgrade {
			upgrading[it.ResourcePath] = it.ResourceID
		}
	}
	for i := range items {
		p := items[i].ResourcePath
		for {
			cut := strings.LastIndex(p, "/")
			if cut <= 0 {
				break
			}
			p = p[:cut]
			if id, ok := upgrading[p]; ok {
				items[i].ParentID = id
				break
			}
		}
	}
}

// itemOf decides what happens to one resource.
func (s *Service) itemOf(ctx context.Context, r *tre.Resource, req Request) (Item, error) {
	it := Item{ResourceID: r.ID, ResourcePath: r.ResourcePath, ResourceType: r.ResourceType, WorkspaceID: r.WorkspaceID,
		FromVersion: r.TemplateVersion, ToVersion: req.ToVersion, Action: ActionSkip, Depth: strings.Count(r.ResourcePath, "/")}
	if r.ResourceType == tre.TypeWorkspace {
		it.WorkspaceID = r.ID
	}
	code, reason, err := s.refusal(ctx, r, req)
	if err != nil {
		return it, err
	}
	if code != "" {
		it.ReasonCode, it.Reason = code, reason
		return it, nil
	}
	it.Action = ActionUpgrade
	return it, nil
}

// refusal is why r cannot be upgraded now: a code and a sentence, or
// nothing. Errors are the store's.
func (s *Service) refusal(ctx context.Context, r *tre.Resource, req Request) (code, reason string, err error) {
	if r.TemplateVersion == req.ToVersion {
		return ReasonSameVersion, "already at version " + req.ToVersion, nil
	}
	busy, err := s.busy(ctx, r.ID)
	if err != nil || busy != "" {
		return ReasonBusy, busy, err
	}
	switch {
	case !r.IsEnabled:
		return ReasonDisabled, "the resource is disabled", nil
	case !r.Installed():
		return ReasonNotDeployed, fmt.Sprintf("the resource is not deployed (status %s)", r.DeploymentStatus), nil
	}
	if code, reason := versionRule(r.TemplateVersion, req.ToVersion, req.Force); code != "" {
		return code, reason, nil
	}
	target, err := s.lc.CheckUpgrade(ctx, r, req.ToVersion, req.Force)
	if err != nil {
		if c := tre.ErrorCode(err); c != tre.CodeInvalid && c != tre.CodeForbidden {
			return "", "", err
		}
		return refusalCode(err), tre.ErrorMessage(err), nil
	}
	if bad := s.invalidProperties(ctx, r, target); bad != "" {
		return ReasonInvalidProperties, bad, nil
	}
	return "", "", nil
}

// versionRule is AzureTRE's: no major upgrade, no downgrade, without force.
func versionRule(from, to string, force bool) (code, reason string) {
	f, errF := tre.ParseVersion(from)
	t, errT := tre.ParseVersion(to)
	switch {
	case force || errF != nil || errT != nil:
		return "", ""
	case t.Major > f.Major:
		return ReasonMajor, fmt.Sprintf("upgrading from %s to %s is a major version upgrade: it needs force", from, to)
	case t.Compare(f) < 0:
		return ReasonDowngrade, fmt.Sprintf("%s is below %s: a downgrade needs force", to, from)
	}
	return "", ""
}

func refusalCode(err error) string {
	msg := tre.ErrorMessage(err)
	switch {
	case tre.IsCode(err, tre.CodeForbidden):
		return ReasonNotAllowed
	case strings.Contains(msg, "needs its parent's template"):
		return ReasonParentVersion
	case strings.Contains(msg, "deprecated"):
		return ReasonDeprecated
	case strings.Contains(msg, "not found for resource type"):
		return ReasonNotRegistered
	}
	return ReasonRefused
}

// busy names the operation in progress on a resource, "" if none.
func (s *Service) busy(ctx context.Context, id string) (string, error) {
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.Eq("resourceId", id), tre.In("status", tre.InProgressStatuses()...),
	}, Limit: 1})
	if err != nil {
		return "", fmt.Errorf("upgrade: operations of %s: %w", id, err)
	}
	if len(ops) == 0 {
		return "", nil
	}
	return fmt.Sprintf("operation %s (%s, %s) is in progress", ops[0].ID, ops[0].Action, ops[0].Status), nil
}

// invalidProperties checks the resource's own properties (those its
// current template declares; sensitive ones, kept in the secret store,
// aside) against the target version's schema, and names each property the
// target refuses and the current version accepts; "" when there is none.
func (s *Service) invalidProperties(ctx context.Context, r *tre.Resource, target *tre.Template) string {
	current, err := s.lc.TemplateOf(ctx, r)
	if err != nil {
		return ""
	}
	from, err := schema.NewValidator(current)
	if err != nil {
		return ""
	}
	to, err := schema.NewValidator(target)
	if err != nil {
		return "the target version's schema does not compile"
	}
	props := map[string]any{}
	hidden := map[string]bool{}
	for k, v := range r.Properties {
		if _, declared := from.PropertySchema(k); !declared {
			continue
		}
		if v == tre.Redacted || r.SecretRefs[tre.Pointer(k)] != "" {
			hidden["properties."+k] = true
			continue
		}
		props[k] = v
	}
	// What the current version refuses too is the control plane's own
	// (an allocated address_space, say), not a change the upgrade brings.
	for _, f := range problemsOf(from.ValidateCreate(props)) {
		hidden[f.Field] = true
	}
	if fields := problemsOf(to.ValidateCreate(props)); len(fields) > 0 {
		var msgs []string
		for _, f := range fields {
			if !hidden[f.Field] {
				msgs = append(msgs, f.Field+": "+f.Message)
			}
		}
		if len(msgs) > 0 {
			return "properties invalid under version " + target.Version + ": " + strings.Join(msgs, "; ")
		}
	}
	return ""
}

func problemsOf(err error) []tre.FieldError {
	var e *tre.Error
	if err == nil || !asError(err, &e) {
		return nil
	}
	return e.Fields
}
