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
