package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// resourceFamily is one resource type's routes with AzureTRE's role matrix.
type resourceFamily struct {
	typ      tre.ResourceType
	base     string // collection path pattern
	idParam  string // the resource's own path parameter
	single   string // JSON key of one
	plural   string // JSON key of a list
	list     Access
	create   Access
	get      Access
	mutate   Access // patch, delete, invoke-action
	history  Access // operations and history
	owned    bool   // user resources: researchers see and change only their own
	noun     string
	restrict bool // shared services: TREUsers see a restricted view
}

var (
	wsAll      = Access{TRE: []tre.Role{tre.RoleTREAdmin}, Workspace: []tre.Role{tre.RoleWorkspaceOwner, tre.RoleWorkspaceResearcher, tre.RoleAirlockManager}}
	wsOwnAdmin = Access{TRE: []tre.Role{tre.RoleTREAdmin}, Workspace: []tre.Role{tre.RoleWorkspaceOwner}}
	wsMembers  = Access{Workspace: []tre.Role{tre.RoleWorkspaceOwner, tre.RoleWorkspaceResearcher, tre.RoleAirlockManager}}
	wsOwner    = Access{Workspace: []tre.Role{tre.RoleWorkspaceOwner}}
	wsOwnerAM  = Access{Workspace: []tre.Role{tre.RoleWorkspaceOwner, tre.RoleAirlockManager}}
)

var resourceFamilies = []resourceFamily{
	{typ: tre.TypeWorkspace, base: "/api/workspaces", idParam: "workspace_id", single: "workspace", plural: "workspaces",
		list: treUserOrAdmin, create: treAdmin, get: wsAll, mutate: treAdmin, history: wsOwnAdmin, noun: "workspace"},
	{typ: tre.TypeWorkspaceService, base: "/api/workspaces/{workspace_id}/workspace-services", idParam: "service_id",
		single: "workspaceService", plural: "workspaceServices",
		list: wsMembers, create: wsOwner, get: wsMembers, mutate: wsOwner, history: wsOwnerAM, noun: "workspace service"},
	{typ: tre.TypeUserResource, base: "/api/workspaces/{workspace_id}/workspace-services/{service_id}/user-resources", idParam: "resource_id",
		single: "userResource", plural: "userResources",
		list: wsMembers, create: wsMembers, get: wsMembers, mutate: wsMembers, history: wsMembers, owned: true, noun: "user resource"},
	{typ: tre.TypeSharedService, base: "/api/shared-services", idParam: "shared_service_id", single: "sharedService", plural: "sharedServices",
		list: treUserOrAdmin, create: treAdmin, get: treUserOrAdmin, mutate: treAdmin, history: treAdmin, noun: "shared service", restrict: true},
}

func (a *API) resourceRoutes() []Route {
	var routes []Route
	for _, f := range resourceFamilies {
		one := f.base + "/{" + f.idParam + "}"
		routes = append(routes,
			Route{Method: "GET", Pattern: f.base, Access: f.list, Status: 200,
				Summary: "List " + f.noun + "s (all, streamed; or a page: ?pageSize=, then ?continuation= from the answer; filters ?templateName=, ?deploymentStatus=)",
				Handle:  a.listResources(f)},
			Route{Method: "POST", Pattern: f.base, Access: f.create, Status: 202, Summary: "Create a " + f.noun, Request: createBody{}, Handle: a.createResource(f)},
			Route{Method: "GET", Pattern: one, Access: f.get, Status: 200, Summary: "Get a " + f.noun, Handle: a.getResource(f)},
			Route{Method: "PATCH", Pattern: one, Access: f.mutate, Status: 202, Request: patchBody{},
				Summary: "Update a " + f.noun + ": enable/disable, properties, template version (If-Match or etag header)", Handle: a.patchResource(f)},
			Route{Method: "DELETE", Pattern: one, Access: f.mutate, Status: 200, Summary: "Delete a disabled " + f.noun + " (and its children)", Handle: a.deleteResource(f)},
			Route{Method: "POST", Pattern: one + "/invoke-action", Access: f.mutate, Status: 202, Summary: "Run a custom action (?action=) of a " + f.noun, Handle: a.invokeAction(f)},
			Route{Method: "GET", Pattern: one + "/operations", Access: f.history, Status: 200, Summary: "List the operations of a " + f.noun, Handle: a.listOperations(f)},
			Route{Method: "GET", Pattern: one + "/operations/{operation_id}", Access: f.history, Status: 200, Summary: "Get an operation of a " + f.noun, Handle: a.getOperation(f)},
			Route{Method: "GET", Pattern: one + "/history", Access: f.history, Status: 200, Summary: "List the history of a " + f.noun, Handle: a.history(f)},
		)
	}
	return routes
}

