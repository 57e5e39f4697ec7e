package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
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
	if req.Type == tre.TypeSharedService && req.TemplateName == tre.FirewallTemplateName {
		return nil, nil, builtInFirewallRefusal("created: it exists")
	}
	props := schema.DeepCopy(req.Properties)
	if props == nil {
		props = map[string]any{}
	}
	p, err := s.parentsOf(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	tmpl, v, err := s.createTemplate(ctx, req, p.kind, props)
	if err != nil {
		return nil, nil, err
	}
	if err := parentVersionOK(tmpl, p.parent(), "templateName"); err != nil {
		return nil, nil, err
	}
	id := s.newID()
	r := &tre.Resource{
		ID: id, TemplateName: tmpl.Name, TemplateVersion: tmpl.Version, IsEnabled: true,
		ResourceType: req.Type, DeploymentStatus: tre.StatusAwaitingDeployment, User: req.User, UpdatedWhen: s.ts(),
	}
	// What was taken for the resource is given back if it is not created.
	var undo []func()
	defer func() {
		for _, u := range undo {
			u()
		}
	}()
	var op *tre.Operation
	err = s.atomically(ctx, func(ctx context.Context, tx *Service) error {
		op, err = tx.install(ctx, r, req, p, v, props, &undo)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	undo = nil
	s.log.InfoContext(ctx, "resource created", "resource_id", id, "resource_type", req.Type, "template_name", tmpl.Name,
		"template_version", tmpl.Version, "operation_id", op.ID)
	return r, op, nil
}

// install gives a new resource its place and its secrets, and commits its
// install operation. What it takes outside a transaction it adds to undo.
func (s *Service) install(ctx context.Context, r *tre.Resource, req CreateRequest, p parents, v *schema.Validator, props map[string]any, undo *[]func()) (*tre.Operation, error) {
	if err := s.place(ctx, r, req, p, v, props, undo); err != nil {
		return nil, err
	}
	props["tre_id"] = s.cfg.TREID
	props["azure_location"] = s.cfg.Location
	refs, err := s.storeSecrets(ctx, r.ID, v, props)
	if err != nil {
		return nil, err
	}
	*undo = append(*undo, func() { s.deleteSecrets(context.WithoutCancel(ctx), refs) })
	r.Properties, r.SecretRefs = props, refs

	steps, err := s.buildSteps(ctx, tre.ActionInstall, []*tre.Resource{r})
	if err != nil {
		return nil, err
	}
	op := s.newOperation(r, tre.ActionInstall, steps, req.User)
	if err := s.commit(ctx, op, []tre.ResourceChange{{ResourceID: r.ID, Create: r}}); err != nil {
		return nil, err
	}
	return op, nil
}

// parents are the workspace and workspace service a new resource goes
// under (as its type has them), and its template family.
type parents struct {
	ws, svc *tre.Resource
	kind    registry.Kind
}

// parentsOf finds and checks the parents of a new resource. Returns
// CodeNotFound, CodeConflict (not deployed, or disabled).
func (s *Service) parentsOf(ctx context.Context, req CreateRequest) (parents, error) {
	p := parents{kind: registry.Kind{Type: req.Type}}
	if req.Type != tre.TypeWorkspaceService && req.Type != tre.TypeUserResource {
		return p, nil
	}
	var err error
	if p.ws, err = s.Get(ctx, WorkspaceRef(req.WorkspaceID)); err != nil {
		return p, err
	}
	if err := usableParent(p.ws, "Workspace"); err != nil {
		return p, err
	}
	if req.Type == tre.TypeUserResource {
		if p.svc, err = s.Get(ctx, Ref{Type: tre.TypeWorkspaceService, WorkspaceID: p.ws.ID, ID: req.ServiceID}); err != nil {
			return p, err
		}
		if err := usableParent(p.svc, "Workspace service"); err != nil {
			return p, err
		}
		p.kind.Parent = p.svc.TemplateName
	}
	return p, nil
}

// createTemplate is the template a new resource is made from, with the
// validator of its properties, which props passes. Returns CodeInvalid,
// CodeForbidden.
func (s *Service) createTemplate(ctx context.Context, req CreateRequest, kind registry.Kind, props map[string]any) (*tre.Template, *schema.Validator, error) {
	tmpl, err := s.currentTemplate(ctx, kind, req.TemplateName)
	if err != nil {
		return nil, nil, err
	}
	if !registry.Authorized(tmpl, req.Roles) {
		return nil, nil, tre.Errorf(tre.CodeForbidden, "User not authorized to use template %s", tmpl.Name)
	}
	if err := s.allowedIn(ctx, req.WorkspaceID, tmpl); err != nil {
		return nil, nil, err
	}
	v, err := schema.NewValidator(tmpl)
	if err != nil {
		return nil, nil, err
	}
	if err := v.ValidateCreate(props); err != nil {
		return nil, nil, err
	}
	if err := checkAddressSpaces(props); err != nil {
		return nil, nil, err
	}
	return tmpl, v, nil
}

// place gives a new resource what its type needs: its path and parents,
// an address space, the workspace's facts, its owner, the one shared
// service of its template. What it takes is given back by the functions
// it adds to undo, should the resource not be created.
func (s *Service) place(ctx context.Context, r *tre.Resource, req CreateRequest, p parents, v *schema.Validator, props map[string]any, undo *[]func()) error {
	switch req.Type {
	case tre.TypeWorkspace:
		if err := s.workspaceIdentity(props, v); err != nil {
			return err
		}
		return s.placeWorkspace(ctx, r, req.User, props, undo)
	case tre.TypeWorkspaceService:
		r.WorkspaceID = p.ws.ID
		r.ResourcePath = tre.ResourcePath(req.Type, p.ws.ID, "", r.ID)
		inheritWorkspace(props, p.ws)
		if _, wants := v.PropertySchema("address_space"); !wants {
			return nil
		}
		size, _ := props["address_space_size"].(string)
		space, err := s.allocateFor(ctx, r.ID, size, "", undo)
		if err != nil {
			return err
		}
		props["address_space"] = space.String()
		return nil
	case tre.TypeUserResource:
		r.WorkspaceID, r.ParentWorkspaceServiceID = p.ws.ID, p.svc.ID
		r.ResourcePath = tre.ResourcePath(req.Type, p.ws.ID, p.svc.ID, r.ID)
		inheritWorkspace(props, p.ws)
		return placeUserResource(r, req, props)
	default:
		r.ResourcePath = tre.ResourcePath(req.Type, "", "", r.ID)
		if err := s.claimSharedService(ctx, r.TemplateName, r.ID); err != nil {
			return err
		}
		if !s.inTx { // a transaction's writes are undone with it
			*undo = append(*undo, func() { s.releaseSharedService(context.WithoutCancel(ctx), r.TemplateName, r.ID) })
		}
		props["shared_service_id"] = r.ID[len(r.ID)-4:]
		return nil
	}
}

// placeWorkspace gives a new workspace its address space and ids.
func (s *Service) placeWorkspace(ctx context.Context, r *tre.Resource, user tre.User, props map[string]any, undo *[]func()) error {
	r.ResourcePath = tre.ResourcePath(tre.TypeWorkspace, "", "", r.ID)
	size, _ := props["address_space_size"].(string)
	custom, _ := props["address_space"].(string)
	space, err := s.allocateFor(ctx, r.ID, size, custom, undo)
	if err != nil {
		return err
	}
	props["address_space"] = space.String()
	props["address_spaces"] = []any{space.String()}
	if _, given := props["workspace_owner_object_id"]; !given {
		props["workspace_owner_object_id"] = user.ID
	}
	props["workspace_id"] = r.ID[len(r.ID)-4:]
	return nil
}

// allocateFor allocates an address space to a new resource, and adds its
// release to undo.
func (s *Service) allocateFor(ctx context.Context, id, size, custom string, undo *[]func()) (netip.Prefix, error) {
	space, err := s.allocate(ctx, id, size, custom)
	if err != nil {
		return space, err
	}
	if !s.inTx { // a transaction's writes are undone with it
		*undo = append(*undo, func() { _ = s.releaseSpace(context.WithoutCancel(ctx), id, space) })
	}
	return space, nil
}

// placeUserResource sets a new user resource's owner: the caller, or the
// user it is assigned to, which only a workspace owner may do. Returns
// CodeInvalid, CodeForbidden.
func placeUserResource(r *tre.Resource, req CreateRequest, props map[string]any) error {
	r.OwnerID = req.User.ID
	if assign, _ := props["assign_to_another_user"].(bool); !assign {
		return nil
	}
	owner, _ := props["owner_id"].(string)
	if owner == "" {
		return tre.FieldErrorf(tre.CodeInvalid, "properties.owner_id", "owner_id is required with assign_to_another_user")
	}
	if !slices.Contains(req.Roles, string(tre.RoleWorkspaceOwner)) {
		return tre.Errorf(tre.CodeForbidden, "Only a Workspace Owner can create a user resource for another user")
	}
	r.OwnerID = owner
	return nil
}

// ClientIDMessage is AzureTRE's text for a workspace whose auth_type is not
// Automatic and that names no application.
const ClientIDMessage = "Please supply the client_id for the AAD application"

// workspaceIdentity sets the properties AzureTRE's clients read to call
// the API for a workspace: scope_id (the scope they ask a token for) and
// client_id, this API's own app registration unless the request names the
// workspace's application. For a template that declares auth_type (as
// AzureTRE's do), register_aad_application says whether its bundle is to
// create the application (auth_type Automatic), and any other auth_type
// needs a client_id (400 with AzureTRE's text otherwise).
func (s *Service) workspaceIdentity(props map[string]any, v *schema.Validator) error {
	if def, declared := v.PropertySchema("auth_type"); declared {
		authType, given := props["auth_type"].(string)
		if !given {
			authType, _ = def["default"].(string)
		}
		props["register_aad_application"] = authType == "Automatic"
		if clientID, _ := props["client_id"].(string); authType != "Automatic" && clientID == "" {
			return tre.FieldErrorf(tre.CodeInvalid, "properties.client_id", "%s", ClientIDMessage)
		}
	}
	if _, given := props["client_id"]; !given && s.cfg.ClientID != "" {
		props["client_id"] = s.cfg.ClientID
	}
	if s.cfg.ScopeID != "" {
		props[ScopeIDProperty] = s.cfg.ScopeID
	}
	return nil
}

// ScopeIDProperty is the workspace property that names the scope of the
// tokens clients send for it. A bundle that reports a scope_id output (the
// scope of an application it created) does not change it: the output is
// kept as BundleScopeIDProperty.
const (
	ScopeIDProperty       = "scope_id"
	BundleScopeIDProperty = "workspace_app_scope_id"
)

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
