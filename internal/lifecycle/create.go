package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// CreateRequest asks for a new resource.
type CreateRequest struct {
	Type tre.ResourceType
	// WorkspaceID and ServiceID name the parents (by type).
	WorkspaceID  string
	ServiceID    string
	TemplateName string
	Properties   map[string]any
	User         tre.User
	// Roles are the caller's roles (TRE roles from the token, workspace
	// roles from assignments), checked against the template's
	// authorizedRoles.
	Roles []string
}

// Create validates a request and starts the install operation of a new
// resource. Returns CodeInvalid (template unknown or not current,
// properties wrong: each problem names its property), CodeForbidden (the
// template's authorizedRoles, or assigning a user resource to someone
// else without being an owner), CodeNotFound (parents), CodeConflict
// (parents not deployed or disabled, a shared service that exists, no
// address space left), CodeUnprocessable (custom address space).
func (s *Service) Create(ctx context.Context, req CreateRequest) (*tre.Resource, *tre.Operation, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MutationTimeout)
	defer cancel()
	if req.TemplateName == "" {
		return nil, nil, tre.FieldErrorf(tre.CodeInvalid, "templateName", "templateName is required")
	}
	props := schema.DeepCopy(req.Properties)
	if props == nil {
		props = map[string]any{}
	}
	var ws, svc *tre.Resource
	var err error
	kind := registry.Kind{Type: req.Type}
	switch req.Type {
	case tre.TypeWorkspaceService, tre.TypeUserResource:
		if ws, err = s.Get(ctx, WorkspaceRef(req.WorkspaceID)); err != nil {
			return nil, nil, err
		}
		if err := usableParent(ws, "Workspace"); err != nil {
			return nil, nil, err
		}
		if req.Type == tre.TypeUserResource {
			if svc, err = s.Get(ctx, Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, ID: req.ServiceID}); err != nil {
				return nil, nil, err
			}
			if err := usableParent(svc, "Workspace service"); err != nil {
				return nil, nil, err
			}
			kind.Parent = svc.TemplateName
		}
	}
	tmpl, err := s.currentTemplate(ctx, kind, req.TemplateName)
	if err != nil {
		return nil, nil, err
	}
	if !registry.Authorized(tmpl, req.Roles) {
		return nil, nil, tre.Errorf(tre.CodeForbidden, "User not authorized to use template %s", tmpl.Name)
	}
	v, err := schema.NewValidator(tmpl)
	if err != nil {
		return nil, nil, err
	}
	if err := v.ValidateCreate(props); err != nil {
		return nil, nil, err
	}

	id := s.newID()
	r := &tre.Resource{
		ID: id, TemplateName: tmpl.Name, TemplateVersion: tmpl.Version, IsEnabled: true,
		ResourceType: req.Type, DeploymentStatus: tre.StatusAwaitingDeployment, User: req.User, UpdatedWhen: s.ts(),
	}
	var undo []func()
	defer func() {
		for _, u := range undo {
			u()
		}
	}()
	switch req.Type {
	case tre.TypeWorkspace:
		r.ResourcePath = tre.ResourcePath(req.Type, "", "", id)
		size, _ := props["address_space_size"].(string)
		custom, _ := props["address_space"].(string)
		space, err := s.allocate(ctx, id, size, custom)
		if err != nil {
			return nil, nil, err
		}
		undo = append(undo, func() { _ = s.releaseAddresses(context.WithoutCancel(ctx), id) })
		props["address_space"] = space.String()
		props["address_spaces"] = []any{space.String()}
		if _, given := props["workspace_owner_object_id"]; !given {
			props["workspace_owner_object_id"] = req.User.ID
		}
		props["workspace_id"] = id[len(id)-4:]
	case tre.TypeWorkspaceService:
		r.WorkspaceID = ws.ID
		r.ResourcePath = tre.ResourcePath(req.Type, ws.ID, "", id)
		inheritWorkspace(props, ws)
		if _, wants := v.PropertySchema("address_space"); wants {
			size, _ := props["address_space_size"].(string)
			space, err := s.allocate(ctx, id, size, "")
			if err != nil {
				return nil, nil, err
			}
			undo = append(undo, func() { _ = s.releaseAddresses(context.WithoutCancel(ctx), id) })
			props["address_space"] = space.String()
		}
	case tre.TypeUserResource:
		r.WorkspaceID, r.ParentWorkspaceServiceID = ws.ID, svc.ID
		r.ResourcePath = tre.ResourcePath(req.Type, ws.ID, svc.ID, id)
		inheritWorkspace(props, ws)
		r.OwnerID = req.User.ID
		if assign, _ := props["assign_to_another_user"].(bool); assign {
			owner, _ := props["owner_id"].(string)
			if owner == "" {
				return nil, nil, tre.FieldErrorf(tre.CodeInvalid, "properties.owner_id", "owner_id is required with assign_to_another_user")
			}
			if !slices.Contains(req.Roles, string(tre.RoleWorkspaceOwner)) {
				return nil, nil, tre.Errorf(tre.CodeForbidden, "Only a Workspace Owner can create a user resource for another user")
			}
			r.OwnerID = owner
		}
	case tre.TypeSharedService:
		r.ResourcePath = tre.ResourcePath(req.Type, "", "", id)
		if err := s.claimSharedService(ctx, tmpl.Name, id); err != nil {
			return nil, nil, err
		}
		undo = append(undo, func() { s.releaseSharedService(context.WithoutCancel(ctx), tmpl.Name, id) })
		props["shared_service_id"] = id[len(id)-4:]
	}
	props["tre_id"] = s.cfg.TREID
	props["azure_location"] = s.cfg.Location

	refs, err := s.storeSecrets(ctx, id, v, props)
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, func() { s.deleteSecrets(context.WithoutCancel(ctx), refs) })
	r.Properties, r.SecretRefs = props, refs

	steps, err := s.buildSteps(ctx, tre.ActionInstall, []*tre.Resource{r})
	if err != nil {
		return nil, nil, err
	}
	op := s.newOperation(r, tre.ActionInstall, steps, req.User)
	if err := s.commit(ctx, op, []tre.ResourceChange{{ResourceID: id, Create: r}}); err != nil {
		return nil, nil, err
	}
	undo = nil
	s.log.Info("resource created", "resource_id", id, "resource_type", req.Type, "template_name", tmpl.Name,
		"template_version", tmpl.Version, "operation_id", op.ID)
	return r, op, nil
}

