package lifecycle

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// denyList is a TemplatePolicy refusing the listed "name@version"s.
type denyList map[string]bool

func (d denyList) Allowed(_ context.Context, workspaceID string, t *tre.Template) error {
	if d[t.Name+"@"+t.Version] {
		return tre.Errorf(tre.CodeForbidden, "Template %s version %s is not allowed in workspace %s", t.Name, t.Version, workspaceID)
	}
	return nil
}

type endedOps struct {
	mu  sync.Mutex
	ops []tre.Operation
}

func (e *endedOps) OperationEnded(_ context.Context, op tre.Operation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ops = append(e.ops, op)
}

func TestCatalogueAndMinimumParentVersion(t *testing.T) {
	f := newFixture(t)
	deny := denyList{}
	ended := &endedOps{}
	f.svc.catalog, f.svc.outcomes = deny, ended
	ctx := context.Background()
	ws := f.deployedWorkspace()
	require.Len(t, ended.ops, 1, "the install's end is told")
	require.Equal(t, tre.StatusDeployed, ended.ops[0].Status)

	svcKind := registry.Kind{Type: tre.TypeWorkspaceService}
	s := schemaOf("Service", map[string]any{}, map[string]any{"minimumParentVersion": "2.0.0"})
	_, err := f.reg.Register(ctx, svcKind, registry.Registration{Name: "needs-ws2", Version: "1.0.0", Current: true, JSONSchema: s}, admin)
	require.NoError(t, err)
	create := func(name string) (*tre.Resource, *tre.Operation, error) {
		return f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: name,
			Properties: map[string]any{"display_name": "s", "description": "d"}, User: admin, Roles: admin.Roles})
	}

	// Below the minimum parent version: 400 naming both versions.
	_, _, err = create("needs-ws2")
	require.True(t, tre.IsCode(err, tre.CodeInvalid), err)
	require.Contains(t, tre.ErrorMessage(err), "needs its parent's template at version 2.0.0 or later")
	require.Contains(t, tre.ErrorMessage(err), "is at version 1.0.0")

	// The catalogue refuses a template: 403 naming it.
	deny["plain-svc@1.0.0"] = true
	_, _, err = create("plain-svc")
	require.True(t, tre.IsCode(err, tre.CodeForbidden), err)
	require.Contains(t, tre.ErrorMessage(err), "plain-svc version 1.0.0 is not allowed in workspace "+ws.ID)
	delete(deny, "plain-svc@1.0.0")
	svc, op, err := create("plain-svc")
	require.NoError(t, err)
	f.complete(op)

	// Upgrades: refused to a version the catalogue refuses, or whose
	// minimum parent version the workspace is below.
	f.register(svcKind, "plain-svc", "1.1.0", schemaOf("Plain", map[string]any{}, nil))
	f.register(svcKind, "plain-svc", "1.2.0", schemaOf("Plain", map[string]any{}, map[string]any{"minimumParentVersion": "1.5.0"}))
	deny["plain-svc@1.1.0"] = true
	svc = f.resource(svc.ID)
	patch := func(version string) error {
		cur := f.resource(svc.ID)
		_, err := f.svc.Patch(ctx, PatchRequest{Ref: Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, ID: svc.ID},
			TemplateVersion: &version, ETag: cur.ETag, IfMatch: true, User: admin})
		return err
	}
	err = patch("1.1.0")
	require.True(t, tre.IsCode(err, tre.CodeForbidden), err)
	err = patch("1.2.0")
	require.True(t, tre.IsCode(err, tre.CodeInvalid), err)
	require.Contains(t, tre.ErrorMessage(err), "Template plain-svc version 1.2.0 needs its parent's template at version 1.5.0 or later")
	_, err = f.svc.CheckUpgrade(ctx, svc, "1.2.0", false)
	require.True(t, tre.IsCode(err, tre.CodeInvalid))

	// With the parent upgraded, both pass.
	f.register(registry.Kind{Type: tre.TypeWorkspace}, "ws", "1.5.0", schemaOf("Workspace", map[string]any{
		"address_space_size": map[string]any{"type": "string"}, "address_space": map[string]any{"type": "string"},
		"client_secret": map[string]any{"type": "string", "sensitive": true, "updateable": true}, "size": map[string]any{"type": "string"},
	}, nil))
	v := "1.5.0"
	wop, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), TemplateVersion: &v, ETag: f.resource(ws.ID).ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	f.complete(wop)
	require.NoError(t, patch("1.2.0"))
}
