// Package pipeline evaluates AzureTRE's template pipeline expressions:
// {{ resource.… }} substitutions in step property values, and the array
// actions (overwrite, append, replace, remove) that merge a step's values
// into the properties of the resource it changes. It is pure: callers pass
// the resources as JSON-shaped maps.
package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/tre-go/tre/internal/tre"
)

// Source is what {{ resource.… }} refers to: the resource whose template
// defines the step, and its parents.
type Source struct {
	Type tre.ResourceType
	// Resource is the primary resource as a JSON object (id, templateName,
	// properties, …).
	Resource map[string]any
	// Parent is the workspace of a workspace service, or the workspace
	// service of a user resource.
	Parent map[string]any
	// GrandParent is the workspace of a user resource.
	GrandParent map[string]any
}

var token = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{\{\s*resource\.([^{}]*?)\s*\}\}`) })

// Value substitutes every {{ resource.<path> }} in v: strings are
// substituted, objects and arrays recursively. A string that is exactly one
// token becomes the referenced value whatever its type; a referenced object
// or array replaces the whole string; otherwise the value is spliced in as
// text. A path that does not resolve makes the whole string "". Returns
// CodeInvalid for a parent reference the resource type does not have.
func Value(v any, src Source) (any, error) {
	switch v := v.(type) {
	case string:
		return substituteString(v, src)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			s, err := Value(e, src)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			s, err := Value(e, src)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	default:
		return v, nil
	}
}

func substituteString(s string, src Source) (any, error) {
	matches := token().FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return s, nil
	}
	if len(matches) == 1 && matches[0][0] == 0 && matches[0][1] == len(s) {
		v, ok, err := resolve(s[matches[0][2]:matches[0][3]], src)
		if err != nil || !ok {
			return "", err
		}
		return v, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		v, ok, err := resolve(s[m[2]:m[3]], src)
		if err != nil {
			return nil, err
		}
		if !ok {
			return "", nil
		}
		switch v.(type) {
		case map[string]any, []any:
			return v, nil
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(text(v))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// resolve follows a path such as "properties.address_space" or
// "parent.parent.id" from the source.
func resolve(path string, src Source) (any, bool, error) {
	segs := strings.Split(path, ".")
	cur := src.Resource
	depth := 0
	for len(segs) > 0 && segs[0] == "parent" {
		segs = segs[1:]
		depth++
	}
	switch depth {
	case 0:
	case 1:
		if src.Type != tre.TypeWorkspaceService && src.Type != tre.TypeUserResource {
			return nil, false, tre.Errorf(tre.CodeInvalid, "{{ resource.%s }}: parent is invalid for a resource of type '%s'", path, src.Type)
		}
		cur = src.Parent
	case 2:
		if src.Type != tre.TypeUserResource {
			return nil, false, tre.Errorf(tre.CodeInvalid, "{{ resource.%s }}: parent.parent is invalid for a resource of type '%s'", path, src.Type)
		}
		cur = src.GrandParent
	default:
		return nil, false, tre.Errorf(tre.CodeInvalid, "{{ resource.%s }}: too many parents", path)
	}
	var v any = cur
	for _, seg := range segs {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		if v, ok = m[seg]; !ok {
			return nil, false, nil
		}
	}
	if v == nil {
		return nil, false, nil
	}
	return v, true, nil
}

func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Apply computes the properties a pipeline step sets on its target: each
// step property's value is substituted from src; "array" properties are
// merged into the target's current array by the property's
// arraySubstitutionAction, matching items by arrayMatchField. current is
// the target's properties (not modified). Returns CodeInvalid.
func Apply(props []tre.PipelineStepProperty, src Source, current map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(props))
	for _, p := range props {
		val, err := Value(p.Value, src)
		if err != nil {
			return nil, fmt.Errorf("pipeline: property %s: %w", p.Name, err)
		}
		if p.Type != "array" {
			out[p.Name] = val
			continue
		}
		arr, err := mergeArray(p, val, current[p.Name])
		if err != nil {
			return nil, err
		}
		out[p.Name] = arr
	}
	return out, nil
}

func mergeArray(p tre.PipelineStepProperty, val, existing any) ([]any, error) {
	arr, _ := existing.([]any)
	arr = append([]any(nil), arr...)
	matchIndex := func() int {
		vm, ok := val.(map[string]any)
		if !ok {
			return -1
		}
		for i, it := range arr {
			if im, ok := it.(map[string]any); ok && im[p.ArrayMatchField] == vm[p.ArrayMatchField] {
				return i
			}
		}
		return -1
	}
	switch p.ArraySubstitutionAction {
	case "", "overwrite":
		return []any{val}, nil
	case "append":
		return append(arr, val), nil
	case "remove":
		if i := matchIndex(); i >= 0 {
			arr = append(arr[:i], arr[i+1:]...)
		}
		return arr, nil
	case "replace":
		if i := matchIndex(); i >= 0 {
			arr[i] = val
			return arr, nil
		}
		return append(arr, val), nil
	}
	return nil, tre.Errorf(tre.CodeInvalid, "pipeline: property %s: unknown arraySubstitutionAction %q", p.Name, p.ArraySubstitutionAction)
}
