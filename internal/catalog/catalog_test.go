package catalog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/catalog"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func TestCatalogue(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s := catalog.New(st, catalog.Options{})
	const ws = "11111111-1111-4111-8111-111111111111"
	tmpl := func(typ tre.ResourceType, name, parent, version string) *tre.Template {
		return &tre.Template{ResourceType: typ, Name: name, ParentWorkspaceService: parent, Version: version}
	}

	// No catalogue: everything is allowed.
	require.NoError(t, s.Allowed(ctx, ws, tmpl(tre.TypeWorkspaceService, "svc", "", "1.0.0")))

	_, err = s.Put(ctx, ws, []catalog.Entry{{ResourceType: "workspace", Name: ""}, {ResourceType: tre.TypeUserResource, Name: "vm"},
		{ResourceType: tre.TypeWorkspaceService, Name: "svc", Versions: []string{"~1"}}}, tre.User{})
	require.True(t, tre.IsCode(err, tre.CodeInvalid))
	for _, f := range []string{"templates[0].resourceType", "templates[0].name", "templates[1].parentWorkspaceService", "templates[2].versions[0]"} {
		require.Contains(t, tre.ErrorMessage(err), f)
	}

	c, err := s.Put(ctx, ws, []catalog.Entry{
		{ResourceType: tre.TypeWorkspaceService, Name: "svc", Versions: []string{">=1.0.0 <2.0.0", "2.1.0"}},
		{ResourceType: tre.TypeUserResource, Name: "vm", Parent: "svc"},
	}, tre.User{ID: "owner"})
	require.NoError(t, err)
	require.Equal(t, ws, c.WorkspaceID)
	for _, ok := range []*tre.Template{tmpl(tre.TypeWorkspaceService, "svc", "", "1.9.0"), tmpl(tre.TypeWorkspaceService, "svc", "", "2.1.0"),
		tmpl(tre.TypeUserResource, "vm", "svc", "9.0.0"), tmpl(tre.TypeWorkspace, "anything", "", "1.0.0")} {
		require.NoError(t, s.Allowed(ctx, ws, ok), ok.Name+" "+ok.Version)
	}
	for _, no := range []*tre.Template{tmpl(tre.TypeWorkspaceService, "svc", "", "2.0.0"), tmpl(tre.TypeWorkspaceService, "other", "", "1.0.0"),
		tmpl(tre.TypeUserResource, "vm", "other-svc", "1.0.0")} {
		err := s.Allowed(ctx, ws, no)
		require.True(t, tre.IsCode(err, tre.CodeForbidden), no.Name+" "+no.Version)
		require.Contains(t, tre.ErrorMessage(err), no.Name+" version "+no.Version+" is not allowed in workspace "+ws)
	}
	// Replaced, then removed.
	_, err = s.Put(ctx, ws, nil, tre.User{})
	require.NoError(t, err)
	require.Error(t, s.Allowed(ctx, ws, tmpl(tre.TypeWorkspaceService, "svc", "", "1.0.0")), "an empty catalogue allows nothing")
	require.NoError(t, s.Delete(ctx, ws, tre.User{}))
	require.NoError(t, s.Allowed(ctx, ws, tmpl(tre.TypeWorkspaceService, "other", "", "1.0.0")))
	require.True(t, tre.IsCode(s.Delete(ctx, ws, tre.User{}), tre.CodeNotFound))
}
