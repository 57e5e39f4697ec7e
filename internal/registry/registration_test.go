package registry_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// scriptPayload is what AzureTRE's register_bundle_with_api.sh posts for a
// workspace service: `porter explain -o json` with json_schema,
// resourceType and current (the string "true") added.
func scriptPayload(t *testing.T, edit func(map[string]any)) registry.Registration {
	t.Helper()
	b, err := os.ReadFile("testdata/script-payload.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	if edit != nil {
		edit(m)
	}
	b, err = json.Marshal(m)
	require.NoError(t, err)
	var reg registry.Registration
	require.NoError(t, json.Unmarshal(b, &reg))
	return reg
}

var service = registry.Kind{Type: tre.TypeWorkspaceService}

func TestRegisterWhatTheScriptSends(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	_, err := r.Register(ctx, service, reg("tre-service-example", "1.1.0", false), admin)
	require.NoError(t, err)

	got, err := r.Register(ctx, service, scriptPayload(t, nil), admin)
	require.NoError(t, err)
	require.True(t, got.Current, `current "true" makes the version current`)
	require.Equal(t, "1.2.0", currentVersion(t, r, service, "tre-service-example"))
	require.Equal(t, "Example Workspace Service", got.Title)
	require.Equal(t, []tre.CustomAction{{Name: "reset_password", Description: "Reset the password"}}, got.CustomActions)

	// The bundle's declaration is kept with the version...
	stored, err := r.Get(ctx, service, "tre-service-example", "1.2.0")
	require.NoError(t, err)
	d := stored.Bundle
	require.NotNil(t, d)
	require.Equal(t, []string{"exec", "terraform"}, d.Mixins)
	require.Equal(t, "A workspace service bundle, as porter explain describes it", d.Description)
	require.Equal(t, []tre.BundleParameter{
		{Name: "arm_use_msi", Type: "boolean", Default: false},
		{Name: "id", Type: "string", Description: "Resource ID", Required: true},
		{Name: "mgmt_resource_group_name", Type: "string", Required: true},
		{Name: "openid_client_secret", Type: "string", Default: "", ApplyTo: []string{"install", "upgrade"}, Sensitive: true},
		{Name: "workspace_id", Type: "string", Required: true},
	}, d.Parameters)
	require.Equal(t, []tre.BundleCredential{{Name: "azure_client_id", Required: true}, {Name: "azure_client_secret", Required: true}}, d.Credentials)
	require.Equal(t, []tre.BundleOutput{
		{Name: "connection_uri", Type: "string", ApplyTo: []string{"install", "upgrade"}},
		{Name: "is_exposed_externally", Type: "boolean"},
	}, d.Outputs)

	// ... and found by name and version, for the processor.
	found, err := r.Declaration(ctx, "tre-service-example", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, d, found)
	_, err = r.Declaration(ctx, "tre-service-example", "1.1.0")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err), "registered without a declaration")

	// ... but it is not part of AzureTRE's template response.
	view := registry.View(stored, false)
	for _, member := range []string{"bundle", "parameters", "credentials", "outputs", "mixins", "resourceType"} {
		if member == "resourceType" {
			require.Equal(t, tre.TypeWorkspaceService, view[member], "the API's resourceType, not the script's")
			continue
		}
		require.NotContains(t, view, member)
	}
}

// AzureTRE's ResourceTemplateInCreate is a pydantic model: current is
// coerced to a boolean from the forms pydantic accepts.
func TestRegisterCurrentAsPydanticCoercesIt(t *testing.T) {
	tests := []struct {
		value   any // nil: member left out
		current bool
		problem bool
	}{
		{true, true, false},
		{false, false, false},
		{"true", true, false},
		{"false", false, false},
		{"True", true, false},
		{" yes ", true, false},
		{"off", false, false},
		{float64(1), true, false},
		{float64(0), false, false},
		{nil, false, false},
		{"maybe", false, true},
		{float64(2), false, true},
		{[]any{true}, false, true},
	}
	for _, tt := range tests {
		name, _ := json.Marshal(tt.value)
		t.Run(string(name), func(t *testing.T) {
			ctx := context.Background()
			r, _ := newRegistry(t)
			_, err := r.Register(ctx, service, reg("tre-service-example", "1.0.0", false), admin)
			require.NoError(t, err)
			got, err := r.Register(ctx, service, scriptPayload(t, func(m map[string]any) {
				if tt.value == nil {
					delete(m, "current")
				} else {
					m["current"] = tt.value
				}
			}), admin)
			if tt.problem {
				require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
				var e *tre.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, "current", e.Field)
				require.Contains(t, e.Message, "current must be true or false")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.current, got.Current)
		})
	}
}

func TestRegisterResourceTypeMustMatchTheRoute(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	_, err := r.Register(ctx, service, reg("tre-service-example", "1.0.0", false), admin)
	require.NoError(t, err)
	for _, ok := range []string{"workspace_service", "workspace-service", ""} {
		_, err := r.Register(ctx, service, scriptPayload(t, func(m map[string]any) {
			m["resourceType"] = ok
			m["version"] = "1.2." + map[string]string{"workspace_service": "1", "workspace-service": "2", "": "3"}[ok]
		}), admin)
		require.NoError(t, err, ok)
	}
	_, err = r.Register(ctx, service, scriptPayload(t, func(m map[string]any) { m["resourceType"] = "shared_service" }), admin)
	var e *tre.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "resourceType", e.Field)
	require.Contains(t, e.Message, `resourceType "shared_service" does not match the route, which registers a workspace-service template (resourceType workspace_service)`)
}
