package archcheck

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tre-go/tre/"

// The packages of docs/ARCHITECTURE.md's layers, by path under the module.
var (
	// domain holds the types and the ports; it imports the standard
	// library only.
	domain = "internal/tre"
	// adapters implement ports on one technology each.
	adapters = set("internal/sqlite", "internal/cosmos", "internal/servicebus", "internal/keyvault",
		"internal/secretfile", "internal/armfirewall", "internal/firewallfile", "internal/azblobstore",
		"internal/costmanagement", "internal/porter", "internal/localrunner", "internal/scanstub")
	// adapterHelpers are what adapters may share beside the domain: the
	// bundle reader and the process groups of the two bundle runners.
	adapterHelpers = set("internal/bundle", "internal/procgroup")
	// programs wire adapters into services; nothing imports them.
	programs = set("handlers", "processor-vm")
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, p := range s {
		m[p] = true
	}
	return m
}

// imports reads the module-internal imports of every package's production
// files (not _test.go), by package directory relative to the module root.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if name == "node_modules" || name == "testdata" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		if _, ok := out[dir]; !ok {
			out[dir] = nil
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, module) {
				out[dir] = append(out[dir], strings.TrimPrefix(p, module))
			} else if dir == domain && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				out[dir] = append(out[dir], p) // a third-party import: the domain may have none
			}
		}
		return nil
	})
	require.NoError(t, err)
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// isTestSupport says whether a package exists for tests: conformance
// suites, fakes, protocol-server launchers and the test tools.
func isTestSupport(p string) bool {
	base := filepath.Base(p)
	return strings.HasSuffix(base, "test") || base == "fakeclock" || base == "testsum" ||
		base == "installdeps" || base == "funclen" || base == "infracheck" || base == "archcheck" ||
		base == "packaging" || strings.HasPrefix(p, "tools")
}

func TestPackageStructure(t *testing.T) {
	all := imports(t)
	require.Contains(t, all, domain, "the walk found the domain package")
	for _, a := range sortedKeys(adapters) {
		require.Contains(t, all, a, "adapter %s exists", a)
	}
	var problems []string
	for pkg, deps := range all {
		for _, d := range deps {
			if msg := violation(pkg, d); msg != "" {
				problems = append(problems, pkg+" imports "+d+": "+msg)
			}
		}
	}
	sort.Strings(problems)
	require.Empty(t, problems, "docs/ARCHITECTURE.md, \"Packages and the rules between them\"")
}

// violation says which rule an import breaks, if any.
func violation(pkg, dep string) string {
	switch {
	case pkg == domain:
		return "the domain imports the standard library only"
	case programs[dep]:
		return "nothing imports a program"
	case isTestSupport(pkg):
		return ""
	case isTestSupport(dep):
		return "production code does not import test support"
	case adapters[pkg] && adapters[dep]:
		return "adapters never import each other"
	case adapters[pkg] && dep != domain && !adapterHelpers[dep]:
		return "an adapter imports only the domain and the adapter helpers"
	case adapters[dep] && !programs[pkg]:
		return "only the programs (handlers, processor-vm) import adapters"
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The rules catch what they say they catch.
func TestViolationRules(t *testing.T) {
	cases := map[[2]string]bool{
		{"internal/tre", "internal/lifecycle"}:              true,
		{"internal/sqlite", "internal/cosmos"}:              true,
		{"internal/sqlite", "internal/lifecycle"}:           true,
		{"internal/lifecycle", "internal/sqlite"}:           true,
		{"internal/api", "internal/storetest"}:              true,
		{"internal/api", "handlers"}:                        true,
		{"handlers", "internal/sqlite"}:                     false,
		{"internal/porter", "internal/procgroup"}:           false,
		{"internal/faulttest", "internal/sqlite"}:           false,
		{"internal/lifecycle", "internal/registry"}:         false,
		{"internal/localrunner", "internal/bundle"}:         false,
		{"internal/costmanagement", "internal/tre"}:         false,
		{"processor-vm", "internal/porter"}:                 false,
		{"internal/egress", "internal/firewallfile"}:        true,
		{"internal/armfirewall", "internal/firewalltest"}:   true,
		{"internal/cosmos/cosmostest", "internal/cosmos"}:   false,
		{"internal/servicebus/sbtest", "internal/nodetest"}: false,
	}
	for c, broken := range cases {
		require.Equal(t, broken, violation(c[0], c[1]) != "", "%s imports %s", c[0], c[1])
	}
}
