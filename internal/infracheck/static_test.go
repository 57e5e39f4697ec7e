package infracheck

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/templatedir"
	"github.com/tre-go/tre/internal/tre"
)

// checkTerraformFiles parses every .tf file under each root and compares it
// with its canonical formatting (hclwrite.Format, what `terraform fmt`
// applies).
func checkTerraformFiles(roots ...string) ([]string, int, error) {
	var p problems
	count := 0
	for _, root := range roots {
		files, err := tfFiles(root)
		if err != nil {
			return nil, 0, err
		}
		parser := hclparse.NewParser()
		for _, f := range files {
			count++
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, 0, err
			}
			if _, diags := parser.ParseHCL(src, f); diags.HasErrors() {
				p.addf("%s: does not parse: %s", f, diags.Error())
				continue
			}
			if !bytes.Equal(hclwrite.Format(src), src) {
				p.addf("%s: not formatted (run terraform fmt)", f)
			}
		}
	}
	return p.sorted(), count, nil
}

func TestTerraformParsesAndIsFormatted(t *testing.T) {
	got, n, err := checkTerraformFiles(infraDir, templatesDir)
	require.NoError(t, err)
	require.Greater(t, n, 20, "infra/ and templates/ hold the Terraform of the core and the bundles")
	require.Empty(t, got)
}

// newRegistry is a template registry on an SQLite store in a temporary
// directory.
func newRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	s, err := sqlite.OpenStore(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return registry.New(s, time.Now)
}

func TestTemplatesRegister(t *testing.T) {
	ts, err := templatedir.Load(templatesDir)
	require.NoError(t, err)
	done, err := templatedir.RegisterAll(context.Background(), newRegistry(t), ts,
		tre.User{ID: "infracheck", Name: "infracheck", Roles: []string{"TREAdmin"}})
	require.NoError(t, err, "every template_schema.json registers against the registry")
	require.Len(t, done, len(ts))
	var got []string
	for _, tt := range ts {
		got = append(got, tt.Registration.Name)
	}
	for _, name := range []string{"tre-workspace-base", "tre-shared-service-gitea", "tre-shared-service-sonatype-nexus"} {
		require.Contains(t, got, name, "the Azure bundles are templates")
	}
}

// The local runner indexes every porter.yaml under the templates directory
// when `make run` starts: the Azure bundles must not stop it (it refuses
// their terraform steps only when asked to run them).
func TestLocalRunnerAcceptsTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	_, err := localrunner.New(localrunner.Config{TemplatesDir: templatesDir, StateDir: filepath.Join(dir, "state"), WorkDir: filepath.Join(dir, "work")})
	require.NoError(t, err)
}

// notPassedToBundles are schema properties a bundle need not declare as
// parameters, and why. The processor passes a property only to a bundle
// that declares it (porter explain), so leaving one out is a decision.
var notPassedToBundles = map[string]string{
	"description":        "display text (required by the API for every resource); only bundles that use it, e.g. to tag resources, declare it",
	"overview":           "display text (markdown) for the UI; only bundles that use it declare it",
	"address_space_size": "read by the API to allocate the workspace's address space; the bundle gets the result in address_spaces",
	"address_space":      "the input of a custom allocation, read by the API; the bundle gets the result in address_spaces",
}

