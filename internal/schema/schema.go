// Package schema works on template JSON Schemas: it checks a schema when a
// template is registered, merges it with the base schema of its resource
// type (AzureTRE's "enrichment"), and validates resource properties against
// the result on gojsonschema (draft-07), adding the unevaluatedProperties
// check that gojsonschema does not know.
package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/xeipuuv/gojsonschema"

	"github.com/tre-go/tre/internal/tre"
)

// baseProperties are the properties every template gets from AzureTRE's base
// schemas (api_app/schemas/*.json): display_name and description are
// required, overview is optional, all three can be updated.
func baseProperties() map[string]any {
	return map[string]any{
		"display_name": map[string]any{"type": "string", "title": "Name for the resource", "description": "The name of the resource to be displayed to users", "updateable": true},
		"description":  map[string]any{"type": "string", "title": "Description of the resource", "description": "Description of the resource", "updateable": true},
		"overview":     map[string]any{"type": "string", "title": "Resource Overview", "description": "Long form description of the resource, in markdown syntax", "updateable": true},
	}
}

var baseRequired = []string{"display_name", "description"}

// SystemProperties are the properties the API sets itself, listed in a
// template's response as system_properties.
func SystemProperties(t tre.ResourceType) map[string]any {
	str := func() map[string]any { return map[string]any{"type": "string"} }
	if t == tre.TypeSharedService {
		return map[string]any{"tre_id": str(), "shared_service_id": str(), "azure_location": str()}
	}
	return map[string]any{"tre_id": str(), "workspace_id": str(), "azure_location": str()}
}

// Normalize returns a copy of a registered schema in the form that is stored:
// without $schema and top-level $id (AzureTRE drops them), without nested
// $id values that carry a fragment, and without "const": null where the
// type does not allow null (both trip draft-07 validators).
func Normalize(s map[string]any) map[string]any {
	out := deepCopy(s).(map[string]any)
	delete(out, "$schema")
	delete(out, "$id")
	walkSchemas(out, func(node map[string]any) {
		if id, ok := node["$id"].(string); ok && strings.Contains(id, "#") && !strings.HasSuffix(id, "#") {
			delete(node, "$id")
		}
		if c, ok := node["const"]; ok && c == nil && !allowsNull(node) {
			delete(node, "const")
		}
	})
	return out
}

func allowsNull(node map[string]any) bool {
	switch t := node["type"].(type) {
	case string:
		return t == "null"
	case []any:
		return slices.Contains(t, any("null"))
	}
	if e, ok := node["enum"].([]any); ok {
		return slices.Contains(e, nil)
	}
	return true
}

// Check validates a registered template schema and returns every problem
// found, each naming where it is: the draft-07 metaschema, the fields
// AzureTRE requires (title, description), property definitions that are
// objects, required names that are defined, and no remote $ref (the
// validator would fetch it). The schema must also compile merged with the
// base schema. Returns a CodeInvalid *tre.Error with Fields.
func Check(t tre.ResourceType, s map[string]any) error {
	var problems []tre.FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, tre.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if title, _ := s["title"].(string); strings.TrimSpace(title) == "" {
		add("json_schema.title", "the schema needs a title (a non-empty string)")
	}
	if desc, _ := s["description"].(string); strings.TrimSpace(desc) == "" {
		add("json_schema.description", "the schema needs a description (a non-empty string)")
	}
	if typ, ok := s["type"]; ok && typ != "object" {
		add("json_schema.type", `the schema's type must be "object", not %v`, typ)
	}
	props, hasProps := s["properties"].(map[string]any)
	if _, present := s["properties"]; present && !hasProps {
		add("json_schema.properties", "properties must be an object")
	}
	for _, name := range sortedKeys(props) {
		if _, ok := props[name].(map[string]any); !ok {
			add("json_schema.properties."+name, "a property definition must be an object")
		}
	}
	for _, name := range undefinedRequired(s, props) {
		add("json_schema.required", "required property %q is not defined in properties", name)
	}
	if roles, ok := s["authorizedRoles"]; ok && !roleNames(roles) {
		add("json_schema.authorizedRoles", "authorizedRoles must be an array of role names")
	}
	walkSchemas(s, func(node map[string]any) {
		if ref, ok := node["$ref"].(string); ok && !strings.HasPrefix(ref, "#") {
			add("json_schema", "$ref %q is not local: only references inside the schema (#/...) are allowed", ref)
		}
	})
	if err := metaCheck(s); err != nil {
		add("json_schema", "not a valid draft-07 JSON Schema: %s", err)
	}
	if len(problems) == 0 {
		if _, err := compile(Enriched(t, s)); err != nil {
			add("json_schema", "the schema does not compile: %s", err)
		}
	}
	return tre.InvalidFields("Invalid template schema", problems)
}

