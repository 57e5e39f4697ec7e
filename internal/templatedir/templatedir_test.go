package templatedir_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/pipeline"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/templatedir"
	"github.com/tre-go/tre/internal/tre"
)

// samples is the repository's templates directory, relative to this
// package's directory (where go test runs).
const samples = "../../templates"

var admin = tre.User{ID: "admin-id", Name: "admin", Roles: []string{"TREAdmin"}}

func newRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	s, err := sqlite.OpenStore(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return registry.New(s, func() time.Time {
		clock = clock.Add(time.Second)
		return clock
	})
}

var (
	workspaceKind = registry.Kind{Type: tre.TypeWorkspace}
	serviceKind   = registry.Kind{Type: tre.TypeWorkspaceService}
	vmKind        = registry.Kind{Type: tre.TypeUserResource, Parent: "tre-service-sandbox"}
)

func TestLoadSamples(t *testing.T) {
	ts, err := templatedir.Load(samples)
	require.NoError(t, err)
	type summary struct {
		dir     string
		kind    registry.Kind
		name    string
		version string
		actions []tre.CustomAction
		title   any
	}
	var got []summary
	for _, tt := range ts {
		rel, err := filepath.Rel(samples, tt.Dir)
		require.NoError(t, err)
		got = append(got, summary{rel, tt.Kind, tt.Registration.Name, tt.Registration.Version, tt.Registration.CustomActions, tt.Registration.JSONSchema["title"]})
		require.False(t, tt.Registration.Current, "the registry makes the first version current")
	}
	sharedKind := registry.Kind{Type: tre.TypeSharedService}
	require.Equal(t, []summary{
		{"workspaces/base", workspaceKind, "tre-workspace-base", "0.1.0", nil, "Base Workspace"},
		{"workspaces/sandbox", workspaceKind, "tre-workspace-sandbox", "0.1.0", nil, "Sandbox Workspace"},
		{"workspace_services/sandbox", serviceKind, "tre-service-sandbox", "0.1.0",
			[]tre.CustomAction{{Name: "restart", Description: "Restart the sandbox service (simulated: counts the restarts)"}}, "Sandbox Workspace Service"},
		{"shared_services/gitea", sharedKind, "tre-shared-service-gitea", "0.1.0", nil, "Source Mirror (Gitea)"},
		{"shared_services/nexus", sharedKind, "tre-shared-service-sonatype-nexus", "0.1.0", nil, "Package Mirror (Nexus)"},
		{"workspace_services/sandbox/user_resources/sandbox-vm", vmKind, "tre-user-resource-sandbox-vm", "0.1.0",
			[]tre.CustomAction{{Name: "start", Description: "Start the sandbox VM"}, {Name: "stop", Description: "Stop the sandbox VM"}}, "Sandbox VM"},
	}, got)
}

func TestRegisterSamples(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	ts, err := templatedir.Load(samples)
	require.NoError(t, err)
	// Children first on purpose: RegisterAll puts parents first.
	slices.Reverse(ts)

	done, err := templatedir.RegisterAll(ctx, reg, ts, admin)
	require.NoError(t, err, "every sample template is valid for the API")
	require.Len(t, done, 6)

	for _, c := range []struct {
		kind registry.Kind
		name string
	}{{workspaceKind, "tre-workspace-sandbox"}, {workspaceKind, "tre-workspace-base"}, {serviceKind, "tre-service-sandbox"},
		{vmKind, "tre-user-resource-sandbox-vm"}, {registry.Kind{Type: tre.TypeSharedService}, "tre-shared-service-gitea"},
		{registry.Kind{Type: tre.TypeSharedService}, "tre-shared-service-sonatype-nexus"}} {
		got, err := reg.Current(ctx, c.kind, c.name)
		require.NoError(t, err, c.name)
		require.Equal(t, "0.1.0", got.Version)
		require.True(t, got.Current)
	}

	again, err := templatedir.RegisterAll(ctx, reg, ts, admin)
	require.NoError(t, err)
	require.Empty(t, again, "what is registered is skipped")
}

// registered registers the samples and returns one of them as stored.
func registered(t *testing.T, kind registry.Kind, name string) *tre.Template {
	t.Helper()
	ctx := context.Background()
	reg := newRegistry(t)
	ts, err := templatedir.Load(samples)
	require.NoError(t, err)
	_, err = templatedir.RegisterAll(ctx, reg, ts, admin)
	require.NoError(t, err)
	tmpl, err := reg.Current(ctx, kind, name)
	require.NoError(t, err)
	return tmpl
}

