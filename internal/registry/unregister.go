package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// parseMinimumParentVersion reads a template's minimumParentVersion (a
// member of its json_schema, beside pipeline and egress): a semantic
// version, on templates that have a parent. Returns CodeInvalid.
func parseMinimumParentVersion(t tre.ResourceType, raw any) (string, error) {
	if raw == nil {
		return "", nil
	}
	v, ok := raw.(string)
	if _, err := tre.ParseVersion(v); !ok || err != nil {
		return "", tre.FieldErrorf(tre.CodeInvalid, "json_schema.minimumParentVersion",
			"minimumParentVersion must be a semantic version (the lowest version of the parent's template), not %v", raw)
	}
	if t != tre.TypeWorkspaceService && t != tre.TypeUserResource {
		return "", tre.FieldErrorf(tre.CodeInvalid, "json_schema.minimumParentVersion",
			"minimumParentVersion is for workspace service and user resource templates: a %s has no parent", t)
	}
	return v, nil
}

// maxUsersNamed caps the resources an unregister refusal lists.
const maxUsersNamed = 10

// Unregister removes a template version that no resource uses (deleted
// resources aside). The current version can go only when it is the last
// one (the name goes with it). Returns CodeNotFound, CodeConflict (naming
// the resources that use it, or saying it is current).
func (r *Registry) Unregister(ctx context.Context, k Kind, name, version string) error {
	t, err := r.Get(ctx, k, name, version)
	if err != nil {
		return err
	}
	users, err := r.users(ctx, k, name, version)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		named := users
		if len(named) > maxUsersNamed {
			named = named[:maxUsersNamed]
		}
		more := ""
		if len(users) > len(named) {
			more = fmt.Sprintf(" and %d more", len(users)-len(named))
		}
		return tre.Errorf(tre.CodeConflict, "Version %s of template %s is used by %d resource(s): %s%s. Upgrade or delete them first",
			version, name, len(users), strings.Join(named, ", "), more)
	}
	all, err := r.versions(ctx, k, name)
	if err != nil {
		return err
	}
	if t.Current && len(all) > 1 {
		return tre.Errorf(tre.CodeConflict, "Version %s is the current version of template %s: make another version current first", version, name)
	}
	// Whatever the deletes do, the cache reads the name again.
	defer r.invalidate(k, name)
	if err := r.store.Delete(ctx, tre.ResourceTemplates, t.ID, ""); err != nil && !tre.IsCode(err, tre.CodeNotFound) {
		return fmt.Errorf("registry: unregister %s %s: %w", name, version, err)
	}
	if len(all) == 1 {
		err := r.store.Delete(ctx, tre.TemplateNames, pointerID(k, name), "")
		if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
			return fmt.Errorf("registry: unregister %s: %w", name, err)
		}
	}
	return nil
}

// users returns the paths of the resources (not deleted) made from a
// template version.
func (r *Registry) users(ctx context.Context, k Kind, name, version string) ([]string, error) {
	list, err := tre.QueryAs[tre.Resource](ctx, r.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Eq("resourceType", string(k.Type)), tre.Eq("templateName", name), tre.Eq("templateVersion", version),
		tre.Ne("deploymentStatus", string(tre.StatusDeleted)),
	}})
	if err != nil {
		return nil, fmt.Errorf("registry: users of %s %s: %w", name, version, err)
	}
	var out []string
	for _, res := range list {
		if k.Type == tre.TypeUserResource {
			// A user-resource template is its parent's: the same name under
			// another workspace service template is another template.
			svc, err := tre.GetAs[tre.Resource](ctx, r.store, tre.Resources, res.ParentWorkspaceServiceID)
			if err == nil && svc.TemplateName != k.Parent {
				continue
			}
		}
		out = append(out, res.ResourcePath)
	}
	return out, nil
}
