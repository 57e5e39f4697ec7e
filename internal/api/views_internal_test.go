package api

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// TestListedAnswerIsResourceOf: a list answers each resource from its
// stored members (appendResource); the answer must be resourceOf's, for
// every kind of resource and of stored value, bookkeeping left out.
func TestListedAnswerIsResourceOf(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	user := tre.User{ID: "u-1", Name: "Ada <a@b>", Email: "ada@example.org", Roles: []string{"TREAdmin"}}
	resources := []*tre.Resource{
		{ID: "ws-plain", TemplateName: "base", TemplateVersion: "1.0.0", ResourceType: tre.TypeWorkspace, DeploymentStatus: tre.StatusDeployed,
			IsEnabled: true, ResourcePath: "/workspaces/ws-plain", ResourceVersion: 3, User: user, UpdatedWhen: 1796464311.2578,
			Properties: map[string]any{"display_name": "Plain", "n": 3.0, "big": 1e21, "small": 0.000001, "neg": -7.5, "t": true,
				"nested": map[string]any{"z": []any{1.0, "two", nil, map[string]any{}}, "a": "é ü \u2028 <tag> & \"quoted\" \\ \t"}}},
		{ID: "ws-bookkeeping", TemplateName: "base", TemplateVersion: "1.0.0", ResourceType: tre.TypeWorkspace,
			DeploymentStatus: tre.StatusAwaitingDeployment, ResourcePath: "/workspaces/ws-bookkeeping", User: user,
			Properties:      map[string]any{"client_secret": tre.Redacted},
			SecretRefs:      map[string]string{"/client_secret": "r-ws-bookkeeping-1"},
			LastOperationID: "op-1", LastStepID: "step-1"},
		{ID: "ws-empty", ResourceType: tre.TypeWorkspace},
		{ID: "ws-no-props", ResourceType: tre.TypeWorkspace, Properties: map[string]any{}},
		{ID: "ws-scoped", ResourceType: tre.TypeWorkspace, Properties: map[string]any{"scope_id": "api://its-own", "n": map[string]any{"scope_id": 1.0}}},
		{ID: "svc-1", TemplateName: "svc", TemplateVersion: "2.1.0", ResourceType: tre.TypeWorkspaceService, WorkspaceID: "ws-plain",
			DeploymentStatus: tre.StatusDeploying, IsEnabled: true, ResourcePath: "/workspaces/ws-plain/workspace-services/svc-1", User: user},
		{ID: "ur-1", TemplateName: "vm", TemplateVersion: "1.0.0", ResourceType: tre.TypeUserResource, WorkspaceID: "ws-plain",
			ParentWorkspaceServiceID: "svc-1", OwnerID: "u-2", DeploymentStatus: tre.StatusDeployed,
			ResourcePath: "/workspaces/ws-plain/workspace-services/svc-1/user-resources/ur-1", User: user},
		{ID: "ss-1", TemplateName: "firewall", TemplateVersion: "1.0.0", ResourceType: tre.TypeSharedService, DeploymentStatus: tre.StatusDeployed,
			ResourcePath: "/shared-services/ss-1", User: tre.User{}},
	}
	for _, r := range resources {
		_, err := tre.CreateAs(ctx, st, tre.Resources, r.ID, r)
		require.NoError(t, err)
	}
	svc := lifecycle.New(st, registry.New(st, nil), nil, nil, lifecycle.Config{}, lifecycle.Options{})
	refs := []lifecycle.Ref{{Type: tre.TypeWorkspace}, {Type: tre.TypeSharedService},
		{Type: tre.TypeWorkspaceService, WorkspaceID: "ws-plain"}, {Type: tre.TypeUserResource, WorkspaceID: "ws-plain", ServiceID: "svc-1"}}
	a := &API{Metadata: Metadata{APIRootScope: "api://tre-api/user_impersonation"}}
	seen := 0
	for _, ref := range refs {
		page, err := svc.ListPage(ctx, ref, lifecycle.ListOptions{PageSize: 100})
		require.NoError(t, err)
		listed, err := page.Resources()
		require.NoError(t, err)
		for _, l := range listed {
			full, err := l.Resource()
			require.NoError(t, err)
			for _, ups := range [][]tre.AvailableUpgrade{nil, {{Version: "1.1.0"}, {Version: "2.0.0", ForceUpdateRequired: true}}} {
				want, err := json.Marshal(resourceOf(full, ups))
				require.NoError(t, err)
				encoded, err := json.Marshal(upgradesOf(ups))
				require.NoError(t, err)
				got := appendResource(nil, l, encoded, nil)
				require.True(t, json.Valid(got), "%s", got)
				require.JSONEq(t, string(want), string(got), l.ID)
				require.Equal(t, string(want), string(got), "%s: the same bytes, as encoding/json writes them", l.ID)
			}
			// A workspace's answer carries scope_id (withScopeID).
			props, err := a.scopedProperties(l)
			require.NoError(t, err)
			want := resourceOf(full, nil)
			if full.ResourceType == tre.TypeWorkspace {
				_, stored := want.Properties["scope_id"]
				want.Properties = a.withScopeID(want.Properties)
				require.Equal(t, stored, props == nil, "%s: the stored properties answer when they have scope_id", l.ID)
			}
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			require.Equal(t, string(wantJSON), string(appendResource(nil, l, nil, props)), "%s with scope_id", l.ID)
			seen++
		}
	}
	require.Equal(t, len(resources), seen, "every kind of resource was compared")
}

// appendResource keeps the stored value of each answer field in an array
// of maxResourceFields.
func TestResourceFieldsFitTheirArray(t *testing.T) {
	require.LessOrEqual(t, len(resourceFields), maxResourceFields)
	for name, i := range resourceFieldIndex {
		require.Equal(t, name, resourceFields[i].name)
	}
	for name := range typedFields {
		i, ok := resourceFieldIndex[name]
		require.True(t, ok, "typed field %s is no field of Resource", name)
		require.Same(t, typedFields[name], resourceFields[i].typed)
	}
}
