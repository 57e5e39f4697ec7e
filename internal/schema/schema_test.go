package schema_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

func load(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	m, err := schema.FromJSON(b)
	require.NoError(t, err)
	return m
}

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	e, ok := err.(*tre.Error)
	require.True(t, ok, "want *tre.Error, got %T", err)
	require.Equal(t, tre.CodeInvalid, e.Code)
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCheck(t *testing.T) {
	good := schema.Normalize(load(t, "workspace_base.json"))
	require.NoError(t, schema.Check(tre.TypeWorkspace, good))
	require.NotContains(t, good, "$schema")
	require.NotContains(t, good, "$id")

	broken := func(mutate func(s map[string]any)) map[string]any {
		s := schema.DeepCopy(good)
		mutate(s)
		return s
	}
	for name, tc := range map[string]struct {
		schema map[string]any
		field  string
	}{
		"bad type keyword": {broken(func(s map[string]any) {
			s["properties"].(map[string]any)["auth_type"].(map[string]any)["type"] = "strin"
		}), "json_schema"},
		"no title":            {broken(func(s map[string]any) { delete(s, "title") }), "json_schema.title"},
		"no description":      {broken(func(s map[string]any) { s["description"] = " " }), "json_schema.description"},
		"array type":          {broken(func(s map[string]any) { s["type"] = "array" }), "json_schema.type"},
		"properties is array": {broken(func(s map[string]any) { s["properties"] = []any{} }), "json_schema.properties"},
		"property not object": {broken(func(s map[string]any) { s["properties"].(map[string]any)["x"] = "string" }), "json_schema.properties.x"},
		"required undefined":  {broken(func(s map[string]any) { s["required"] = []any{"nope"} }), "json_schema.required"},
		"remote ref": {broken(func(s map[string]any) {
			s["properties"].(map[string]any)["r"] = map[string]any{"$ref": "http://169.254.169.254/latest"}
		}), "json_schema"},
		"roles not strings": {broken(func(s map[string]any) { s["authorizedRoles"] = []any{1} }), "json_schema.authorizedRoles"},
		"bad pattern": {broken(func(s map[string]any) {
			s["properties"].(map[string]any)["auth_type"].(map[string]any)["minLength"] = -1
		}), "json_schema"},
	} {
		t.Run(name, func(t *testing.T) {
			err := schema.Check(tre.TypeWorkspace, tc.schema)
			require.Contains(t, fieldsOf(t, err), tc.field, "err: %v", err)
		})
	}
}

func TestEnriched(t *testing.T) {
	s := schema.Normalize(load(t, "workspace_base.json"))
	e := schema.Enriched(tre.TypeWorkspace, s)
	props := e["properties"].(map[string]any)
	for _, p := range []string{"display_name", "description", "overview", "auth_type", "tags"} {
		require.Contains(t, props, p)
	}
	require.ElementsMatch(t, []any{"display_name", "description", "auth_type", "address_space_size"}, e["required"])
	require.Equal(t, false, e["unevaluatedProperties"])
	require.NotContains(t, s["properties"], "display_name", "Enriched must not modify its input")

	schema.MarkReadOnly(e)
	require.Equal(t, true, props["address_space_size"].(map[string]any)["readOnly"])
	require.NotContains(t, props["auth_type"].(map[string]any), "readOnly")
	then := e["allOf"].([]any)[2].(map[string]any)["then"].(map[string]any)["properties"].(map[string]any)
	require.Equal(t, true, then["client_id"].(map[string]any)["readOnly"], "branches are marked too")
}

func validator(t *testing.T) *schema.Validator {
	t.Helper()
	tmpl := &tre.Template{Name: "tre-workspace-base", Version: "1.0.0", ResourceType: tre.TypeWorkspace,
		Schema: schema.Normalize(load(t, "workspace_base.json"))}
	v, err := schema.NewValidator(tmpl)
	require.NoError(t, err)
	return v
}

