package infracheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// module is the parsed .tf files of one Terraform module directory.
type module struct {
	dir    string
	bodies []*hclsyntax.Body
	// locals are the module's local values by name.
	locals map[string]*hclsyntax.Attribute
}

// loadModule parses every .tf file of dir (not its subdirectories).
func loadModule(dir string) (*module, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no .tf files", dir)
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	m := &module{dir: dir, locals: map[string]*hclsyntax.Attribute{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %s", f, diags.Error())
		}
		body := file.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			if b.Type != "locals" {
				continue
			}
			for name, a := range b.Body.Attributes {
				if _, dup := m.locals[name]; dup {
					return nil, fmt.Errorf("%s: local.%s is defined twice", f, name)
				}
				m.locals[name] = a
			}
		}
	}
	return m, nil
}

// resources returns the module's resource blocks of a type.
func (m *module) resources(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, body := range m.bodies {
		for _, b := range body.Blocks {
			if b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

// entry is one key of a statically resolved object, with where it is
// written.
type entry struct {
	expr hclsyntax.Expression
	pos  hcl.Pos
	file string
}

func (e entry) String() string { return fmt.Sprintf("%s:%d", filepath.Base(e.file), e.pos.Line) }

// objectKeys resolves expr to the keys of an object known without running
// Terraform: an object literal with constant keys, merge() of such objects,
// or a local.<name> that is one. Anything else is an error naming where it
// is: the checks do not guess.
func (m *module) objectKeys(expr hclsyntax.Expression) (map[string]entry, error) {
	return m.objectKeysDepth(expr, 0)
}

func (m *module) objectKeysDepth(expr hclsyntax.Expression, depth int) (map[string]entry, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%s: local values refer to each other too deeply", rangeOf(expr))
	}
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return m.objectKeysDepth(e.Expression, depth+1)
	case *hclsyntax.ObjectConsExpr:
		out := map[string]entry{}
		for _, item := range e.Items {
			k, diags := item.KeyExpr.Value(nil)
			if diags.HasErrors() || k.Type().FriendlyName() != "string" || k.IsNull() {
				return nil, fmt.Errorf("%s: an object key that is not a constant string", rangeOf(item.KeyExpr))
			}
			name := k.AsString()
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("%s: key %s appears twice", rangeOf(item.KeyExpr), name)
			}
			r := item.KeyExpr.Range()
			out[name] = entry{expr: item.ValueExpr, pos: r.Start, file: r.Filename}
		}
		return out, nil
	case *hclsyntax.FunctionCallExpr:
		if e.Name != "merge" {
			return nil, fmt.Errorf("%s: %s() is not resolved statically (use object literals, merge() and local values)", rangeOf(expr), e.Name)
		}
		out := map[string]entry{}
		for _, arg := range e.Args {
			keys, err := m.objectKeysDepth(arg, depth+1)
			if err != nil {
				return nil, err
			}
			for k, v := range keys {
				out[k] = v // merge(): the last argument wins
			}
		}
		return out, nil
	case *hclsyntax.ScopeTraversalExpr:
		if len(e.Traversal) == 2 && e.Traversal.RootName() == "local" {
			if attr, ok := e.Traversal[1].(hcl.TraverseAttr); ok {
				a, found := m.locals[attr.Name]
				if !found {
					return nil, fmt.Errorf("%s: local.%s is not defined in %s", rangeOf(expr), attr.Name, m.dir)
				}
				return m.objectKeysDepth(a.Expr, depth+1)
			}
		}
	}
	return nil, fmt.Errorf("%s: %T is not resolved statically (use object literals, merge() and local values)", rangeOf(expr), expr)
}

// stringValue returns the value of an expression that is a constant
// string, number or bool, as a string.
func stringValue(expr hclsyntax.Expression) (string, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
		return "", false
	}
	// By the type's name: the checks need no direct import of cty.
	switch v.Type().FriendlyName() {
	case "string":
		return v.AsString(), true
	case "number":
		return v.AsBigFloat().Text('f', -1), true
	case "bool":
		if v.True() {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// stringList returns the elements of a constant list or tuple of strings.
func stringList(expr hclsyntax.Expression) ([]string, bool) {
	tuple, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil, false
	}
	var out []string
	for _, e := range tuple.Exprs {
		s, ok := stringValue(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func rangeOf(e hclsyntax.Expression) string {
	r := e.Range()
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

// findCalls returns every call of the function name in the expressions of
// body (attributes of it and of its nested blocks).
func findCalls(body *hclsyntax.Body, name string) []*hclsyntax.FunctionCallExpr {
	var out []*hclsyntax.FunctionCallExpr
	var visit func(*hclsyntax.Body)
	visit = func(b *hclsyntax.Body) {
		for _, a := range sortedAttributes(b) {
			hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
				if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && c.Name == name {
					out = append(out, c)
				}
				return nil
			})
		}
		for _, blk := range b.Blocks {
			visit(blk.Body)
		}
	}
	visit(body)
	return out
}

func sortedAttributes(b *hclsyntax.Body) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(b.Attributes))
	for _, a := range b.Attributes {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

// nestedBlock returns the first block of a type in body, or nil.
func nestedBlock(body *hclsyntax.Body, typ string) *hclsyntax.Block {
	for _, b := range body.Blocks {
		if b.Type == typ {
			return b
		}
	}
	return nil
}

// tfFiles returns every .tf file under root, skipping .terraform
// directories.
func tfFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".tf") {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
