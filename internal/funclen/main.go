// Command funclen measures the length of every function and method in
// the production Go files under a directory (not _test.go files, not the
// test-support packages named by -exclude) and fails when one is longer
// than -over lines. It always prints the longest -top, so that CI logs
// show how close the code is to the limit.
//
//	go run ./internal/funclen -over 79 .
//
// A function's length counts the lines from its func keyword to its
// closing brace, both included; its doc comment is not counted. Lines are
// printed as gocyclo prints complexities: length, package, function,
// position.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// testSupport are the packages that only tests import (fakes, conformance
// suites, protocol-server harnesses): they are not production code.
const testSupport = "queuetest,storetest,firewalltest,nodetest,cosmostest,sbtest,slowtest,portertest,fakeclock"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// fn is one measured function.
type fn struct {
	pkg, name string
	pos       token.Position
	lines     int
}

func (f fn) String() string {
	return fmt.Sprintf("%d %s %s %s:%d:%d", f.lines, f.pkg, f.name, f.pos.Filename, f.pos.Line, f.pos.Column)
}

func run(args []string, out, errOut io.Writer) int {
	flags := flag.NewFlagSet("funclen", flag.ContinueOnError)
	flags.SetOutput(errOut)
	over := flags.Int("over", 79, "fail when a function has more lines than this")
	top := flags.Int("top", 5, "always print the longest N functions")
	exclude := flags.String("exclude", testSupport, "comma-separated directory names whose trees are skipped")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	roots := flags.Args()
	if len(roots) == 0 {
		roots = []string{"."}
	}
	skip := map[string]bool{}
	for _, name := range strings.Split(*exclude, ",") {
		if name != "" {
			skip[name] = true
		}
	}
	var fns []fn
	for _, root := range roots {
		found, err := measure(root, skip)
		if err != nil {
			fmt.Fprintf(errOut, "funclen: %v\n", err)
			return 2
		}
		fns = append(fns, found...)
	}
	sort.SliceStable(fns, func(i, j int) bool { return fns[i].lines > fns[j].lines })
	fmt.Fprintf(out, "longest functions (limit %d lines):\n", *over)
	for i := 0; i < *top && i < len(fns); i++ {
		fmt.Fprintf(out, "  %s\n", fns[i])
	}
	var long []fn
	for _, f := range fns {
		if f.lines > *over {
			long = append(long, f)
		}
	}
	if len(long) == 0 {
		return 0
	}
	fmt.Fprintf(out, "functions over %d lines:\n", *over)
	for _, f := range long {
		fmt.Fprintf(out, "  %s\n", f)
	}
	return 1
}

// measure parses the production Go files under root, skipping hidden
// directories, testdata, node_modules and the directories named in skip.
func measure(root string, skip map[string]bool) ([]fn, error) {
	var fns []fn
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || skip[name]) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			if d, ok := decl.(*ast.FuncDecl); ok && d.Body != nil {
				start, end := fset.Position(d.Pos()), fset.Position(d.End())
				fns = append(fns, fn{pkg: file.Name.Name, name: funcName(d), pos: start, lines: end.Line - start.Line + 1})
			}
		}
		return nil
	})
	return fns, err
}

// funcName names a function as gocyclo does: F, (T).M or (*T).M.
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	return "(" + recvType(d.Recv.List[0].Type) + ")." + d.Name.Name
}

func recvType(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "*" + recvType(t.X)
	case *ast.IndexExpr: // T[P]
		return recvType(t.X)
	case *ast.IndexListExpr: // T[P, Q]
		return recvType(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}