// createBody is the body of a create request.
type createBody struct {
	TemplateName string         `json:"templateName"`
	Properties   map[string]any `json:"properties"`
}

// patchBody is the body of a patch request (AzureTRE's ResourcePatch).
type patchBody struct {
	IsEnabled       *bool          `json:"isEnabled,omitempty"`
	Properties      map[string]any `json:"properties,omitempty"`
	TemplateVersion *string        `json:"templateVersion,omitempty"`
}

// refOf reads and validates the ids of a resource path: each must be a UUID.
func refOf(f resourceFamily, r *http.Request, withID bool) (lifecycle.Ref, error) {
	ref := lifecycle.Ref{Type: f.typ, WorkspaceID: r.PathValue("workspace_id")}
	if f.typ == tre.TypeUserResource {
		ref.ServiceID = r.PathValue("service_id")
	}
	if withID {
		ref.ID = r.PathValue(f.idParam)
	}
	for param, v := range map[string]string{"workspace_id": ref.WorkspaceID, "service_id": ref.ServiceID, f.idParam: ref.ID} {
		if v == "" {
			continue
		}
		if err := lifecycle.CheckID(param, v); err != nil {
			return ref, err
		}
	}
	if f.typ == tre.TypeWorkspace {
		ref.WorkspaceID = ""
	}
	return ref, nil
}

// callerRoles are the caller's TRE roles and roles in the path's workspace.
func callerRoles(r *http.Request) []string {
	roles := append([]string(nil), userOf(r.Context()).Roles...)
	for _, wr := range workspaceRolesOf(r.Context()) {
		roles = append(roles, string(wr))
	}
	return roles
}

// checkOwnership applies AzureTRE's rule for user resources: an owner of
// the workspace may act on any; a researcher or airlock manager only on
// their own. Returns CodeForbidden.
func checkOwnership(f resourceFamily, r *http.Request, res *tre.Resource) error {
	// A TRE admin only gets here on routes open to admins (operation
	// control): the ownership rule is the workspace roles'.
	if !f.owned || slices.Contains(workspaceRolesOf(r.Context()), tre.RoleWorkspaceOwner) || userOf(r.Context()).HasRole(tre.RoleTREAdmin) {
		return nil
	}
	if res.OwnerID == userOf(r.Context()).ID {
		return nil
	}
	return tre.Errorf(tre.CodeForbidden, "Workspace Researcher or Owner rights are required")
}

// load reads the resource of the path and applies the ownership rule.
func (a *API) load(f resourceFamily, r *http.Request) (*tre.Resource, error) {
	return a.loadResource(f, r, false)
}

// loadRecords is load for the routes that read a resource's records
// (operations, history, events): those stay readable after the resource
// is deleted.
func (a *API) loadRecords(f resourceFamily, r *http.Request) (*tre.Resource, error) {
	return a.loadResource(f, r, true)
}

