package infracheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// Every cloud-init file Terraform renders (the processor VM's, the
// mirrors'), rendered as templatefile() does, is checked with cloud-init's
// own schema validator (`cloud-init schema --config-file`, from Debian's
// cloud-init package): a key of the wrong type or shape is refused there,
// not found at first boot.

// cloudInitTemplate is one templatefile() of a cloud-init file.
type cloudInitTemplate struct {
	where string   // the call, file:line
	path  string   // the template
	vars  []string // the variables the call passes
}

// cloudInitTemplates returns the templatefile() calls of roots whose
// template is a cloud-init file (#cloud-config).
func cloudInitTemplates(roots ...string) ([]cloudInitTemplate, error) {
	var out []cloudInitTemplate
	for _, root := range roots {
		files, err := tfFiles(root)
		if err != nil {
			return nil, err
		}
		dirs := map[string]bool{}
		for _, f := range files {
			dirs[filepath.Dir(f)] = true
		}
		for _, dir := range sortedKeys(dirs) {
			m, err := loadModule(dir)
			if err != nil {
				return nil, err
			}
			for _, body := range m.bodies {
				for _, c := range findCalls(body, "templatefile") {
					if len(c.Args) != 2 {
						continue
					}
					path := filepath.Join(dir, exprSource(c.Args[0]))
					src, err := os.ReadFile(path)
					if err != nil || !bytes.HasPrefix(src, []byte("#cloud-config\n")) {
						continue
					}
					keys, err := m.objectKeys(c.Args[1])
					if err != nil {
						return nil, err
					}
					out = append(out, cloudInitTemplate{where: rangeOf(c), path: path, vars: sortedKeys(keys)})
				}
			}
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// renderTemplate renders a Terraform template file with a sample value
// for each variable: a list of one string for a variable a for directive
// iterates, a plain word otherwise.
func renderTemplate(path string, vars []string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	expr, diags := hclsyntax.ParseTemplate(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return "", fmt.Errorf("%s: %s", path, diags.Error())
	}
	lists := map[string]bool{}
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if f, ok := n.(*hclsyntax.ForExpr); ok {
			if t, ok := f.CollExpr.(*hclsyntax.ScopeTraversalExpr); ok {
				lists[t.Traversal.RootName()] = true
			}
		}
		return nil
	})
	values := map[string]cty.Value{}
	for _, v := range vars {
		if lists[v] {
			values[v] = cty.TupleVal([]cty.Value{cty.StringVal("https://example.org/sample-" + v + ".git")})
		} else {
			values[v] = cty.StringVal("sample-" + strings.ReplaceAll(v, "_", "-"))
		}
	}
	out, diags := expr.Value(&hcl.EvalContext{Variables: values})
	if diags.HasErrors() {
		return "", fmt.Errorf("%s: %s", path, diags.Error())
	}
	return out.AsString(), nil
}

// checkCloudInitSchema runs cloud-init's schema validator on a rendered
// cloud-config and returns its complaint, "" when it is valid.
func checkCloudInitSchema(t *testing.T, rendered string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user-data.yaml")
	require.NoError(t, os.WriteFile(path, []byte(rendered), 0o600))
	out, err := exec.Command("cloud-init", "schema", "--config-file", path).CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out))
	}
	return ""
}

// haveCloudInit reports whether cloud-init is installed; without it the
// test skips, or fails when TRE_REQUIRE_CLOUDINIT=1 (CI installs it).
func haveCloudInit(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("cloud-init"); err == nil {
		return true
	}
	if os.Getenv("TRE_REQUIRE_CLOUDINIT") == "1" {
		t.Fatal("cloud-init is not installed, and TRE_REQUIRE_CLOUDINIT=1 requires it (apt-get install cloud-init)")
	}
	t.Skip("cloud-init not installed: cloud-init files are not checked against its schema (apt-get install cloud-init; TRE_REQUIRE_CLOUDINIT=1 makes this a failure)")
	return false
}

func TestCloudInitFilesFollowCloudInitsSchema(t *testing.T) {
	templates, err := cloudInitTemplates(infraDir, templatesDir)
	require.NoError(t, err)
	var paths []string
	for _, c := range templates {
		paths = append(paths, filepath.Base(filepath.Dir(c.path))+"/"+filepath.Base(c.path))
	}
	require.ElementsMatch(t, []string{"processor-vm/cloud-init.yaml", "terraform/cloud-init.yaml", "terraform/cloud-init.yaml"}, paths,
		"the processor VM's and the two mirrors' cloud-init")
	if !haveCloudInit(t) {
		return
	}
	for _, c := range templates {
		rendered, err := renderTemplate(c.path, c.vars)
		require.NoError(t, err, c.where)
		require.Empty(t, checkCloudInitSchema(t, rendered), "%s (rendered by %s) against cloud-init's schema", c.path, c.where)
	}
}