// undefinedRequired lists the names in required that neither the base
// schema, props nor a branch define, in their order.
func undefinedRequired(s, props map[string]any) []string {
	req, ok := s["required"].([]any)
	if !ok {
		return nil
	}
	all := baseProperties()
	maps.Copy(all, props)
	var undefined []string
	for _, r := range req {
		name, ok := r.(string)
		if !ok {
			continue // the metaschema reports it
		}
		if _, defined := all[name]; !defined && !definedInBranches(s, name) {
			undefined = append(undefined, name)
		}
	}
	return undefined
}

// roleNames reports whether authorizedRoles is an array of strings.
func roleNames(roles any) bool {
	list, ok := roles.([]any)
	if !ok {
		return false
	}
	for _, r := range list {
		if _, isStr := r.(string); !isStr {
			return false
		}
	}
	return true
}

// definedInBranches reports whether name is defined by an allOf/anyOf/oneOf
// or if/then/else branch, where AzureTRE templates define conditional
// properties.
func definedInBranches(s map[string]any, name string) bool {
	found := false
	walkSchemas(s, func(node map[string]any) {
		if p, ok := node["properties"].(map[string]any); ok {
			if _, ok := p[name]; ok {
				found = true
			}
		}
	})
	return found
}

func metaCheck(s map[string]any) error {
	sl := gojsonschema.NewSchemaLoader()
	sl.Validate = true
	sl.Draft = gojsonschema.Draft7
	_, err := sl.Compile(gojsonschema.NewGoLoader(s))
	if err != nil {
		var lines []string
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return fmt.Errorf("%s", strings.Join(lines, "; "))
	}
	return nil
}

func compile(s map[string]any) (*gojsonschema.Schema, error) {
	sl := gojsonschema.NewSchemaLoader()
	sl.Draft = gojsonschema.Draft7
	return sl.Compile(gojsonschema.NewGoLoader(s))
}

// Enriched merges a template schema with the base schema of its type:
// properties are the base's then the template's (the template wins on a name
// clash), required is the union, and unknown properties are rejected
// (unevaluatedProperties: false) unless the template says otherwise.
func Enriched(_ tre.ResourceType, s map[string]any) map[string]any {
	out := deepCopy(s).(map[string]any)
	props := baseProperties()
	if own, ok := out["properties"].(map[string]any); ok {
		maps.Copy(props, own)
	}
	out["properties"] = props
	out["type"] = "object"
	req := slices.Clone(baseRequired)
	if own, ok := out["required"].([]any); ok {
		for _, r := range own {
			if name, ok := r.(string); ok && !slices.Contains(req, name) {
				req = append(req, name)
			}
		}
	}
	out["required"] = toAny(req)
	if _, ok := out["unevaluatedProperties"]; !ok {
		out["unevaluatedProperties"] = false
	}
	return out
}

// MarkReadOnly sets readOnly: true on every property of the schema's top
// level and of its combinator branches (allOf/anyOf/oneOf/if/then/else) that
// is not updateable: AzureTRE's is_update view, a hint for forms.
func MarkReadOnly(s map[string]any) {
	for _, node := range rootBranches(s) {
		props, _ := node["properties"].(map[string]any)
		for _, p := range props {
			if pm, ok := p.(map[string]any); ok && pm["updateable"] != true {
				pm["readOnly"] = true
			}
		}
	}
}

// rootBranches returns s and the subschemas that apply to the same instance
// as s: those under allOf, anyOf, oneOf, if, then and else, recursively.
func rootBranches(s map[string]any) []map[string]any {
	out := []map[string]any{s}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		list, _ := s[k].([]any)
		for _, v := range list {
			if m, ok := v.(map[string]any); ok {
				out = append(out, rootBranches(m)...)
			}
		}
	}
	for _, k := range []string{"if", "then", "else"} {
		if m, ok := s[k].(map[string]any); ok {
			out = append(out, rootBranches(m)...)
		}
	}
	return out
}

// walkSchemas calls fn on s and every subschema reachable through the
// keywords that hold schemas.
func walkSchemas(s map[string]any, fn func(map[string]any)) {
	fn(s)
	visit := func(v any) {
		if m, ok := v.(map[string]any); ok {
			walkSchemas(m, fn)
		}
	}
	for _, k := range []string{"properties", "patternProperties", "definitions", "$defs", "dependencies", "dependentSchemas"} {
		if m, ok := s[k].(map[string]any); ok {
			for _, name := range sortedKeys(m) {
				visit(m[name])
			}
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := s[k].([]any); ok {
			for _, v := range list {
				visit(v)
			}
		}
	}
	for _, k := range []string{"if", "then", "else", "not", "items", "additionalItems", "additionalProperties", "contains", "propertyNames"} {
		switch v := s[k].(type) {
		case map[string]any:
			visit(v)
		case []any:
			for _, it := range v {
				visit(it)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// deepCopy copies a JSON value (maps, slices, scalars) so that callers never
// share the template's maps.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// DeepCopy copies a JSON value; see deepCopy.
func DeepCopy[T any](v T) T { return deepCopy(v).(T) }

// FromJSON decodes a JSON object into the map form this package works on.
func FromJSON(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