func (a *API) loadResource(f resourceFamily, r *http.Request, deleted bool) (*tre.Resource, error) {
	ref, err := refOf(f, r, true)
	if err != nil {
		return nil, err
	}
	get := a.Resources.Get
	if deleted {
		get = a.Resources.GetForRecords
	}
	res, err := get(r.Context(), ref)
	if err != nil {
		return nil, err
	}
	return res, checkOwnership(f, r, res)
}

// withScopeID gives a workspace's properties AzureTRE's scope_id when they
// have none (workspaces created before lifecycle stored it): AzureTRE's
// clients (the tre CLI, the e2e tests) read it to ask for a token of the
// workspace, and workspaces have no app registration of their own here,
// so it is the API's. The stored properties are not changed.
func (a *API) withScopeID(props map[string]any) map[string]any {
	if _, ok := props["scope_id"]; ok {
		return props
	}
	out := make(map[string]any, len(props)+1)
	for k, v := range props {
		out[k] = v
	}
	out["scope_id"] = strings.TrimSuffix(a.Metadata.APIRootScope, "/user_impersonation")
	return out
}

// scopedProperties is withScopeID for a listed workspace's stored
// properties: nil (the stored ones answer as they are) unless it is a
// workspace whose properties have no scope_id, then the properties with it.
func (a *API) scopedProperties(l *lifecycle.Listed) (json.RawMessage, error) {
	if l.ResourceType != tre.TypeWorkspace {
		return nil, nil
	}
	raw := l.Member("properties")
	if raw != nil && lifecycle.HasMember(raw, "scope_id") {
		return nil, nil
	}
	var props map[string]any
	if raw != nil {
		if err := json.Unmarshal(raw, &props); err != nil {
			return nil, fmt.Errorf("api: properties of %s: %w", l.ID, err)
		}
	}
	return json.Marshal(a.withScopeID(props))
}

// listResources answers a list. Without pageSize it is AzureTRE's answer,
// {"<plural>": [every resource]}, which its CLI and UI read: it is
// streamed a page of the store at a time, never held whole. With pageSize
// (1 to lifecycle.MaxPageSize) it is one page, and "continuation" names
// the next (absent after the last): pass it back as ?continuation=. A page
// may hold fewer than pageSize (resources the caller may not see are left
// out) and still have a next. templateName and deploymentStatus filter.
// Resources come in the store's order (creation order on SQLite).
func (a *API) listResources(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ref, err := refOf(f, r, false)
		if err != nil {
			return err
		}
		opts, paged, err := listOptions(r)
		if err != nil {
			return err
		}
		user := userOf(r.Context())
		var visible map[string]bool
		if f.typ == tre.TypeWorkspace && !user.HasRole(tre.RoleTREAdmin) {
			if visible, err = a.Assignments.WorkspacesOf(r.Context(), user.ID); err != nil {
				return err
			}
		}
		if !paged {
			opts.PageSize = cmp.Or(a.ListStreamPage, DefaultListStreamPage)
		}
		page, err := a.Resources.ListPage(r.Context(), ref, opts)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		// Once an item is written the answer is 200: a later error can
		// only cut it short (stream.fail).
		out := newStream(w, f.plural)
		for {
			// The store reads the next page while this one is split
			// into members and written: on two cores the list takes the
			// longer of the two, not their sum.
			var next <-chan listedPage
			if !paged && page.Continuation != "" {
				opts.Continuation = page.Continuation
				next = a.prefetch(ctx, ref, opts)
			}
			listed, err := page.Resources()
			if err != nil {
				return out.fail(r, a, err)
			}
			if err := a.listItems(f, r, listed, visible, out); err != nil {
				return out.fail(r, a, err)
			}
			if next == nil {
				break
			}
			got := <-next
			if got.err != nil {
				return out.fail(r, a, got.err)
			}
			page = got.page
		}
		if paged {
			out.end(page.Continuation)
		} else {
			out.end("")
		}
		return nil
	}
}

