package schema_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

func TestSensitivePointers(t *testing.T) {
	tmpl := &tre.Template{Name: "x", Version: "1.0.0", ResourceType: tre.TypeWorkspaceService, Schema: map[string]any{
		"title": "t", "description": "d",
		"definitions": map[string]any{"cred": map[string]any{"type": "object", "properties": map[string]any{
			"user": map[string]any{"type": "string"}, "password": map[string]any{"type": "string", "sensitive": true}}}},
		"properties": map[string]any{
			"api_key": map[string]any{"type": "string", "sensitive": true},
			"db":      map[string]any{"$ref": "#/definitions/cred"},
			"extra":   map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/cred"}},
			"tokens":  map[string]any{"type": "array", "items": map[string]any{"type": "string", "sensitive": true}},
			"plain":   map[string]any{"type": "string"},
		},
		"allOf": []any{map[string]any{
			"if":   map[string]any{"properties": map[string]any{"mode": map[string]any{"const": "manual"}}},
			"then": map[string]any{"properties": map[string]any{"client_secret": map[string]any{"type": "string", "sensitive": true}}},
		}},
	}}
	v, err := schema.NewValidator(tmpl)
	require.NoError(t, err)
	got := v.SensitivePointers(map[string]any{
		"api_key": "k", "plain": "p", "client_secret": "s",
		"db":     map[string]any{"user": "u", "password": "pw"},
		"extra":  []any{map[string]any{"user": "a", "password": "1"}, map[string]any{"user": "b"}},
		"tokens": []any{"t0", "t1"},
	})
	require.Equal(t, []string{"/api_key", "/client_secret", "/db/password", "/extra/0/password", "/tokens/0", "/tokens/1"}, got)
}
