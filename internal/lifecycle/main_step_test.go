package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// A main step with properties sets them on its own resource before the
// bundle runs, as AzureTRE does for azureml and health services (even
// properties that cannot be updated: it is the install); and a bundle gets
// the schema's default of each property the resource was created without,
// the stored properties staying as given.
func TestMainStepPropertiesAndSchemaDefaults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.register(registry.Kind{Type: tre.TypeWorkspaceService}, "ml-svc", "1.0.0", schemaOf("ML", map[string]any{
		"owners_group": map[string]any{"type": "string"},
		"model":        map[string]any{"type": "string", "default": "gpt-35-turbo | 0301"},
	}, map[string]any{"pipeline": map[string]any{
		"install": []any{map[string]any{"stepId": "main", "properties": []any{map[string]any{
			"name": "owners_group", "type": "string", "value": "{{ resource.parent.properties.workspace_id }}"}}}},
	}}))
	ws := f.deployedWorkspace()
	svc, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "ml-svc",
		Properties: map[string]any{"display_name": "ML", "description": "d"}, User: admin})
	require.NoError(t, err)
	require.Len(t, op.Steps, 1)

	got := f.resource(svc.ID)
	require.Equal(t, ws.Properties["workspace_id"], got.Properties["owners_group"], "set on the resource itself before its bundle runs")
	require.NotContains(t, got.Properties, "model", "the stored properties stay as given")
	reqs := f.sent.requests(t)
	last := reqs[len(reqs)-1]
	require.Equal(t, svc.ID, last.ID)
	require.Equal(t, ws.Properties["workspace_id"], last.Parameters["owners_group"])
	require.Equal(t, "gpt-35-turbo | 0301", last.Parameters["model"], "the bundle gets the schema's default")
}
