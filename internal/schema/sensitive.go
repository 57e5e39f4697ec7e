package schema

import (
	"sort"
	"strconv"

	"github.com/tre-go/tre/internal/tre"
)

// SensitivePointers returns the JSON pointers (into props) of every value
// whose definition says sensitive: true, at any depth: top-level
// properties, properties of nested objects, items of arrays, in every
// combinator branch of the schema. A sensitive object is reported whole.
func (v *Validator) SensitivePointers(props map[string]any) []string {
	var out []string
	sensitiveIn(v.schema, v.schema, props, nil, &out)
	sort.Strings(out)
	return out
}

func sensitiveIn(root, node map[string]any, inst any, path []string, out *[]string) {
	switch val := inst.(type) {
	case map[string]any:
		for key, child := range val {
			defs := propertyDefs(root, node, key)
			if anySensitive(defs) {
				*out = append(*out, tre.Pointer(append(append([]string(nil), path...), key)...))
				continue
			}
			for _, d := range defs {
				sensitiveIn(root, d, child, append(append([]string(nil), path...), key), out)
			}
		}
	case []any:
		for _, n := range rootBranches(resolve(root, node)) {
			items, ok := n["items"].(map[string]any)
			if !ok {
				continue
			}
			items = resolve(root, items)
			for i, child := range val {
				p := append(append([]string(nil), path...), strconv.Itoa(i))
				if items["sensitive"] == true {
					*out = append(*out, tre.Pointer(p...))
					continue
				}
				sensitiveIn(root, items, child, p, out)
			}
		}
	}
}

// propertyDefs returns the definitions of key in node and its branches.
func propertyDefs(root, node map[string]any, key string) []map[string]any {
	var defs []map[string]any
	for _, n := range rootBranches(resolve(root, node)) {
		props, _ := n["properties"].(map[string]any)
		if d, ok := props[key].(map[string]any); ok {
			defs = append(defs, resolve(root, d))
		}
	}
	return defs
}

func anySensitive(defs []map[string]any) bool {
	for _, d := range defs {
		if d["sensitive"] == true {
			return true
		}
	}
	return false
}