func TestSampleSchemasValidateLikeTheAPI(t *testing.T) {
	tests := []struct {
		name     string
		kind     registry.Kind
		template string
		props    map[string]any
		wantErr  string
	}{
		{"workspace", workspaceKind, "tre-workspace-sandbox",
			map[string]any{"display_name": "W", "description": "d", "address_space_size": "small", "install_seconds": 5, "fail_install": true}, ""},
		{"workspace without size: its default", workspaceKind, "tre-workspace-sandbox",
			map[string]any{"display_name": "W", "description": "d"}, ""},
		{"workspace without a name", workspaceKind, "tre-workspace-sandbox",
			map[string]any{"description": "d"}, "display_name"},
		{"workspace custom size needs an address space", workspaceKind, "tre-workspace-sandbox",
			map[string]any{"display_name": "W", "description": "d", "address_space_size": "custom"}, "address_space"},
		{"workspace custom size", workspaceKind, "tre-workspace-sandbox",
			map[string]any{"display_name": "W", "description": "d", "address_space_size": "custom", "address_space": "10.2.0.0/24"}, ""},
		{"workspace unknown property", workspaceKind, "tre-workspace-sandbox",
			map[string]any{"display_name": "W", "description": "d", "address_space_size": "small", "colour": "blue"}, "colour"},
		{"service", serviceKind, "tre-service-sandbox",
			map[string]any{"display_name": "S", "description": "d", "max_vms": 3}, ""},
		{"service fail_install must be boolean", serviceKind, "tre-service-sandbox",
			map[string]any{"display_name": "S", "description": "d", "max_vms": 3, "fail_install": "yes"}, "fail_install"},
		{"vm", vmKind, "tre-user-resource-sandbox-vm",
			map[string]any{"display_name": "V", "description": "d", "vm_size": "small", "admin_password": "long enough"}, ""},
		{"vm short password", vmKind, "tre-user-resource-sandbox-vm",
			map[string]any{"display_name": "V", "description": "d", "vm_size": "small", "admin_password": "short"}, "admin_password"},
		{"vm install_seconds negative", vmKind, "tre-user-resource-sandbox-vm",
			map[string]any{"display_name": "V", "description": "d", "vm_size": "small", "admin_password": "long enough", "install_seconds": -1}, "install_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := schema.NewValidator(registered(t, tt.kind, tt.template))
			require.NoError(t, err)
			err = v.ValidateCreate(tt.props)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSampleVMPasswordIsSensitive(t *testing.T) {
	v, err := schema.NewValidator(registered(t, vmKind, "tre-user-resource-sandbox-vm"))
	require.NoError(t, err)
	require.Equal(t, []string{"/admin_password"}, v.SensitivePointers(map[string]any{"admin_password": "x", "vm_size": "small"}))
	require.False(t, v.Updateable()["admin_password"])
	require.True(t, v.Updateable()["vm_size"])
}

// The VM's pipeline keeps the service's vm_names: applied with the API's
// substitution code, install appends the VM, upgrade renames it, uninstall
// removes it, and each result is a valid update of the service.
func TestSampleVMPipelineKeepsTheServiceVMList(t *testing.T) {
	vm := registered(t, vmKind, "tre-user-resource-sandbox-vm")
	service := registered(t, serviceKind, "tre-service-sandbox")
	serviceValidator, err := schema.NewValidator(service)
	require.NoError(t, err)
	require.True(t, serviceValidator.Updateable()["vm_names"])

	var ids []string
	for _, action := range []string{tre.ActionInstall, tre.ActionUpgrade, tre.ActionUninstall} {
		steps := vm.Pipeline.Steps(action)
		require.Len(t, steps, 2, action)
		require.Equal(t, tre.MainStepID, steps[0].StepID, "the VM itself first")
		require.Equal(t, tre.TypeWorkspaceService, steps[1].ResourceType)
		require.Equal(t, "tre-service-sandbox", steps[1].ResourceTemplateName)
		require.Equal(t, tre.ActionUpgrade, steps[1].ResourceAction)
		ids = append(ids, steps[1].StepID)
	}
	slices.Sort(ids)
	require.Len(t, slices.Compact(ids), 3, "step ids are unique across the pipeline")

	source := func(name string) pipeline.Source {
		return pipeline.Source{Type: tre.TypeUserResource, Resource: map[string]any{
			"id": "vm-1", "properties": map[string]any{"display_name": name},
		}}
	}
	other := map[string]any{"id": "vm-0", "name": "Other"}
	current := map[string]any{"vm_names": []any{other}}
	for _, c := range []struct {
		action, name string
		want         []any
	}{
		{tre.ActionInstall, "Analysis", []any{other, map[string]any{"id": "vm-1", "name": "Analysis"}}},
		{tre.ActionUpgrade, "Renamed", []any{other, map[string]any{"id": "vm-1", "name": "Renamed"}}},
		{tre.ActionUninstall, "Renamed", []any{other}},
	} {
		patch, err := pipeline.Apply(vm.Pipeline.Steps(c.action)[1].Properties, source(c.name), current)
		require.NoError(t, err, c.action)
		require.Equal(t, map[string]any{"vm_names": c.want}, patch, c.action)
		require.NoError(t, serviceValidator.ValidateUpdate(patch), c.action)
		current = patch
	}
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

const schemaJSON = `{"title": "T", "description": "D", "type": "object", "properties": {}}`

func manifestYAML(name, version string) string {
	return "schemaVersion: 1.0.0\nname: " + name + "\nversion: " + version + "\nmixins: [exec]\n"
}

func TestLoadReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"elsewhere/x/porter.yaml":                                      manifestYAML("x", "1.0.0"),
		"elsewhere/x/template_schema.json":                             schemaJSON,
		"workspaces/no-manifest/template_schema.json":                  schemaJSON,
		"workspaces/bad-json/porter.yaml":                              manifestYAML("bad-json", "1.0.0"),
		"workspaces/bad-json/template_schema.json":                     `{"title": `,
		"workspaces/no-version/porter.yaml":                            "name: no-version\n",
		"workspaces/no-version/template_schema.json":                   schemaJSON,
		"workspaces/a/porter.yaml":                                     manifestYAML("same", "1.0.0"),
		"workspaces/a/template_schema.json":                            schemaJSON,
		"workspaces/b/porter.yaml":                                     manifestYAML("same", "1.0.0"),
		"workspaces/b/template_schema.json":                            schemaJSON,
		"workspace_services/svc/porter.yaml":                           manifestYAML("svc", "1.0.0"),
		"workspace_services/svc/user_resources/u/porter.yaml":          manifestYAML("u", "1.0.0"),
		"workspace_services/svc/user_resources/u/template_schema.json": schemaJSON,
		"workspaces/just-a-bundle/porter.yaml":                         manifestYAML("helper", "1.0.0"),
	})
	_, err := templatedir.Load(dir)
	require.Error(t, err)
	for _, want := range []string{
		filepath.Join(dir, "elsewhere/x") + ": a template must be in workspaces/<dir>",
		filepath.Join(dir, "workspaces/no-manifest") + ": template_schema.json has no porter.yaml beside it",
		filepath.Join(dir, "workspaces/bad-json/template_schema.json") + ": unexpected end of JSON input",
		filepath.Join(dir, "workspaces/no-version/porter.yaml") + ": a porter manifest needs a name and a version",
		"both define same 1.0.0",
		"a user resource's service " + filepath.Join(dir, "workspace_services/svc") + " is not a template",
	} {
		require.ErrorContains(t, err, want)
	}
	require.NotContains(t, err.Error(), "just-a-bundle", "a porter.yaml without a schema is not a template")
}

func TestLoadCustomActionsLikePorterExplain(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"shared_services/s/porter.yaml": manifestYAML("s", "1.0.0") + `
customActions:
  rotate:
    description: "Rotate the keys"
rotate:
  - exec: {command: "true"}
undeclared:
  - exec: {command: "true"}
install:
  - exec: {command: "true"}
`,
		"shared_services/s/template_schema.json": schemaJSON,
	})
	ts, err := templatedir.Load(dir)
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.Equal(t, registry.Kind{Type: tre.TypeSharedService}, ts[0].Kind)
	require.Equal(t, []tre.CustomAction{
		{Name: "rotate", Description: "Rotate the keys"},
		{Name: "undeclared", Description: "undeclared"},
	}, ts[0].Registration.CustomActions)
}

