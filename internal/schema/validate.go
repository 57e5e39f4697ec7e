package schema

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/xeipuuv/gojsonschema"

	"github.com/tre-go/tre/internal/tre"
)

// Validator validates resource properties against one template's enriched
// schema. Make one with NewValidator; it is safe for concurrent use.
type Validator struct {
	schema  map[string]any
	update  map[string]any
	full    *gojsonschema.Schema
	partial *gojsonschema.Schema
}

// NewValidator compiles the enriched schema of a template. Returns
// CodeInternal if a stored schema no longer compiles (it was checked at
// registration).
func NewValidator(t *tre.Template) (*Validator, error) {
	s := Enriched(t.ResourceType, t.Schema)
	full, err := compile(s)
	if err != nil {
		return nil, fmt.Errorf("schema: template %s %s: %w", t.Name, t.Version, err)
	}
	// A patch requires nothing, but an if still needs what it tests for:
	// AzureTRE empties only the top-level required, so a patch without
	// auth_type falls in the else branch of an if on auth_type (where base
	// workspaces define aad_redirect_uris, which Guacamole's pipeline
	// updates), not in its then.
	u := DeepCopy(s)
	dropRequired(u)
	partial, err := compile(u)
	if err != nil {
		return nil, fmt.Errorf("schema: template %s %s: %w", t.Name, t.Version, err)
	}
	return &Validator{schema: s, update: u, full: full, partial: partial}, nil
}

// ValidateCreate checks the properties of a new resource: types, required
// properties and no unknown property. Returns a CodeInvalid *tre.Error
// whose Fields name each property at fault.
func (v *Validator) ValidateCreate(props map[string]any) error {
	return v.validate(v.full, v.schema, props, nil)
}

// ValidateUpdate checks the properties of a patch: every property must be
// updateable, and each must be valid on its own; nothing is required.
// Returns a CodeInvalid *tre.Error.
// ValidateSet checks properties a pipeline step of an install sets: each
// against its definition, whether or not it can be updated (AzureTRE lets
// an install's steps set any property of the template). Returns
// CodeInvalid naming each property at fault.
func (v *Validator) ValidateSet(props map[string]any) error {
	return v.validate(v.partial, v.update, props, nil)
}

func (v *Validator) ValidateUpdate(patch map[string]any) error {
	var problems []tre.FieldError
	updateable := v.Updateable()
	for _, name := range sortedKeys(patch) {
		if _, known := v.PropertySchema(name); known && !updateable[name] {
			problems = append(problems, tre.FieldError{Field: "properties." + name, Message: fmt.Sprintf("property %q cannot be updated", name)})
		}
	}
	return v.validate(v.partial, v.update, patch, problems)
}

// Updateable returns the names of the properties marked updateable: true.
func (v *Validator) Updateable() map[string]bool {
	out := map[string]bool{}
	for _, node := range rootBranches(v.schema) {
		props, _ := node["properties"].(map[string]any)
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok && pm["updateable"] == true {
				out[name] = true
			}
		}
	}
	return out
}

// PropertySchema returns the definition of a top-level property, looking in
// the combinator branches too.
func (v *Validator) PropertySchema(name string) (map[string]any, bool) {
	for _, node := range rootBranches(v.schema) {
		props, _ := node["properties"].(map[string]any)
		if p, ok := props[name].(map[string]any); ok {
			return p, true
		}
	}
	return nil, false
}

// Schema returns the enriched schema (shared: do not modify).
func (v *Validator) Schema() map[string]any { return v.schema }

func (v *Validator) validate(compiled *gojsonschema.Schema, s map[string]any, props map[string]any, problems []tre.FieldError) error {
	if props == nil {
		props = map[string]any{}
	}
	res, err := compiled.Validate(gojsonschema.NewGoLoader(props))
	if err != nil {
		return tre.WrapError(tre.CodeInvalid, err, "properties could not be validated")
	}
	problems = append(problems, resultProblems(res)...)
	problems = append(problems, unevaluated(s, s, props, "properties")...)
	return problemsError(problems)
}

// generic combinator errors: the specific error inside is reported too.
var combinatorErrors = map[string]bool{
	"number_all_of": true, "number_any_of": true, "number_one_of": true,
	"condition_then": true, "condition_else": true, "number_not": true,
}

func resultProblems(res *gojsonschema.Result) []tre.FieldError {
	var specific, generic []tre.FieldError
	for _, e := range res.Errors() {
		field := "properties"
		if f := e.Field(); f != "" && f != "(root)" {
			field += "." + f
		}
		if e.Type() == "required" {
			if p, ok := e.Details()["property"].(string); ok {
				field += "." + p
			}
		}
		fe := tre.FieldError{Field: field, Message: e.Description()}
		if combinatorErrors[e.Type()] {
			generic = append(generic, fe)
		} else {
			specific = append(specific, fe)
		}
	}
	if len(specific) > 0 {
		return specific
	}
	return generic
}

func problemsError(problems []tre.FieldError) error {
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
	return tre.InvalidFields("Invalid properties", problems)
}