// listItems adds the resources of a page the caller may see to a list
// answer (visible, if not nil, names the workspaces they may see).
func (a *API) listItems(f resourceFamily, r *http.Request, page []*lifecycle.Listed, visible map[string]bool, out *stream) error {
	for _, l := range page {
		if visible != nil && !visible[l.ID] {
			continue
		}
		if f.owned && checkOwnership(f, r, l.Header()) != nil {
			continue
		}
		if err := a.listItem(f, r, l, out); err != nil {
			return err
		}
	}
	return nil
}

// listedPage is a page of a list read ahead, or why it could not be.
type listedPage struct {
	page lifecycle.ResourcePage
	err  error
}

// prefetch reads a page of a list in the background; the channel gets
// it. Cancelling ctx ends the read.
func (a *API) prefetch(ctx context.Context, ref lifecycle.Ref, opts lifecycle.ListOptions) <-chan listedPage {
	ch := make(chan listedPage, 1)
	go func() {
		page, err := a.Resources.ListPage(ctx, ref, opts)
		ch <- listedPage{page, err}
	}()
	return ch
}

// listItem adds a resource to a list answer: resourceOf's answer, made
// from the stored members (appendResource), or the restricted view.
func (a *API) listItem(f resourceFamily, r *http.Request, l *lifecycle.Listed, out *stream) error {
	ups, err := out.availableUpgrades(r.Context(), a.Resources, l)
	if err != nil {
		return err
	}
	if f.restrict && !userOf(r.Context()).HasRole(tre.RoleTREAdmin) {
		res, err := l.Resource()
		if err != nil {
			return err
		}
		out.item(restrictedOf(res, ups.list))
		return nil
	}
	props, err := a.scopedProperties(l)
	if err != nil {
		return err
	}
	out.raw(appendResource(out.scratch[:0], l, ups.encoded, props))
	return nil
}

// DefaultListStreamPage is the store page an unpaged list is streamed by:
// two are in memory at once (the one written, the next read).
const DefaultListStreamPage = 250

// listOptions reads the paging and filters of a list request; paged says
// the caller asked for a page.
func listOptions(r *http.Request) (lifecycle.ListOptions, bool, error) {
	q := r.URL.Query()
	opts := lifecycle.ListOptions{Continuation: q.Get("continuation"), TemplateName: q.Get("templateName"),
		DeploymentStatus: tre.Status(q.Get("deploymentStatus"))}
	size := q.Get("pageSize")
	if size == "" {
		if opts.Continuation != "" {
			return opts, false, tre.FieldErrorf(tre.CodeInvalid, "continuation", "continuation goes with pageSize")
		}
		return opts, false, nil
	}
	n, err := strconv.Atoi(size)
	if err != nil || n < 1 || n > lifecycle.MaxPageSize {
		return opts, false, tre.FieldErrorf(tre.CodeInvalid, "pageSize", "pageSize must be a number from 1 to %d, not %q", lifecycle.MaxPageSize, size)
	}
	opts.PageSize = n
	return opts, true, nil
}

func (a *API) createResource(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ref, err := refOf(f, r, false)
		if err != nil {
			return err
		}
		var body createBody
		if err := a.decodeJSON(w, r, &body, true); err != nil {
			return err
		}
		_, op, err := a.Resources.Create(r.Context(), lifecycle.CreateRequest{
			Type: f.typ, WorkspaceID: ref.WorkspaceID, ServiceID: ref.ServiceID, TemplateName: body.TemplateName,
			Properties: body.Properties, User: userOf(r.Context()), Roles: callerRoles(r),
		})
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusAccepted, op)
		return nil
	}
}

// writeOperation answers with {"operation": …} and the Location of the
// operation, as AzureTRE does for every asynchronous mutation.
func writeOperation(w http.ResponseWriter, r *http.Request, status int, op *tre.Operation) {
	annotate(r, "operation_id", op.ID, "resource_id", op.ResourceID)
	w.Header().Set("Location", "/api"+op.ResourcePath+"/operations/"+op.ID)
	writeJSON(w, status, map[string]any{"operation": operationOf(op)})
}

