package assignment_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// workspaces has one workspace.
type workspaces struct{ id string }

func (w workspaces) Get(_ context.Context, ref lifecycle.Ref) (*tre.Resource, error) {
	if ref.Type != tre.TypeWorkspace || ref.ID != w.id {
		return nil, tre.Errorf(tre.CodeNotFound, "Workspace does not exist")
	}
	return &tre.Resource{ID: w.id, ResourceType: tre.TypeWorkspace}, nil
}

var (
	admin = tre.User{ID: "admin-1", Name: "admin", Roles: []string{"TREAdmin"}}
	owner = tre.User{ID: "owner-1", Name: "owner", Roles: []string{"TREUser"}}
)

func TestWorkspaceRoles(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	ws := "5a1e7c47-7a2f-4c8e-9a3d-0d7f1f0b8a11"
	s := assignment.New(st, workspaces{ws}, assignment.Options{})

	require.NoError(t, s.Assign(ctx, ws, "WorkspaceOwner", []string{owner.ID}, admin))
	require.NoError(t, s.Assign(ctx, ws, "WorkspaceOwner", []string{owner.ID}, admin), "idempotent")
	require.NoError(t, s.Assign(ctx, ws, "AirlockManager", []string{owner.ID, "other"}, admin))
	roles, err := s.RolesOf(ctx, ws, owner.ID)
	require.NoError(t, err)
	require.ElementsMatch(t, []tre.Role{tre.RoleWorkspaceOwner, tre.RoleAirlockManager}, roles)
	users, err := s.Users(ctx, ws)
	require.NoError(t, err)
	require.Len(t, users, 2)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(s.Assign(ctx, ws, "TREAdmin", []string{"x"}, admin)))
	require.NoError(t, s.Unassign(ctx, ws, owner.ID, "AirlockManager", admin))
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(s.Unassign(ctx, ws, owner.ID, "AirlockManager", admin)))
	_, err = s.RolesOf(ctx, "not-a-uuid", owner.ID)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	_, err = s.RolesOf(ctx, "00000000-0000-0000-0000-000000000000", owner.ID)
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	mine, err := s.WorkspacesOf(ctx, owner.ID)
	require.NoError(t, err)
	require.True(t, mine[ws])
	require.False(t, strings.Contains(users[0].ID, " "))
}

// The user a workspace's workspace_owner_object_id names is its owner from
// creation, without an assignment, as in AzureTRE.
func TestOwnerProperty(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	ws := &tre.Resource{ID: "0b6d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4", ResourceType: tre.TypeWorkspace, DeploymentStatus: tre.StatusDeployed,
		Properties: map[string]any{assignment.OwnerProperty: owner.ID}}
	_, err = tre.CreateAs(ctx, st, tre.Resources, ws.ID, ws)
	require.NoError(t, err)
	s := assignment.New(st, owned{ws}, assignment.Options{})

	roles, err := s.RolesOf(ctx, ws.ID, owner.ID)
	require.NoError(t, err)
	require.Equal(t, []tre.Role{tre.RoleWorkspaceOwner}, roles)
	roles, err = s.RolesOf(ctx, ws.ID, "someone-else")
	require.NoError(t, err)
	require.Empty(t, roles)
	mine, err := s.WorkspacesOf(ctx, owner.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{ws.ID: true}, mine)

	// An assignment besides the property is listed once.
	require.NoError(t, s.Assign(ctx, ws.ID, "WorkspaceOwner", []string{owner.ID}, admin))
	users, err := s.Users(ctx, ws.ID)
	require.NoError(t, err)
	require.Len(t, users, 1)
	require.Equal(t, owner.ID, users[0].ID)
	require.Equal(t, []assignment.RoleInfo{{ID: "WorkspaceOwner", DisplayName: "Workspace Owner"}}, users[0].Roles)

	// The property's owner cannot be unassigned: the property decides.
	err = s.Unassign(ctx, ws.ID, owner.ID, "WorkspaceOwner", admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), assignment.OwnerProperty)
	roles, err = s.RolesOf(ctx, ws.ID, owner.ID)
	require.NoError(t, err)
	require.Equal(t, []tre.Role{tre.RoleWorkspaceOwner}, roles)
}

// owned serves one stored workspace.
type owned struct{ ws *tre.Resource }

func (o owned) Get(_ context.Context, ref lifecycle.Ref) (*tre.Resource, error) {
	if ref.ID != o.ws.ID {
		return nil, tre.Errorf(tre.CodeNotFound, "Workspace does not exist")
	}
	return o.ws, nil
}
