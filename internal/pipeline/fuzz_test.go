package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/tre-go/tre/internal/tre"
)

// FuzzSubstitution: a template's pipeline step properties (as registration
// stores them) applied to resources of the fuzzer's choosing. Nothing may
// panic; a refusal is CodeInvalid; what Apply returns is JSON again (it is
// stored and sent to bundles).
func FuzzSubstitution(f *testing.F) {
	f.Add(`[{"name":"rule_collections","type":"array","arraySubstitutionAction":"replace","arrayMatchField":"name",`+
		`"value":{"name":"arc_{{ resource.id }}","source":"{{ resource.parent.properties.address_space }}"}}]`,
		`{"id":"r1","properties":{"x":[1,2]}}`, `{"properties":{"address_space":"10.1.0.0/24"}}`, `{"rule_collections":[{"name":"arc_r1","a":1},{"name":"b"}]}`, uint8(1))
	f.Add(`[{"name":"p","type":"string","value":"{{resource.properties.a}}-{{ resource.parent.parent.id }}"}]`,
		`{"properties":{"a":{"b":[1]}}}`, `{}`, `{}`, uint8(2))
	f.Add(`[{"name":"l","type":"array","arraySubstitutionAction":"remove","arrayMatchField":"k","value":["{{ resource.properties.l }}"]}]`,
		`{"properties":{"l":[{"k":1}]}}`, `{}`, `{"l":"not an array"}`, uint8(0))
	types := []tre.ResourceType{tre.TypeWorkspace, tre.TypeWorkspaceService, tre.TypeUserResource, tre.TypeSharedService}
	f.Fuzz(func(t *testing.T, rawProps, rawResource, rawParent, rawCurrent string, kind uint8) {
		var props []tre.PipelineStepProperty
		var res, parent, current map[string]any
		if json.Unmarshal([]byte(rawProps), &props) != nil || json.Unmarshal([]byte(rawResource), &res) != nil ||
			json.Unmarshal([]byte(rawParent), &parent) != nil || json.Unmarshal([]byte(rawCurrent), &current) != nil {
			return
		}
		src := Source{Type: types[int(kind)%len(types)], Resource: res, Parent: parent, GrandParent: parent}
		out, err := Apply(props, src, current)
		if err != nil {
			if tre.ErrorCode(err) != tre.CodeInvalid {
				t.Fatalf("Apply refused with %q, not invalid: %v", tre.ErrorCode(err), err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("Apply returned what is not JSON: %v", err)
		}
	})
}