// schemaProperties returns the properties a template's schema promises:
// those of the base schema every template gets (display_name, description,
// overview), its own, and those of its allOf branches (then/else).
func schemaProperties(schema map[string]any) []string {
	seen := map[string]bool{"display_name": true, "description": true, "overview": true}
	add := func(node any) {
		if m, ok := node.(map[string]any); ok {
			if props, ok := m["properties"].(map[string]any); ok {
				for k := range props {
					seen[k] = true
				}
			}
		}
	}
	add(schema)
	if all, ok := schema["allOf"].([]any); ok {
		for _, branch := range all {
			if b, ok := branch.(map[string]any); ok {
				add(b["then"])
				add(b["else"])
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// egressReference finds the properties a template's egress declaration
// reads: {{ resource.properties.<name> }}.
var egressReference = regexp.MustCompile(`\{\{\s*resource\.properties\.([A-Za-z0-9_]+)`)

// egressProperties returns the properties the template's egress
// declaration reads. The control plane (the firewall service) consumes
// them, so the bundle need not declare them.
func egressProperties(schema map[string]any) map[string]bool {
	out := map[string]bool{}
	eg, ok := schema["egress"]
	if !ok {
		return out
	}
	b, err := json.Marshal(eg)
	if err != nil {
		return out
	}
	for _, m := range egressReference.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	return out
}

// checkPorterParameters checks that every template's porter.yaml parses and
// declares every property its schema promises, less notPassedToBundles and
// those only the template's egress declaration reads.
func checkPorterParameters(dir string) ([]string, error) {
	ts, err := templatedir.Load(dir)
	if err != nil {
		return nil, err
	}
	var p problems
	for _, tt := range ts {
		manifest := tt.Manifest.File
		params := map[string]bool{}
		for _, mp := range tt.Manifest.Parameters {
			params[mp.Name] = true
		}
		egress := egressProperties(tt.Registration.JSONSchema)
		for _, prop := range schemaProperties(tt.Registration.JSONSchema) {
			if _, exempt := notPassedToBundles[prop]; exempt || egress[prop] {
				continue
			}
			if !params[prop] {
				p.addf("%s: template_schema.json promises %s, but porter.yaml declares no such parameter", manifest, prop)
			}
		}
	}
	return p.sorted(), nil
}

func TestPorterDeclaresSchemaProperties(t *testing.T) {
	got, err := checkPorterParameters(templatesDir)
	require.NoError(t, err)
	require.Empty(t, got)
}

// checkTemplatefileCalls finds every templatefile("${path.module}/...",
// {...}) in the Terraform modules under root and checks that the template
// parses and that every variable it uses is passed (templatefile fails on
// the first one missing, at apply time).
func checkTemplatefileCalls(root string) ([]string, int, error) {
	files, err := tfFiles(root)
	if err != nil {
		return nil, 0, err
	}
	dirs := map[string]bool{}
	for _, f := range files {
		dirs[filepath.Dir(f)] = true
	}
	var p problems
	calls := 0
	for dir := range dirs {
		m, err := loadModule(dir)
		if err != nil {
			return nil, 0, err
		}
		for _, body := range m.bodies {
			for _, c := range findCalls(body, "templatefile") {
				calls++
				where := rangeOf(c)
				tmpl, ok := c.Args[0].(*hclsyntax.TemplateExpr)
				if len(c.Args) != 2 || !ok || len(tmpl.Parts) != 2 || !strings.HasPrefix(exprSource(c.Args[0]), "/") {
					p.addf("%s: templatefile's path is not \"${path.module}/<file>\"", where)
					continue
				}
				path := filepath.Join(dir, exprSource(c.Args[0]))
				used, err := templatePlaceholders(path)
				if err != nil {
					p.addf("%s: %s", where, err)
					continue
				}
				keys, err := m.objectKeys(c.Args[1])
				if err != nil {
					p.addf("%s: %s", where, err)
					continue
				}
				for _, v := range used {
					if _, ok := keys[v]; !ok {
						p.addf("%s: %s uses ${%s}, which is not passed", where, path, v)
					}
				}
			}
		}
	}
	return p.sorted(), calls, nil
}

func TestTemplatefileCallsPassEveryVariable(t *testing.T) {
	total := 0
	for _, root := range []string{infraDir, templatesDir} {
		got, n, err := checkTemplatefileCalls(root)
		require.NoError(t, err)
		require.Empty(t, got)
		total += n
	}
	require.Equal(t, 3, total, "the processor's and the two mirrors' cloud-init")
}