// getResource answers one resource as a list answers each: copied from
// its stored form (appendResource), or restricted.
func (a *API) getResource(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ref, err := refOf(f, r, true)
		if err != nil {
			return err
		}
		l, err := a.Resources.Find(r.Context(), ref)
		if err != nil {
			return err
		}
		if err := checkOwnership(f, r, l.Header()); err != nil {
			return err
		}
		out := newStream(w, f.single)
		out.object = true
		if err := a.listItem(f, r, l, out); err != nil {
			return err
		}
		out.end("")
		return nil
	}
}

func (a *API) patchResource(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := a.load(f, r); err != nil {
			return err
		}
		etag, ifMatch := r.Header.Get("If-Match"), true
		if etag == "" {
			etag, ifMatch = r.Header.Get("etag"), false
		}
		if etag == "" {
			return tre.FieldErrorf(tre.CodePreconditionRequired, "If-Match",
				"Send the resource's _etag in an If-Match header (or in AzureTRE's etag header) to update it")
		}
		force, err := queryBool(r, "force_version_update")
		if err != nil {
			return err
		}
		var body patchBody
		if err := a.decodeJSON(w, r, &body, true); err != nil {
			return err
		}
		ref, _ := refOf(f, r, true)
		op, err := a.Resources.Patch(r.Context(), lifecycle.PatchRequest{
			Ref: ref, IsEnabled: body.IsEnabled, Properties: body.Properties, TemplateVersion: body.TemplateVersion,
			ETag: etag, IfMatch: ifMatch, Force: force, User: userOf(r.Context()),
		})
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusAccepted, op)
		return nil
	}
}

func (a *API) deleteResource(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := a.load(f, r); err != nil {
			return err
		}
		ref, _ := refOf(f, r, true)
		op, err := a.Resources.Delete(r.Context(), ref, userOf(r.Context()))
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusOK, op)
		return nil
	}
}

func (a *API) invokeAction(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := a.load(f, r); err != nil {
			return err
		}
		action := r.URL.Query().Get("action")
		if action == "" {
			return tre.FieldErrorf(tre.CodeInvalid, "action", "The query parameter action is required: the name of a custom action of the resource's template")
		}
		ref, _ := refOf(f, r, true)
		op, err := a.Resources.InvokeAction(r.Context(), ref, action, userOf(r.Context()))
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusAccepted, op)
		return nil
	}
}

func (a *API) listOperations(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := a.loadRecords(f, r)
		if err != nil {
			return err
		}
		ops, err := a.Operations.Operations(r.Context(), res)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"operations": operationsOf(ops)})
		return nil
	}
}

func (a *API) getOperation(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := a.loadRecords(f, r)
		if err != nil {
			return err
		}
		op, err := a.Operations.Operation(r.Context(), res, r.PathValue("operation_id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"operation": operationOf(op)})
		return nil
	}
}

func (a *API) history(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := a.loadRecords(f, r)
		if err != nil {
			return err
		}
		items, err := a.Resources.History(r.Context(), res)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource_history": historyOf(items)})
		return nil
	}
}