// usableParent: a parent must be deployed and enabled to get children
// (AzureTRE checks only "deployed").
func usableParent(p *tre.Resource, noun string) error {
	if !p.Installed() {
		return tre.Errorf(tre.CodeConflict, "%s is not deployed.", noun)
	}
	if !p.IsEnabled {
		return tre.Errorf(tre.CodeConflict, "%s is disabled.", noun)
	}
	return nil
}

// inheritWorkspace copies the workspace facts a child's bundle needs, as
// AzureTRE does: workspace_subscription_id. Not workspace_id: a child's
// bundle gets the workspace's full id from the request's workspaceId (the
// workspace's own workspace_id property is its last 4 characters).
func inheritWorkspace(props map[string]any, ws *tre.Resource) {
	for _, k := range []string{"workspace_subscription_id"} {
		if v, ok := ws.Properties[k]; ok {
			props[k] = v
		}
	}
}

// currentTemplate is the template a new resource is made from: the current
// version of the name, which must not be deprecated. Returns CodeInvalid
// with AzureTRE's texts.
func (s *Service) currentTemplate(ctx context.Context, k registry.Kind, name string) (*tre.Template, error) {
	t, err := s.registry.Current(ctx, k, name)
	if tre.IsCode(err, tre.CodeNotFound) {
		if k.Type == tre.TypeUserResource {
			return nil, tre.FieldErrorf(tre.CodeInvalid, "templateName",
				"The template %q does not exist or is not valid for the workspace service type %q", name, k.Parent)
		}
		return nil, tre.FieldErrorf(tre.CodeInvalid, "templateName", "The template %q does not exist", name)
	}
	if err != nil {
		return nil, err
	}
	if t.Deprecated {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "templateName",
			"The template %q is deprecated (version %s: %s); make another version current to use it", name, t.Version, t.DeprecationReason)
	}
	return t, nil
}

// storeSecrets moves every sensitive value of props into the secret store,
// leaving "REDACTED" in its place, and returns the references. Every write
// gets a new name (resource, property, random suffix): a patch that is
// then rejected leaves the stored secrets as they were.
func (s *Service) storeSecrets(ctx context.Context, resourceID string, v *schema.Validator, props map[string]any) (map[string]string, error) {
	pointers := v.SensitivePointers(props)
	if len(pointers) == 0 {
		return nil, nil
	}
	if s.secrets == nil {
		return nil, tre.Errorf(tre.CodeUnavailable, "No secret store is configured for sensitive properties")
	}
	refs := map[string]string{}
	for _, p := range pointers {
		val, _ := tre.PointerGet(props, p)
		if val == nil || val == tre.Redacted {
			continue
		}
		raw, err := json.Marshal(val)
		if err != nil {
			return nil, tre.WrapError(tre.CodeInvalid, err, "sensitive property %s cannot be stored", p)
		}
		name := secretName(resourceID, p, s.newID())
		if err := s.secrets.Put(ctx, name, string(raw)); err != nil {
			return nil, fmt.Errorf("lifecycle: store secret of %s: %w", resourceID, err)
		}
		tre.PointerSet(props, p, tre.Redacted)
		refs[p] = name
	}
	return refs, nil
}

func (s *Service) deleteSecrets(ctx context.Context, refs map[string]string) {
	if s.secrets == nil {
		return
	}
	for _, name := range refs {
		_ = s.secrets.Delete(ctx, name)
	}
}

// secretName is "r-<resource id>-<hash of the pointer>-<nonce>": letters,
// digits and dashes, as Key Vault requires.
func secretName(resourceID, pointer, nonce string) string {
	h := fnv.New32a()
	h.Write([]byte(pointer))
	if len(nonce) > 8 {
		nonce = nonce[:8]
	}
	return fmt.Sprintf("r-%s-%08x-%s", resourceID, h.Sum32(), nonce)
}
