package bundle_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/tre"
)

func TestReadManifest(t *testing.T) {
	m, err := bundle.Read("testdata/explain/porter.yaml")
	require.NoError(t, err)
	require.Equal(t, "explain-me", m.Name)
	require.Equal(t, "1.2.3", m.Version)
	require.Equal(t, []string{"exec", "terraform", "az"}, m.Mixins)
	require.Equal(t, "testdata/explain", m.Dir())
	require.Equal(t, []string{"install", "upgrade", "uninstall", "restart", "rotate", "status"}, m.Actions())
	require.Equal(t, []string{"az", "exec", "terraform"}, m.MixinsOf("rotate"), "the mixins list and the action's steps")

	params := map[string]bundle.Parameter{}
	for _, p := range m.Parameters {
		params[p.Name] = p
	}
	tests := []struct {
		name, typ, env string
		required       bool
	}{
		{"tre_id", "string", "TRE_ID", true},
		{"size", "integer", "SIZE", false},
		{"password", "string", "SECRET", true},
		{"config_file", "file", "", true}, // to a path: a file, in no variable
		{"untyped", "string", "UNTYPED", false},
	}
	for _, tt := range tests {
		p := params[tt.name]
		require.Equal(t, tt.typ, p.DataType(), tt.name)
		require.Equal(t, tt.env, p.EnvName(), tt.name)
		require.Equal(t, tt.required, p.Required(), tt.name)
	}
	require.True(t, params["enabled"].AppliesTo("upgrade"))
	require.False(t, params["enabled"].AppliesTo("uninstall"))

	require.True(t, m.Credentials[0].Required, "a credential is required unless it says otherwise")
	require.False(t, m.Credentials[1].Required)
	steps, ok := m.Steps("rotate")
	require.True(t, ok)
	mixin, err := bundle.StepMixin(steps[0])
	require.NoError(t, err)
	require.Equal(t, "az", mixin)
}

func TestReadManifestProblems(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"no version", "name: x\n", "porter.yaml: a porter manifest needs a name and a version"},
		{"not a mapping", "- a\n", "not a porter manifest"},
		{"action not a list", "name: x\nversion: 1.0.0\ninstall: run\n", "porter.yaml: install: must be a list of steps"},
		{"nameless parameter", "name: x\nversion: 1.0.0\nparameters:\n  - type: string\n", "parameters[0] has no name"},
		{"bad mixins", "name: x\nversion: 1.0.0\nmixins: exec\n", "mixins: must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.Parse("porter.yaml", []byte(tt.yaml))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// The explanation of a manifest is what Porter prints for the bundle built
// from it, member for member.
func TestExplainLikePorter(t *testing.T) {
	m, err := bundle.Read("testdata/explain/porter.yaml")
	require.NoError(t, err)
	got, err := json.Marshal(m.Explain())
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/explain/explain.json")
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))

	// A bundle with no custom action steps explains no custom actions,
	// even declared ones, and lists its mixins as [] when it has none.
	bare, err := bundle.Parse("porter.yaml", []byte("name: b\nversion: 1.0.0\ncustomActions:\n  x: {description: d}\n"))
	require.NoError(t, err)
	got, err = json.Marshal(bare.Explain())
	require.NoError(t, err)
	require.JSONEq(t, `{"name": "b", "version": "1.0.0", "mixins": []}`, string(got))
}

func TestExplanationRoundTrip(t *testing.T) {
	b, err := os.ReadFile("testdata/explain/explain.json")
	require.NoError(t, err)
	var e bundle.Explanation
	require.NoError(t, json.Unmarshal(b, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(again))

	d := e.Declaration()
	require.Equal(t, []string{"az", "exec", "terraform"}, d.Mixins)
	byName := map[string]tre.BundleParameter{}
	for _, p := range d.Parameters {
		byName[p.Name] = p
	}
	require.Equal(t, tre.BundleParameter{Name: "enabled", Type: "boolean", Default: false, ApplyTo: []string{"install", "upgrade"}}, byName["enabled"])
	require.Nil(t, byName["tre_id"].ApplyTo, `"All Actions" is every action`)
	require.True(t, byName["password"].Sensitive)
	require.Equal(t, tre.BundleOutput{Name: "certificate", Type: "string", ApplyTo: []string{"install"}}, d.Outputs[0])
	require.Equal(t, []tre.CustomAction{
		{Name: "restart", Description: "restart"}, {Name: "rotate", Description: "Rotate the keys"},
		{Name: "status", Description: "Print a human readable status message to the standard output"},
	}, bundle.CustomActionsOf(e))
}

func TestApplyToJSON(t *testing.T) {
	tests := []struct {
		in   string
		want bundle.ApplyTo
	}{
		{`"All Actions"`, nil},
		{`"install"`, bundle.ApplyTo{"install"}},
		{`"install, upgrade"`, bundle.ApplyTo{"install", "upgrade"}},
		{`["uninstall"]`, bundle.ApplyTo{"uninstall"}},
		{`""`, nil},
	}
	for _, tt := range tests {
		var a bundle.ApplyTo
		require.NoError(t, json.Unmarshal([]byte(tt.in), &a), tt.in)
		require.Equal(t, tt.want, a, tt.in)
	}
	var a bundle.ApplyTo
	require.ErrorContains(t, json.Unmarshal([]byte(`3`), &a), "applyTo must be")
}

// write creates files under dir: path -> content.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		full := filepath.Join(dir, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
}

