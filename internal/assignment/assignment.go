// Package assignment keeps the workspace roles: which users hold
// WorkspaceOwner, WorkspaceResearcher or AirlockManager in which workspace,
// as assignments in the store that TRE admins make and remove. They replace
// AzureTRE's per-workspace app registrations: a user's roles in a workspace
// no longer come from a workspace-specific token.
//
// As in AzureTRE, the user named by a workspace's workspace_owner_object_id
// property (by default the admin who created it) is its WorkspaceOwner from
// creation, without an assignment: that role follows the property, and is
// listed with the others.
package assignment

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Workspaces finds the workspaces assignments are made in;
// *lifecycle.Service implements it.
type Workspaces interface {
	// Get loads an active resource. Returns CodeNotFound with AzureTRE's
	// text.
	Get(ctx context.Context, ref lifecycle.Ref) (*tre.Resource, error)
}

// Service manages the assignments.
type Service struct {
	store      tre.Store
	workspaces Workspaces
	log        *slog.Logger
	now        func() time.Time
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
}

// New returns the service over store's WorkspaceUsers collection.
func New(store tre.Store, workspaces Workspaces, opt Options) *Service {
	s := &Service{store: store, workspaces: workspaces, log: opt.Log, now: opt.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// grant is one stored assignment: one document per user, workspace and
// role.
type grant struct {
	ID           string   `json:"id"`
	WorkspaceID  string   `json:"workspaceId"`
	UserID       string   `json:"userId"`
	Role         tre.Role `json:"role"`
	AssignedWhen float64  `json:"assignedWhen"`
	AssignedBy   string   `json:"assignedBy"`
}

func grantID(workspaceID, userID string, role tre.Role) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:assignment:"+workspaceID+"/"+userID+"/"+string(role))).String()
}

// RoleInfo is one assignable role: its id (the role name) and a name for
// people.
type RoleInfo struct {
	ID          string
	DisplayName string
}

// WorkspaceRoles lists the roles that can be assigned in a workspace.
func WorkspaceRoles() []RoleInfo {
	return []RoleInfo{
		{ID: string(tre.RoleWorkspaceOwner), DisplayName: "Workspace Owner"},
		{ID: string(tre.RoleWorkspaceResearcher), DisplayName: "Workspace Researcher"},
		{ID: string(tre.RoleAirlockManager), DisplayName: "Airlock Manager"},
	}
}

func roleInfo(r tre.Role) RoleInfo {
	for _, ri := range WorkspaceRoles() {
		if ri.ID == string(r) {
			return ri
		}
	}
	return RoleInfo{ID: string(r), DisplayName: string(r)}
}

// WorkspaceUser is a user with roles in a workspace.
type WorkspaceUser struct {
	ID                string
	DisplayName       string
	UserPrincipalName string
	Roles             []RoleInfo
}

var userIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`) })

// RolesOf returns a user's roles in a workspace. Returns CodeInvalid for a
// malformed workspace id, CodeNotFound if the workspace does not exist.
func (s *Service) RolesOf(ctx context.Context, workspaceID, userID string) ([]tre.Role, error) {
	if err := lifecycle.CheckID("workspace_id", workspaceID); err != nil {
		return nil, err
	}
	ws, err := s.workspaces.Get(ctx, lifecycle.WorkspaceRef(workspaceID))
	if err != nil {
		return nil, err
	}
	list, err := tre.QueryAs[grant](ctx, s.store, tre.WorkspaceUsers, tre.Query{Where: []tre.Cond{
		tre.Eq("workspaceId", workspaceID), tre.Eq("userId", userID),
	}})
	if err != nil {
		return nil, fmt.Errorf("assignment: roles of %s in %s: %w", userID, workspaceID, err)
	}
	var roles []tre.Role
	if userID != "" && ownerOf(ws) == userID {
		roles = append(roles, tre.RoleWorkspaceOwner)
	}
	for _, a := range list {
		if !slices.Contains(roles, a.Role) {
			roles = append(roles, a.Role)
		}
	}
	return roles, nil
}

// OwnerProperty is the workspace property naming its owner (AzureTRE's).
const OwnerProperty = "workspace_owner_object_id"

// ownerOf is the user id a workspace's owner property names ("" if none).
func ownerOf(ws *tre.Resource) string {
	id, _ := ws.Properties[OwnerProperty].(string)
	return id
}

// WorkspacesOf returns the ids of the workspaces where a user has a role.
func (s *Service) WorkspacesOf(ctx context.Context, userID string) (map[string]bool, error) {
	list, err := tre.QueryAs[grant](ctx, s.store, tre.WorkspaceUsers, tre.Query{Where: []tre.Cond{tre.Eq("userId", userID)}})
	if err != nil {
		return nil, fmt.Errorf("assignment: workspaces of %s: %w", userID, err)
	}
	out := map[string]bool{}
	for _, a := range list {
		out[a.WorkspaceID] = true
	}
	owned, err := tre.QueryAs[tre.Resource](ctx, s.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Eq("resourceType", string(tre.TypeWorkspace)), tre.Eq("properties."+OwnerProperty, userID),
		tre.Ne("deploymentStatus", string(tre.StatusDeleted)),
	}})
	if err != nil {
		return nil, fmt.Errorf("assignment: workspaces owned by %s: %w", userID, err)
	}
	for _, ws := range owned {
		out[ws.ID] = true
	}
	return out, nil
}

// Users lists the users with roles in a workspace. Returns CodeNotFound.
func (s *Service) Users(ctx context.Context, workspaceID string) ([]WorkspaceUser, error) {
	ws, err := s.workspaces.Get(ctx, lifecycle.WorkspaceRef(workspaceID))
	if err != nil {
		return nil, err
	}
	list, err := tre.QueryAs[grant](ctx, s.store, tre.WorkspaceUsers, tre.Query{Where: []tre.Cond{tre.Eq("workspaceId", workspaceID)}})
	if err != nil {
		return nil, fmt.Errorf("assignment: users of %s: %w", workspaceID, err)
	}
	if owner := ownerOf(ws); owner != "" {
		list = append(list, &grant{WorkspaceID: workspaceID, UserID: owner, Role: tre.RoleWorkspaceOwner})
	}
	byUser := map[string]*WorkspaceUser{}
	for _, a := range list {
		u := byUser[a.UserID]
		if u == nil {
			u = &WorkspaceUser{ID: a.UserID, DisplayName: a.UserID, UserPrincipalName: a.UserID, Roles: []RoleInfo{}}
			byUser[a.UserID] = u
		}
		if !slices.ContainsFunc(u.Roles, func(r RoleInfo) bool { return r.ID == string(a.Role) }) {
			u.Roles = append(u.Roles, roleInfo(a.Role))
		}
	}
	out := make([]WorkspaceUser, 0, len(byUser))
	for _, u := range byUser {
		sort.Slice(u.Roles, func(i, j int) bool { return u.Roles[i].ID < u.Roles[j].ID })
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func checkRole(roleID string) (tre.Role, error) {
	r := tre.Role(roleID)
	if !slices.Contains(tre.WorkspaceRoles, r) {
		return "", tre.FieldErrorf(tre.CodeInvalid, "role_id", "role_id %q is not a workspace role: WorkspaceOwner, WorkspaceResearcher or AirlockManager", roleID)
	}
	return r, nil
}

// MaxAssign is the most users one assignment may name: each is a write,
// and the request must finish well within the Functions host's timeout.
const MaxAssign = 100

// Assign gives users a role in a workspace; assigning a role a user has is
// not an error. Returns CodeInvalid, CodeNotFound.
func (s *Service) Assign(ctx context.Context, workspaceID, roleID string, userIDs []string, by tre.User) error {
	role, err := checkRole(roleID)
	if err != nil {
		return err
	}
	if len(userIDs) == 0 {
		return tre.FieldErrorf(tre.CodeInvalid, "user_ids", "user_ids must list at least one user id")
	}
	if len(userIDs) > MaxAssign {
		return tre.FieldErrorf(tre.CodeInvalid, "user_ids", "user_ids lists %d users, more than %d at once: assign them in several requests", len(userIDs), MaxAssign)
	}
	for i, u := range userIDs {
		if !userIDPattern().MatchString(u) {
			return tre.FieldErrorf(tre.CodeInvalid, fmt.Sprintf("user_ids[%d]", i), "%q is not a user id (the oid of the user)", u)
		}
	}
	if _, err := s.workspaces.Get(ctx, lifecycle.WorkspaceRef(workspaceID)); err != nil {
		return err
	}
	for _, u := range userIDs {
		a := grant{ID: grantID(workspaceID, u, role), WorkspaceID: workspaceID, UserID: u, Role: role,
			AssignedWhen: tre.Timestamp(s.now()), AssignedBy: by.ID}
		if _, err := tre.CreateAs(ctx, s.store, tre.WorkspaceUsers, a.ID, &a); err != nil && !tre.IsCode(err, tre.CodeConflict) {
			return fmt.Errorf("assignment: assign %s: %w", u, err)
		}
		s.log.InfoContext(ctx, "workspace role assigned", "workspace_id", workspaceID, "assignee_id", u, "role", role, "by", by.ID)
	}
	return nil
}

// Unassign removes a user's role in a workspace. Returns CodeInvalid,
// CodeNotFound (workspace, or the user does not have that role).
func (s *Service) Unassign(ctx context.Context, workspaceID, userID, roleID string, by tre.User) error {
	role, err := checkRole(roleID)
	if err != nil {
		return err
	}
	if !userIDPattern().MatchString(userID) {
		return tre.FieldErrorf(tre.CodeInvalid, "user_id", "%q is not a user id", userID)
	}
	ws, err := s.workspaces.Get(ctx, lifecycle.WorkspaceRef(workspaceID))
	if err != nil {
		return err
	}
	err = s.store.Delete(ctx, tre.WorkspaceUsers, grantID(workspaceID, userID, role), "")
	if role == tre.RoleWorkspaceOwner && ownerOf(ws) == userID {
		// An assignment made besides is gone; the owner the property
		// names stays one.
		return tre.Errorf(tre.CodeConflict, "User %s is this workspace's owner by its %s property; update the property to change the owner", userID, OwnerProperty)
	}
	if tre.IsCode(err, tre.CodeNotFound) {
		return tre.Errorf(tre.CodeNotFound, "User %s does not have the role %s in this workspace", userID, role)
	}
	if err != nil {
		return fmt.Errorf("assignment: unassign %s: %w", userID, err)
	}
	s.log.InfoContext(ctx, "workspace role unassigned", "workspace_id", workspaceID, "assignee_id", userID, "role", role, "by", by.ID)
	return nil
}
