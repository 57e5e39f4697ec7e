package schema_test

import (
	"os"
	"testing"

	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// FuzzTemplateSchema: a template's JSON Schema as registration takes it
// (decode, normalize, check), then validation of properties against it. A
// schema Check accepts must compile (registration stores it, and every
// later request compiles it again); nothing may panic; every refusal is
// CodeInvalid.
func FuzzTemplateSchema(f *testing.F) {
	for _, name := range []string{"workspace_base.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(`{"display_name":"a","description":"b"}`))
	}
	f.Add([]byte(`{"title":"t","description":"d","type":"object","properties":{"s":{"type":"array","items":{"type":"string","sensitive":true}}},`+
		`"allOf":[{"if":{"properties":{"x":{"const":1}}},"then":{"properties":{"y":{"$ref":"#/definitions/y"}}}}],"definitions":{"y":{"type":"object","unevaluatedProperties":false}}}`),
		[]byte(`{"display_name":"a","description":"b","s":["p","q"],"x":1,"y":{"z":1}}`))
	f.Fuzz(func(t *testing.T, rawSchema, rawProps []byte) {
		s, err := schema.FromJSON(rawSchema)
		if err != nil {
			return
		}
		s = schema.Normalize(s)
		if err := schema.Check(tre.TypeWorkspace, s); err != nil {
			if c := tre.ErrorCode(err); c != tre.CodeInvalid {
				t.Fatalf("Check refused with %s, not invalid: %v", c, err)
			}
			return
		}
		v, err := schema.NewValidator(&tre.Template{Name: "t", Version: "1.0.0", ResourceType: tre.TypeWorkspace, Schema: s})
		if err != nil {
			t.Fatalf("a schema Check accepts does not compile: %v", err)
		}
		props, err := schema.FromJSON(rawProps)
		if err != nil {
			return
		}
		for _, validate := range []func(map[string]any) error{v.ValidateCreate, v.ValidateUpdate, v.ValidateSet} {
			if err := validate(props); err != nil && tre.ErrorCode(err) != tre.CodeInvalid {
				t.Fatalf("validation refused with %s, not invalid: %v", tre.ErrorCode(err), err)
			}
		}
		for _, p := range v.SensitivePointers(props) {
			if _, ok := tre.PointerGet(props, p); !ok {
				t.Fatalf("sensitive pointer %s is not in the properties", p)
			}
		}
	})
}