// workspaceRoutes are the workspace-scoped routes that are not the
// resource families: template lists, users and roles, scope id, and the
// caller's operations.
func (a *API) workspaceRoutes() []Route {
	ws := "/api/workspaces/{workspace_id}"
	return []Route{
		{Method: "GET", Pattern: "/api/operations", Access: treUserOrAdmin, Status: 200, Summary: "List my operations in progress", Handle: a.myOperations},
		{Method: "GET", Pattern: ws + "/scopeid", Access: treUserOrAdmin, Status: 200, Summary: "The scope to request tokens for (AzureTRE clients)", Handle: a.scopeID},
		{Method: "GET", Pattern: ws + "/workspace-service-templates", Access: wsAll, Status: 200, Summary: "Workspace service templates the caller may use here", Handle: a.workspaceTemplates(false)},
		{Method: "GET", Pattern: ws + "/workspace-service-templates/{service_template_name}/user-resource-templates", Access: wsAll, Status: 200, Summary: "User resource templates the caller may use here", Handle: a.workspaceTemplates(true)},
		{Method: "GET", Pattern: ws + "/users", Access: wsAll, Status: 200, Summary: "Users with roles in the workspace", Handle: a.workspaceUsers},
		{Method: "GET", Pattern: ws + "/roles", Access: treAdmin, Status: 200, Summary: "Roles that can be assigned in a workspace", Handle: a.workspaceRoleList},
		{Method: "POST", Pattern: ws + "/users/assign", Access: treAdmin, Status: 202, Request: assignBody{}, Summary: "Assign a role to users", Handle: a.assign},
		{Method: "DELETE", Pattern: ws + "/users/assign", Access: treAdmin, Status: 202, Summary: "Remove a role from a user (?user_id=&role_id=)", Handle: a.unassign},
	}
}

func (a *API) myOperations(w http.ResponseWriter, r *http.Request) error {
	ops, err := a.Operations.MyOperations(r.Context(), userOf(r.Context()).ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"operations": operationsOf(ops)})
	return nil
}

func (a *API) workspaceOf(r *http.Request) (*tre.Resource, error) {
	wid := r.PathValue("workspace_id")
	if err := lifecycle.CheckID("workspace_id", wid); err != nil {
		return nil, err
	}
	return a.Resources.Get(r.Context(), lifecycle.WorkspaceRef(wid))
}

// scopeID answers AzureTRE clients that ask for a workspace's token scope:
// its scope_id property, as AzureTRE answers, which is the API's own scope
// (workspaces have no app registration of their own here).
func (a *API) scopeID(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	scope, _ := a.withScopeID(ws.Properties)["scope_id"].(string)
	writeJSON(w, http.StatusOK, map[string]any{"workspaceAuth": map[string]string{"scopeId": scope}})
	return nil
}

func (a *API) workspaceTemplates(userResources bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ws, err := a.workspaceOf(r)
		if err != nil {
			return err
		}
		allowed, err := a.Catalogs.Get(r.Context(), ws.ID)
		if err != nil {
			return err
		}
		k := registry.Kind{Type: tre.TypeWorkspaceService}
		if userResources {
			k = registry.Kind{Type: tre.TypeUserResource, Parent: r.PathValue("service_template_name")}
		}
		list, err := a.Registry.List(r.Context(), k)
		if err != nil {
			return err
		}
		roles := callerRoles(r)
		infos := make([]registry.Info, 0, len(list))
		for _, t := range list {
			if registry.Authorized(t, roles) && allowed.Allows(t) {
				infos = append(infos, registry.InfoOf(t))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"templates": infos})
		return nil
	}
}

func (a *API) workspaceUsers(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	users, err := a.Assignments.Users(r.Context(), ws.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": usersOf(users)})
	return nil
}

func (a *API) workspaceRoleList(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.workspaceOf(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": rolesOf(assignment.WorkspaceRoles())})
	return nil
}

// assignBody is AzureTRE's role assignment body; role_id is the role name.
type assignBody struct {
	RoleID  string   `json:"role_id"`
	UserIDs []string `json:"user_ids"`
}

func (a *API) assign(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	var body assignBody
	if err := a.decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	if err := a.Assignments.Assign(r.Context(), ws.ID, body.RoleID, body.UserIDs, userOf(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, body)
	return nil
}

func (a *API) unassign(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	userID, roleID := q.Get("user_id"), q.Get("role_id")
	if err := a.Assignments.Unassign(r.Context(), ws.ID, userID, roleID, userOf(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, assignBody{RoleID: roleID, UserIDs: []string{userID}})
	return nil
}