func TestRegisterAllVersionsAndRefusals(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"workspaces/v2/porter.yaml":                manifestYAML("ws", "2.0.0"),
		"workspaces/v2/template_schema.json":       schemaJSON,
		"workspaces/v1/porter.yaml":                manifestYAML("ws", "1.0.0"),
		"workspaces/v1/template_schema.json":       schemaJSON,
		"shared_services/bad/porter.yaml":          manifestYAML("bad", "1.0.0"),
		"shared_services/bad/template_schema.json": `{"title": "T", "type": "object"}`,
	})
	ts, err := templatedir.Load(dir)
	require.NoError(t, err)

	done, err := templatedir.RegisterAll(ctx, reg, ts, admin)
	require.ErrorContains(t, err, "templatedir: register bad 1.0.0 from "+filepath.Join(dir, "shared_services/bad"))
	require.ErrorContains(t, err, "the schema needs a description")
	require.True(t, tre.IsCode(err, tre.CodeInvalid), "the registry's error is kept")
	require.Len(t, done, 2, "the workspaces went first")
	require.Equal(t, "1.0.0", done[0].Registration.Version)

	cur, err := reg.Current(ctx, workspaceKind, "ws")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", cur.Version, "the first version of a name is current")
}

// Every sandbox bundle carries its own lib.sh (a bundle is built from its
// own directory); the copies must not drift apart.
func TestSampleBundlesShareOneLib(t *testing.T) {
	var libs []string
	err := filepath.WalkDir(samples, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "lib.sh" {
			libs = append(libs, path)
		}
		return err
	})
	require.NoError(t, err)
	require.Len(t, libs, 3)
	first, err := os.ReadFile(libs[0])
	require.NoError(t, err)
	for _, l := range libs[1:] {
		b, err := os.ReadFile(l)
		require.NoError(t, err)
		require.Equal(t, string(first), string(b), "%s differs from %s", l, libs[0])
	}
}