func TestValidateCreate(t *testing.T) {
	v := validator(t)
	base := func(extra map[string]any) map[string]any {
		p := map[string]any{"display_name": "WS", "description": "d", "auth_type": "Automatic", "address_space_size": "small"}
		for k, val := range extra {
			p[k] = val
		}
		return p
	}
	require.NoError(t, v.ValidateCreate(base(nil)))
	require.NoError(t, v.ValidateCreate(base(map[string]any{"overview": "o", "tags": map[string]any{"cost_center": "x"}})))
	require.NoError(t, v.ValidateCreate(base(map[string]any{"address_space_size": "custom", "address_space": "10.1.0.0/24"})))
	require.NoError(t, v.ValidateCreate(base(map[string]any{"enable_airlock": true, "configure_review_vms": true})))
	require.NoError(t, v.ValidateCreate(base(map[string]any{"auth_type": "Manual", "client_id": "c", "client_secret": "s"})))

	for name, tc := range map[string]struct {
		props map[string]any
		want  []string
	}{
		"missing required": {map[string]any{"description": "d", "auth_type": "Automatic", "address_space_size": "small"},
			[]string{"properties.display_name"}},
		"wrong type":   {base(map[string]any{"display_name": 5}), []string{"properties.display_name"}},
		"bad enum":     {base(map[string]any{"auth_type": "Magic"}), []string{"properties.auth_type"}},
		"unknown":      {base(map[string]any{"colour": "blue"}), []string{"properties.colour"}},
		"nested extra": {base(map[string]any{"tags": map[string]any{"owner": "x"}}), []string{"properties.tags.owner"}},
		"branch property without its condition": {base(map[string]any{"address_space": "10.1.0.0/24"}),
			[]string{"properties.address_space"}},
		"branch required": {base(map[string]any{"address_space_size": "custom"}), []string{"properties.address_space"}},
		"branch pattern": {base(map[string]any{"address_space_size": "custom", "address_space": "nope"}),
			[]string{"properties.address_space"}},
		"secret without manual auth": {base(map[string]any{"client_secret": "s"}), []string{"properties.client_secret"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := v.ValidateCreate(tc.props)
			require.Equal(t, tc.want, fieldsOf(t, err), "err: %v", err)
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	v := validator(t)
	require.NoError(t, v.ValidateUpdate(map[string]any{"display_name": "new"}))
	require.NoError(t, v.ValidateUpdate(map[string]any{"app_service_plan_sku": "P1v3", "enable_airlock": true}))
	require.Equal(t, []string{"properties.address_space_size"}, fieldsOf(t, v.ValidateUpdate(map[string]any{"address_space_size": "large"})))
	require.Equal(t, []string{"properties.display_name"}, fieldsOf(t, v.ValidateUpdate(map[string]any{"display_name": 1})))
	require.Equal(t, []string{"properties.nope"}, fieldsOf(t, v.ValidateUpdate(map[string]any{"nope": 1})))
	require.True(t, v.Updateable()["client_secret"])
	require.False(t, v.Updateable()["client_id"])
}

// A patch is checked against the if conditions as they are: an if that
// requires auth_type does not hold for a patch without it, so its else
// applies. AzureTRE's base workspace defines aad_redirect_uris in such an
// else, and Guacamole's, Gitea's and OHDSI's pipelines update it.
func TestValidateUpdateKeepsTheConditionsRequired(t *testing.T) {
	s := schema.Normalize(map[string]any{
		"title": "W", "description": "d", "type": "object",
		"properties": map[string]any{"auth_type": map[string]any{"type": "string", "updateable": true}},
		"allOf": []any{map[string]any{
			"if": map[string]any{"properties": map[string]any{"auth_type": map[string]any{"const": "Manual"}}, "required": []any{"auth_type"}},
			"then": map[string]any{"properties": map[string]any{
				"client_secret": map[string]any{"type": "string", "updateable": true},
			}, "required": []any{"client_secret"}},
			"else": map[string]any{"properties": map[string]any{
				"aad_redirect_uris": map[string]any{"type": "array", "updateable": true},
			}},
		}},
	})
	v, err := schema.NewValidator(&tre.Template{Name: "w", Version: "1.0.0", ResourceType: tre.TypeWorkspace, Schema: s})
	require.NoError(t, err)
	require.NoError(t, v.ValidateUpdate(map[string]any{"aad_redirect_uris": []any{map[string]any{"name": "x", "value": "y"}}}))
	require.NoError(t, v.ValidateUpdate(map[string]any{"auth_type": "Manual", "client_secret": "s"}), "then's required is dropped")
	require.Equal(t, []string{"properties.client_secret"}, fieldsOf(t, v.ValidateUpdate(map[string]any{"client_secret": "s"})),
		"without auth_type the if does not hold: the then's property is not evaluated, as in AzureTRE")
}

// Unknown members: refused at the top level (AzureTRE's
// unevaluatedProperties: false); inside a nested object, exactly as that
// object's schema says (additionalProperties or unevaluatedProperties
// false refuse them; without either they are kept, as JSON Schema has it).
func TestNestedUnknownMembersFollowTheSchema(t *testing.T) {
	obj := func(extra map[string]any) map[string]any {
		o := map[string]any{"type": "object", "properties": map[string]any{"host": map[string]any{"type": "string"}}}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	tmpl := &tre.Template{Name: "t", Version: "1.0.0", ResourceType: tre.TypeWorkspace, Schema: map[string]any{
		"title": "t", "description": "d", "type": "object", "properties": map[string]any{
			"open":        obj(nil),
			"closed":      obj(map[string]any{"additionalProperties": false}),
			"unevaluated": obj(map[string]any{"unevaluatedProperties": false}),
			"list":        map[string]any{"type": "array", "items": obj(map[string]any{"additionalProperties": false})},
		}}}
	v, err := schema.NewValidator(tmpl)
	require.NoError(t, err)
	base := func(k string, val any) map[string]any {
		return map[string]any{"display_name": "a", "description": "b", k: val}
	}
	require.NoError(t, v.ValidateCreate(base("open", map[string]any{"host": "h", "extra": 1})))
	require.Equal(t, []string{"properties.closed"}, fieldsOf(t, v.ValidateCreate(base("closed", map[string]any{"host": "h", "extra": 1}))))
	require.Equal(t, []string{"properties.unevaluated.extra"}, fieldsOf(t, v.ValidateCreate(base("unevaluated", map[string]any{"host": "h", "extra": 1}))))
	require.Equal(t, []string{"properties.list.0"}, fieldsOf(t, v.ValidateCreate(base("list", []any{map[string]any{"extra": 1}}))))
	require.Equal(t, []string{"properties.colour"}, fieldsOf(t, v.ValidateCreate(base("colour", "red"))))
	require.Contains(t, fieldsOf(t, v.ValidateUpdate(map[string]any{"closed": map[string]any{"extra": 1}})), "properties.closed")
}
