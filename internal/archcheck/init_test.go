package archcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoRegexpCompiledAtInit: a package-level regexp.MustCompile runs at
// every start of every binary that links the package, whether or not the
// pattern is ever used (a counted repetition such as {0,127} compiles to
// thousands of instructions). Together they were 5 ms of the handler's
// cold start; they compile on first use instead (sync.OnceValue).
func TestNoRegexpCompiledAtInit(t *testing.T) {
	var found []string
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git", "ui":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		found = append(found, initRegexps(t, path)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("package-level regexps compiled at init (wrap them in sync.OnceValue):\n%s", strings.Join(found, "\n"))
	}
}

// initRegexps lists the package-level variables of a file initialised
// with a call of regexp.MustCompile.
func initRegexps(t *testing.T, path string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				if call, ok := v.(*ast.CallExpr); ok && isMustCompile(call.Fun) {
					out = append(out, path)
				}
			}
		}
	}
	return out
}

func isMustCompile(fun ast.Expr) bool {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "regexp" && strings.HasPrefix(sel.Sel.Name, "MustCompile")
}
