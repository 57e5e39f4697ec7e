package infracheck

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
)

// What `terraform validate` would catch first, without Terraform: every
// var.X, local.X and module.M.O a module refers to exists, and every module
// call passes exactly variables its module declares, all the required ones
// among them.

// moduleInterface is what a module declares.
type moduleInterface struct {
	variables map[string]bool // name => has a default
	outputs   map[string]bool
	calls     map[string]*hclsyntax.Block // module name => its block
}

func interfaceOf(m *module) moduleInterface {
	mi := moduleInterface{variables: map[string]bool{}, outputs: map[string]bool{}, calls: map[string]*hclsyntax.Block{}}
	for _, body := range m.bodies {
		for _, b := range body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				_, def := b.Body.Attributes["default"]
				mi.variables[b.Labels[0]] = def
			case b.Type == "output" && len(b.Labels) == 1:
				mi.outputs[b.Labels[0]] = true
			case b.Type == "module" && len(b.Labels) == 1:
				mi.calls[b.Labels[0]] = b
			}
		}
	}
	return mi
}

// metaArguments of a module block that are not the module's variables.
var metaArguments = map[string]bool{"source": true, "version": true, "count": true, "for_each": true, "depends_on": true, "providers": true}

func checkReferences(dir string) ([]string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	mi := interfaceOf(m)
	var p problems
	children := map[string]moduleInterface{}
	for name, call := range mi.calls {
		src, ok := stringValue(call.Body.Attributes["source"].Expr)
		if !ok {
			p.addf("%s: module %s: source is not a constant", dir, name)
			continue
		}
		child, err := loadModule(filepath.Join(dir, src))
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", name, err)
		}
		ci := interfaceOf(child)
		children[name] = ci
		for arg := range call.Body.Attributes {
			if _, ok := ci.variables[arg]; !ok && !metaArguments[arg] {
				p.addf("%s: module %s passes %s, which %s does not declare", dir, name, arg, src)
			}
		}
		for v, hasDefault := range ci.variables {
			if _, passed := call.Body.Attributes[v]; !passed && !hasDefault {
				p.addf("%s: module %s does not pass the required variable %s", dir, name, v)
			}
		}
	}
	check := func(t hcl.Traversal) {
		where := fmt.Sprintf("%s:%d", t.SourceRange().Filename, t.SourceRange().Start.Line)
		attr := func(i int) (string, bool) {
			if len(t) <= i {
				return "", false
			}
			a, ok := t[i].(hcl.TraverseAttr)
			return a.Name, ok
		}
		switch t.RootName() {
		case "var":
			if n, ok := attr(1); ok {
				if _, declared := mi.variables[n]; !declared {
					p.addf("%s: var.%s is not declared", where, n)
				}
			}
		case "local":
			if n, ok := attr(1); ok {
				if _, declared := m.locals[n]; !declared {
					p.addf("%s: local.%s is not defined", where, n)
				}
			}
		case "module":
			n, ok := attr(1)
			if !ok {
				return
			}
			ci, known := children[n]
			if !known {
				p.addf("%s: module.%s is not called here", where, n)
				return
			}
			// module.M.O, or module.M[i].O with count.
			i := 2
			if len(t) > 2 {
				if _, isIndex := t[2].(hcl.TraverseIndex); isIndex {
					i = 3
				}
			}
			if o, ok := attr(i); ok && !ci.outputs[o] {
				p.addf("%s: module.%s has no output %s", where, n, o)
			}
		}
	}
	for _, body := range m.bodies {
		var visit func(*hclsyntax.Body)
		visit = func(b *hclsyntax.Body) {
			for _, a := range b.Attributes {
				for _, t := range a.Expr.Variables() {
					check(t)
				}
			}
			for _, blk := range b.Blocks {
				visit(blk.Body)
			}
		}
		visit(body)
	}
	return p.sorted(), nil
}

func TestTerraformReferencesResolve(t *testing.T) {
	var dirs []string
	for _, root := range []string{infraDir, templatesDir} {
		files, err := tfFiles(root)
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, f := range files {
			if d := filepath.Dir(f); !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	require.Greater(t, len(dirs), 12)
	for _, d := range dirs {
		got, err := checkReferences(d)
		require.NoError(t, err, d)
		require.Empty(t, got, d)
	}
}

func TestReferencesCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, infraDir, dir)
	main := filepath.Join(dir, "main.tf")
	edit(t, main, "module.cosmos.endpoint", "module.cosmos.endpoint_url")
	edit(t, main, "  retention_days      = var.log_retention_days\n", "  retention_days      = var.log_retention\n")
	deleteLine(t, main, "plan_sku ")
	got, err := checkReferences(dir)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		dir + ": module functionapp does not pass the required variable plan_sku",
		main + ":" + lineOf(t, main, "var.log_retention") + ": var.log_retention is not declared",
		main + ":" + lineOf(t, main, "module.cosmos.endpoint_url") + ": module.cosmos has no output endpoint_url",
	}, got)
}