func manifest(name, version string) string {
	return "schemaVersion: 1.0.0\nname: " + name + "\nversion: " + version + "\nmixins: [exec]\n"
}

const schema = `{"title": "T", "description": "D"}`

func TestScanAndFind(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"a/porter.yaml":              manifest("one", "1.0.0"),
		"b/porter.yaml":              manifest("one", "2.0.0"),
		"c/porter.yaml":              manifest("two", "1.0.0"),
		"d/porter.yaml":              manifest("two", "1.0.0"),
		"broken/porter.yaml":         "name: [",
		".hidden/porter.yaml":        manifest("hidden", "1.0.0"),
		"x/node_modules/porter.yaml": manifest("module", "1.0.0"),
	})
	ix, err := bundle.Scan(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ix.Entries {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"one", "one", "", "two", "two"}, names, "sorted by directory; hidden and node_modules skipped")

	file, err := ix.Find("one", "2.0.0")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "b/porter.yaml"), file)

	_, err = ix.Find("one", "3.0.0")
	require.ErrorIs(t, err, bundle.ErrNotFound)
	require.EqualError(t, err, "bundle one has no version 3.0.0 under "+dir+": available: 1.0.0 (a/porter.yaml), 2.0.0 (b/porter.yaml)")

	_, err = ix.Find("three", "1.0.0")
	require.ErrorIs(t, err, bundle.ErrNotFound)
	require.ErrorContains(t, err, "no bundle named three under "+dir+" (bundles there: one, two); 1 porter.yaml could not be read: "+
		filepath.Join(dir, "broken/porter.yaml"))

	_, err = ix.Find("two", "1.0.0")
	require.NotErrorIs(t, err, bundle.ErrNotFound)
	require.EqualError(t, err, "bundle two 1.0.0 is defined twice: c/porter.yaml and d/porter.yaml")
}

func TestTemplates(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"workspaces/w/porter.yaml":                                      manifest("w", "1.0.0"),
		"workspaces/w/template_schema.json":                             schema,
		"workspace_services/s/porter.yaml":                              manifest("s", "1.0.0"),
		"workspace_services/s/template_schema.json":                     schema,
		"workspace_services/s/user_resources/u/porter.yaml":             manifest("u", "1.0.0"),
		"workspace_services/s/user_resources/u/template_schema.json":    schema,
		"shared_services/sh/porter.yaml":                                manifest("sh", "1.0.0"),
		"shared_services/sh/template_schema.json":                       schema,
		"shared_services/helper/porter.yaml":                            manifest("helper", "1.0.0"),
		"elsewhere/x/porter.yaml":                                       manifest("x", "1.0.0"),
		"elsewhere/x/template_schema.json":                              schema,
		"workspaces/lonely/template_schema.json":                        schema,
		"workspaces/w2/porter.yaml":                                     manifest("w", "1.0.0"),
		"workspaces/w2/template_schema.json":                            schema,
		"workspace_services/bare/porter.yaml":                           manifest("bare", "1.0.0"),
		"workspace_services/bare/user_resources/v/porter.yaml":          manifest("v", "1.0.0"),
		"workspace_services/bare/user_resources/v/template_schema.json": schema,
	})
	ix, err := bundle.Scan(dir)
	require.NoError(t, err)
	ts, problems := ix.Templates()
	type kind struct {
		name   string
		typ    tre.ResourceType
		parent string
	}
	var got []kind
	for _, tt := range ts {
		got = append(got, kind{tt.Name, tt.Type, tt.Parent})
	}
	require.Equal(t, []kind{
		{"sh", tre.TypeSharedService, ""},
		{"s", tre.TypeWorkspaceService, ""},
		{"u", tre.TypeUserResource, "s"},
		{"w", tre.TypeWorkspace, ""},
		{"w", tre.TypeWorkspace, ""},
	}, got, "every template with its kind; the helper bundle is not one")
	var texts []string
	for _, p := range problems {
		texts = append(texts, p.Error())
	}
	require.ElementsMatch(t, []string{
		filepath.Join(dir, "elsewhere/x") + ": a template must be in workspaces/<dir>, workspace_services/<dir>, workspace_services/<dir>/user_resources/<dir> or shared_services/<dir>",
		filepath.Join(dir, "workspace_services/bare/user_resources/v") + ": a user resource's service " + filepath.Join(dir, "workspace_services/bare") + " is not a template (no template_schema.json)",
		filepath.Join(dir, "workspaces/lonely") + ": template_schema.json has no porter.yaml beside it",
		filepath.Join(dir, "workspaces/w") + " and " + filepath.Join(dir, "workspaces/w2") + " both define w 1.0.0",
	}, texts)
}
