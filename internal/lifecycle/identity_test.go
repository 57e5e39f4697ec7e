package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// A workspace carries what AzureTRE's CLI and UI read to call the API for
// it: scope_id (this API's scope, whatever the bundle reports) and
// client_id; templates that declare auth_type get register_aad_application,
// and one that is not Automatic needs a client_id, with AzureTRE's text.
func TestWorkspaceIdentity(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.ClientID, f.svc.cfg.ScopeID = "api-app-id", "api://api-app-id"
	f.register(registry.Kind{Type: tre.TypeWorkspace}, "aad-ws", "1.0.0", schemaOf("AAD workspace", map[string]any{
		"auth_type": map[string]any{"type": "string", "enum": []any{"Automatic", "Manual"}, "default": "Automatic"},
		"client_id": map[string]any{"type": "string"},
	}, nil))
	ctx := context.Background()
	create := func(props map[string]any) (*tre.Resource, *tre.Operation, error) {
		props["display_name"], props["description"] = "W", "d"
		return f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "aad-ws", Properties: props, User: admin})
	}

	_, _, err := create(map[string]any{"auth_type": "Manual"})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.Equal(t, ClientIDMessage, tre.ErrorMessage(err))
	var te *tre.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, "properties.client_id", te.Field)

	r, op, err := create(map[string]any{})
	require.NoError(t, err)
	require.Equal(t, true, r.Properties["register_aad_application"], "auth_type defaults to Automatic")
	require.Equal(t, "api-app-id", r.Properties["client_id"])
	require.Equal(t, "api://api-app-id", r.Properties["scope_id"])
	require.Equal(t, admin.ID, r.Properties["workspace_owner_object_id"])

	// The bundle's application does not take over the scope clients use.
	cur := f.operation(op.ID)
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeployed, tre.Output{Name: "scope_id", Value: "api://ws-app", Type: "string"},
		tre.Output{Name: "client_id", Value: "ws-app", Type: "string"})
	require.Len(t, cur.Steps, 1)
	got := f.resource(r.ID)
	require.Equal(t, "api://api-app-id", got.Properties["scope_id"])
	require.Equal(t, "api://ws-app", got.Properties["workspace_app_scope_id"])
	require.Equal(t, "ws-app", got.Properties["client_id"], "the workspace's application, as AzureTRE keeps it")

	r, _, err = create(map[string]any{"auth_type": "Manual", "client_id": "mine"})
	require.NoError(t, err)
	require.Equal(t, false, r.Properties["register_aad_application"])
	require.Equal(t, "mine", r.Properties["client_id"])
	require.Equal(t, "api://api-app-id", r.Properties["scope_id"])
}
