package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

var src = Source{
	Type: tre.TypeUserResource,
	Resource: map[string]any{"id": "ur-1", "properties": map[string]any{
		"display_name": "VM", "size": 4.0, "enabled": true, "tags": map[string]any{"a": "b"}, "ips": []any{"10.0.0.4"},
	}},
	Parent:      map[string]any{"id": "svc-1", "properties": map[string]any{"display_name": "Guac"}},
	GrandParent: map[string]any{"id": "ws-1", "properties": map[string]any{"address_space": "10.1.0.0/24"}},
}

func TestValue(t *testing.T) {
	for name, tc := range map[string]struct {
		in, want any
	}{
		"plain":              {"no tokens", "no tokens"},
		"whole token raw":    {"{{ resource.properties.size }}", 4.0},
		"whole token bool":   {"{{resource.properties.enabled}}", true},
		"spliced":            {"nrc_svc_{{ resource.id }}_x", "nrc_svc_ur-1_x"},
		"spliced number":     {"size-{{ resource.properties.size }}", "size-4"},
		"two tokens":         {"{{ resource.id }}/{{ resource.parent.id }}", "ur-1/svc-1"},
		"grandparent":        {"{{ resource.parent.parent.properties.address_space }}", "10.1.0.0/24"},
		"object replaces":    {"x {{ resource.properties.tags }} y", map[string]any{"a": "b"}},
		"array replaces":     {"{{ resource.properties.ips }}", []any{"10.0.0.4"}},
		"missing path empty": {"pre {{ resource.properties.nope }} post", ""},
		"missing deep":       {"{{ resource.properties.display_name.x }}", ""},
		"nested structures": {map[string]any{"name": "arc_{{ resource.id }}", "list": []any{"{{ resource.parent.id }}", 1.0}},
			map[string]any{"name": "arc_ur-1", "list": []any{"svc-1", 1.0}}},
		"non-string": {3.0, 3.0},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Value(tc.in, src)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := Value("{{ resource.parent.id }}", Source{Type: tre.TypeWorkspace, Resource: map[string]any{}})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.Contains(t, err.Error(), "parent is invalid for a resource of type 'workspace'")
	_, err = Value("{{ resource.parent.parent.id }}", Source{Type: tre.TypeWorkspaceService, Resource: map[string]any{}})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
}

func TestApplyArrays(t *testing.T) {
	current := map[string]any{"rule_collections": []any{
		map[string]any{"name": "a", "v": 1.0}, map[string]any{"name": "b", "v": 1.0},
	}}
	prop := func(action string, value any) []tre.PipelineStepProperty {
		return []tre.PipelineStepProperty{{Name: "rule_collections", Type: "array", ArraySubstitutionAction: action, ArrayMatchField: "name", Value: value}}
	}
	rule := func(name string, v float64) map[string]any { return map[string]any{"name": name, "v": v} }
	for name, tc := range map[string]struct {
		action string
		value  any
		want   []any
	}{
		"overwrite":       {"overwrite", rule("c", 2), []any{rule("c", 2)}},
		"append":          {"append", rule("c", 2), []any{rule("a", 1), rule("b", 1), rule("c", 2)}},
		"replace match":   {"replace", rule("b", 2), []any{rule("a", 1), rule("b", 2)}},
		"replace missing": {"replace", rule("c", 2), []any{rule("a", 1), rule("b", 1), rule("c", 2)}},
		"remove":          {"remove", rule("a", 9), []any{rule("b", 1)}},
		"remove missing":  {"remove", rule("z", 9), []any{rule("a", 1), rule("b", 1)}},
		"substituted":     {"replace", map[string]any{"name": "{{ resource.id }}", "v": 3.0}, []any{rule("a", 1), rule("b", 1), rule("ur-1", 3)}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Apply(prop(tc.action, tc.value), src, current)
			require.NoError(t, err)
			require.Equal(t, tc.want, got["rule_collections"])
			require.Len(t, current["rule_collections"], 2, "the target's current properties are not modified")
		})
	}
	got, err := Apply([]tre.PipelineStepProperty{{Name: "display_name", Type: "string", Value: "{{ resource.parent.properties.display_name }} VM"}}, src, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"display_name": "Guac VM"}, got)
}