// unevaluated implements draft 2019-09's unevaluatedProperties: false for
// node applied to inst: a member is evaluated when properties,
// patternProperties or additionalProperties of node cover it, or of a
// subschema that applies (every allOf branch, the anyOf/oneOf branches that
// validate, then or else as the if validates, dependencies whose key is
// present, a local $ref). It recurses into the members whose definitions
// again say unevaluatedProperties: false.
func unevaluated(root, node map[string]any, inst any, path string) []tre.FieldError {
	obj, ok := inst.(map[string]any)
	if !ok {
		return unevaluatedItems(root, node, inst, path)
	}
	ev := &evaluation{root: root, obj: obj, defs: map[string]map[string]any{}, covered: map[string]bool{}}
	ev.walk(node)

	var out []tre.FieldError
	if node["unevaluatedProperties"] == false && !ev.all {
		for _, k := range sortedKeys(obj) {
			if !ev.covered[k] {
				out = append(out, tre.FieldError{Field: path + "." + k, Message: fmt.Sprintf("property %q is not defined by the template", k)})
			}
		}
	}
	for _, k := range sortedKeys(ev.defs) {
		out = append(out, unevaluated(root, resolve(root, ev.defs[k]), obj[k], path+"."+k)...)
	}
	return out
}

// unevaluatedItems applies unevaluated to each item of an array whose
// node defines its items.
func unevaluatedItems(root, node map[string]any, inst any, path string) []tre.FieldError {
	arr, ok := inst.([]any)
	if !ok {
		return nil
	}
	items, ok := node["items"].(map[string]any)
	if !ok {
		return nil
	}
	var out []tre.FieldError
	for i, it := range arr {
		out = append(out, unevaluated(root, resolve(root, items), it, fmt.Sprintf("%s[%d]", path, i))...)
	}
	return out
}

// evaluation finds which members of one object the schema evaluates.
type evaluation struct {
	root, obj map[string]any
	// defs are the definitions of the members properties evaluate, to
	// recurse into.
	defs    map[string]map[string]any
	covered map[string]bool
	// all is set when additionalProperties evaluates every member.
	all bool
}

// walk marks the members n evaluates, then walks the subschemas of n that
// apply to the object.
func (ev *evaluation) walk(n map[string]any) {
	n = resolve(ev.root, n)
	ev.cover(n)
	for _, v := range listOf(n["allOf"]) {
		ev.walk(v)
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		for _, v := range listOf(n[k]) {
			if validates(ev.root, v, ev.obj) {
				ev.walk(v)
			}
		}
	}
	if cond, ok := n["if"].(map[string]any); ok {
		if validates(ev.root, cond, ev.obj) {
			ev.walk(cond)
			if then, ok := n["then"].(map[string]any); ok {
				ev.walk(then)
			}
		} else if els, ok := n["else"].(map[string]any); ok {
			ev.walk(els)
		}
	}
	for _, k := range []string{"dependencies", "dependentSchemas"} {
		deps, _ := n[k].(map[string]any)
		for key, d := range deps {
			if dm, ok := d.(map[string]any); ok {
				if _, present := ev.obj[key]; present {
					ev.walk(dm)
				}
			}
		}
	}
}

// cover marks the members n's own properties, patternProperties and
// additionalProperties evaluate.
func (ev *evaluation) cover(n map[string]any) {
	if props, ok := n["properties"].(map[string]any); ok {
		for k, p := range props {
			if _, present := ev.obj[k]; present {
				ev.covered[k] = true
				if pm, ok := p.(map[string]any); ok {
					ev.defs[k] = pm
				}
			}
		}
	}
	if pats, ok := n["patternProperties"].(map[string]any); ok {
		for pat := range pats {
			re, err := regexp.Compile(pat)
			if err != nil {
				continue
			}
			for k := range ev.obj {
				if re.MatchString(k) {
					ev.covered[k] = true
				}
			}
		}
	}
	if _, ok := n["additionalProperties"]; ok {
		ev.all = true
	}
}

func listOf(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, it := range list {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// resolve follows a local $ref ("#/definitions/x", "#/$defs/x").
func resolve(root, n map[string]any) map[string]any {
	for range 16 { // a chain of refs, bounded against cycles
		ref, ok := n["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return n
		}
		var cur any = root
		for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
			m, ok := cur.(map[string]any)
			if !ok {
				return n
			}
			cur = m[seg]
		}
		next, ok := cur.(map[string]any)
		if !ok {
			return n
		}
		n = next
	}
	return n
}

// validates reports whether inst satisfies sub, resolving local refs
// against root's definitions.
func validates(root, sub map[string]any, inst any) bool {
	wrapped := DeepCopy(sub)
	for _, k := range []string{"definitions", "$defs"} {
		if d, ok := root[k]; ok {
			if _, own := wrapped[k]; !own {
				wrapped[k] = d
			}
		}
	}
	s, err := compile(wrapped)
	if err != nil {
		return false
	}
	res, err := s.Validate(gojsonschema.NewGoLoader(inst))
	return err == nil && res.Valid()
}

// dropRequired deletes required from s and from its combinator branches,
// then and else, recursively; not from if conditions, which still test for
// what they need.
func dropRequired(s map[string]any) {
	delete(s, "required")
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		list, _ := s[k].([]any)
		for _, v := range list {
			if m, ok := v.(map[string]any); ok {
				dropRequired(m)
			}
		}
	}
	for _, k := range []string{"then", "else"} {
		if m, ok := s[k].(map[string]any); ok {
			dropRequired(m)
		}
	}
}
