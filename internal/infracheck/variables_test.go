package infracheck

import (
	"fmt"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// tfVariable is a variable block of the root module.
type tfVariable struct {
	name        string
	typ         cty.Type
	defaults    *typeexpr.Defaults
	def         *cty.Value
	validations []*hclsyntax.Block
}

func readVariables(dir string) (map[string]*tfVariable, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*tfVariable{}
	for _, body := range m.bodies {
		for _, b := range body.Blocks {
			if b.Type != "variable" || len(b.Labels) != 1 {
				continue
			}
			v := &tfVariable{name: b.Labels[0], typ: cty.DynamicPseudoType}
			if a, ok := b.Body.Attributes["type"]; ok {
				ty, defs, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
				if diags.HasErrors() {
					return nil, fmt.Errorf("variable %s: %s", v.name, diags.Error())
				}
				v.typ, v.defaults = ty, defs
			}
			if a, ok := b.Body.Attributes["default"]; ok {
				val, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					return nil, fmt.Errorf("variable %s: default: %s", v.name, diags.Error())
				}
				val, err := v.convert(val)
				if err != nil {
					return nil, fmt.Errorf("variable %s: default: %w", v.name, err)
				}
				v.def = &val
			}
			for _, vb := range b.Body.Blocks {
				if vb.Type == "validation" {
					v.validations = append(v.validations, vb)
				}
			}
			out[v.name] = v
		}
	}
	return out, nil
}

// convert gives a value the variable's type, as Terraform does with input
// values.
func (v *tfVariable) convert(val cty.Value) (cty.Value, error) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	return convert.Convert(val, v.typ)
}
