package registry_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

var admin = tre.User{ID: "admin-id", Name: "admin", Roles: []string{"TREAdmin"}}

func newRegistry(t *testing.T) (*registry.Registry, tre.Store) {
	t.Helper()
	s, err := sqlite.OpenStore(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return registry.New(s, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}), s
}

func reg(name, version string, current bool) registry.Registration {
	return registry.Registration{
		Name: name, Version: version, Current: current,
		JSONSchema: map[string]any{
			"$schema": "http://json-schema.org/draft-07/schema", "title": "T " + version, "description": "D",
			"type": "object", "required": []any{"size"},
			"properties": map[string]any{"size": map[string]any{"type": "string", "enum": []any{"s", "m"}}},
		},
		CustomActions: []tre.CustomAction{{Name: "start", Description: "Start it"}},
	}
}

var ws = registry.Kind{Type: tre.TypeWorkspace}

func currentVersion(t *testing.T, r *registry.Registry, k registry.Kind, name string) string {
	t.Helper()
	cur, err := r.Current(context.Background(), k, name)
	require.NoError(t, err)
	require.True(t, cur.Current)
	return cur.Version
}

func TestRegisterAndCurrent(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)

	t1, err := r.Register(ctx, ws, reg("base", "1.0.0", false), admin)
	require.NoError(t, err)
	require.True(t, t1.Current, "the first version of a name is current")
	require.Equal(t, "T 1.0.0", t1.Title)
	require.NotContains(t, t1.Schema, "$schema")

	t2, err := r.Register(ctx, ws, reg("base", "1.1.0", false), admin)
	require.NoError(t, err)
	require.False(t, t2.Current)
	require.Equal(t, "1.0.0", currentVersion(t, r, ws, "base"))

	t3, err := r.Register(ctx, ws, reg("base", "2.0.0", true), admin)
	require.NoError(t, err)
	require.True(t, t3.Current)
	require.Equal(t, "2.0.0", currentVersion(t, r, ws, "base"))

	_, err = r.Register(ctx, ws, reg("base", "1.1.0", true), admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Equal(t, "A template with the same version, or a newer version already exists", tre.ErrorMessage(err))
	require.Equal(t, "2.0.0", currentVersion(t, r, ws, "base"), "a rejected registration changes nothing")

	got, err := r.Get(ctx, ws, "base", "1.1.0")
	require.NoError(t, err)
	require.False(t, got.Current)
	_, err = r.Get(ctx, ws, "base", "9.9.9")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	_, err = r.Current(ctx, ws, "nope")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))

	// The same name in another kind is another template.
	other, err := r.Register(ctx, registry.Kind{Type: tre.TypeSharedService}, reg("base", "1.1.0", false), admin)
	require.NoError(t, err)
	require.True(t, other.Current)

	versions, err := r.Versions(ctx, ws, "base")
	require.NoError(t, err)
	var vs []string
	for _, v := range versions {
		vs = append(vs, v.Version)
		require.Equal(t, v.Version == "2.0.0", v.Current)
	}
	require.Equal(t, []string{"1.0.0", "1.1.0", "2.0.0"}, vs)

	list, err := r.List(ctx, ws)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "2.0.0", list[0].Version)
}

func TestMakeCurrentAndDeprecate(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		_, err := r.Register(ctx, ws, reg("base", v, false), admin)
		require.NoError(t, err)
	}
	yes, no := true, false
	got, err := r.UpdateVersion(ctx, ws, "base", "1.1.0", registry.Update{Current: &yes}, admin)
	require.NoError(t, err)
	require.True(t, got.Current)
	require.Equal(t, "1.1.0", currentVersion(t, r, ws, "base"))

	reason := "storage is recreated on upgrade"
	got, err = r.UpdateVersion(ctx, ws, "base", "1.0.0", registry.Update{Deprecated: &yes, DeprecationReason: &reason}, admin)
	require.NoError(t, err)
	require.True(t, got.Deprecated)
	require.Equal(t, reason, got.DeprecationReason)
	require.Equal(t, "admin", got.DeprecatedBy.Name)

	_, err = r.UpdateVersion(ctx, ws, "base", "1.0.0", registry.Update{Current: &yes}, admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err), "a deprecated version cannot become current")
	require.Equal(t, "1.1.0", currentVersion(t, r, ws, "base"))

	// Deprecating the current version withdraws the name from the list.
	_, err = r.UpdateVersion(ctx, ws, "base", "1.1.0", registry.Update{Deprecated: &yes}, admin)
	require.NoError(t, err)
	list, err := r.List(ctx, ws)
	require.NoError(t, err)
	require.Empty(t, list)

	got, err = r.UpdateVersion(ctx, ws, "base", "1.0.0", registry.Update{Deprecated: &no, Current: &yes}, admin)
	require.NoError(t, err)
	require.False(t, got.Deprecated)
	require.True(t, got.Current)
	require.Nil(t, got.DeprecatedBy)

	for name, u := range map[string]registry.Update{
		"empty":          {},
		"current false":  {Current: &no},
		"reason alone":   {DeprecationReason: &reason},
		"reason with no": {Deprecated: &no, DeprecationReason: &reason},
	} {
		_, err := r.UpdateVersion(ctx, ws, "base", "1.0.0", u, admin)
		require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err), name)
	}
	_, err = r.UpdateVersion(ctx, ws, "base", "3.0.0", registry.Update{Current: &yes}, admin)
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
}

func TestUserResourceTemplates(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	ur := registry.Kind{Type: tre.TypeUserResource, Parent: "guacamole"}
	_, err := r.Register(ctx, ur, reg("vm", "1.0.0", true), admin)
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	require.Equal(t, "Could not retrieve the workspace service template specified", tre.ErrorMessage(err))

	_, err = r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, reg("guacamole", "1.0.0", true), admin)
	require.NoError(t, err)
	_, err = r.Register(ctx, ur, reg("vm", "1.0.0", true), admin)
	require.NoError(t, err)
	_, err = r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, reg("gitea", "1.0.0", true), admin)
	require.NoError(t, err)

	list, err := r.List(ctx, ur)
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = r.List(ctx, registry.Kind{Type: tre.TypeUserResource, Parent: "gitea"})
	require.NoError(t, err)
	require.Empty(t, list, "user-resource templates hang under their parent")
	_, err = r.Current(ctx, registry.Kind{Type: tre.TypeUserResource, Parent: "gitea"}, "vm")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
}

func TestRegisterValidation(t *testing.T) {
	ctx := context.Background()
	r, s := newRegistry(t)
	withPipeline := func(p any) registry.Registration {
		g := reg("svc", "1.0.0", true)
		g.JSONSchema["pipeline"] = p
		return g
	}
	withEgress := func(e any) registry.Registration {
		g := reg("svc", "1.0.0", true)
		g.JSONSchema["egress"] = e
		return g
	}
	step := func(id string) map[string]any {
		return map[string]any{"stepId": id, "resourceType": "shared-service", "resourceTemplateName": "tre-shared-service-firewall",
			"resourceAction": "upgrade", "properties": []any{map[string]any{"name": "rule_collections", "type": "array",
				"arraySubstitutionAction": "replace", "arrayMatchField": "name", "value": map[string]any{"name": "x"}}}}
	}
	for name, tc := range map[string]struct {
		reg   registry.Registration
		code  tre.Code
		field string
	}{
		"bad name":    {registry.Registration{Name: "a b", Version: "1.0.0", JSONSchema: map[string]any{}}, tre.CodeInvalid, "name"},
		"bad version": {registry.Registration{Name: "a", Version: "1.0", JSONSchema: map[string]any{}}, tre.CodeInvalid, "version"},
		"no schema":   {registry.Registration{Name: "a", Version: "1.0.0"}, tre.CodeInvalid, "json_schema"},
		"builtin action": {func() registry.Registration {
			g := reg("a", "1.0.0", true)
			g.CustomActions = []tre.CustomAction{{Name: "install"}}
			return g
		}(), tre.CodeInvalid, "customActions[0].name"},
		"dup action": {func() registry.Registration {
			g := reg("a", "1.0.0", true)
			g.CustomActions = append(g.CustomActions, g.CustomActions[0])
			return g
		}(), tre.CodeInvalid, "customActions[1].name"},
		"broken schema": {func() registry.Registration {
			g := reg("a", "1.0.0", true)
			g.JSONSchema["required"] = "size"
			return g
		}(), tre.CodeInvalid, "json_schema"},
		"dup step ids":          {withPipeline(map[string]any{"install": []any{step("fw"), map[string]any{"stepId": "main"}}, "uninstall": []any{step("fw")}}), tre.CodeUnprocessable, "json_schema.pipeline.uninstall[0].stepId"},
		"two mains":             {withPipeline(map[string]any{"install": []any{map[string]any{"stepId": "main"}, map[string]any{"stepId": "main"}}}), tre.CodeUnprocessable, "json_schema.pipeline.install[1].stepId"},
		"unknown action":        {withPipeline(map[string]any{"reinstall": []any{}}), tre.CodeInvalid, ""},
		"pipeline not obj":      {withPipeline([]any{}), tre.CodeInvalid, "json_schema.pipeline"},
		"bad target type":       {withPipeline(map[string]any{"install": []any{func() map[string]any { s := step("x"); s["resourceType"] = "user-resource"; return s }()}}), tre.CodeInvalid, "json_schema.pipeline.install[0].resourceType"},
		"egress not obj":        {withEgress("x"), tre.CodeInvalid, "json_schema.egress"},
		"egress unknown member": {withEgress(map[string]any{"rules": []any{}}), tre.CodeInvalid, "json_schema.egress"},
		"egress wrong type":     {withEgress(map[string]any{"rule_collections": []any{map[string]any{"name": "c", "rules": []any{map[string]any{"name": "r", "target_fqdns": "pypi.org"}}}}}), tre.CodeInvalid, "json_schema.egress"},
		"shared service step without a template name": {withPipeline(map[string]any{"install": []any{func() map[string]any {
			s := step("x")
			delete(s, "resourceTemplateName")
			return s
		}()}}), tre.CodeInvalid, "json_schema.pipeline.install[0].resourceTemplateName"},
		"replace w/o match": {withPipeline(map[string]any{"install": []any{func() map[string]any {
			s := step("x")
			s["properties"] = []any{map[string]any{"name": "r", "type": "array", "arraySubstitutionAction": "replace"}}
			return s
		}()}}), tre.CodeInvalid, "json_schema.pipeline.install[0].properties[0].arrayMatchField"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, tc.reg, admin)
			require.Equal(t, tc.code, tre.ErrorCode(err), "err: %v", err)
			if tc.field != "" {
				var e *tre.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tc.field, e.Field, "err: %v", err)
			}
		})
	}
	all, err := s.Query(ctx, tre.ResourceTemplates, tre.Query{})
	require.NoError(t, err)
	require.Empty(t, all, "rejected registrations store nothing")

	// A valid pipeline is kept, out of the JSON schema. A step on the
	// parent workspace needs no template name (AzureTRE's guacamole,
	// gitea, ohdsi, azureml and databricks have such steps).
	parentStep := map[string]any{"stepId": "ws", "resourceType": "workspace", "resourceAction": "upgrade"}
	got, err := r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, withPipeline(map[string]any{
		"install":   []any{parentStep, map[string]any{"stepId": "main"}, step("fw")},
		"uninstall": []any{step("fw-remove"), map[string]any{"stepId": "main"}},
	}), admin)
	require.NoError(t, err)
	require.Len(t, got.Pipeline.Install, 3)
	require.Equal(t, tre.PipelineStep{StepID: "ws", ResourceType: tre.TypeWorkspace, ResourceAction: "upgrade"}, got.Pipeline.Install[0])
	require.NotContains(t, got.Schema, "pipeline")
	view := registry.View(got, false)
	require.Contains(t, view, "pipeline")
	require.Contains(t, view, "system_properties")
	require.ElementsMatch(t, []any{"display_name", "description", "size"}, view["required"])

	// An egress declaration may take whole values from the resource.
	egress := map[string]any{"rule_collections": []any{map[string]any{"name": "arc_web", "rules": []any{map[string]any{
		"name": "sites", "protocols": []any{map[string]any{"port": "443", "type": "Https"}},
		"target_fqdns": "{{ resource.properties.sites }}", "source_addresses": []any{"{{ resource.parent.properties.address_space }}"}}}}}}
	withE := withEgress(egress)
	withE.Version = "1.1.0"
	got, err = r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, withE, admin)
	require.NoError(t, err)
	require.Equal(t, egress, got.Egress)
	require.NotContains(t, got.Schema, "egress")
	require.Contains(t, registry.View(got, false), "egress")
}

func TestConcurrentRegistration(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Register(ctx, ws, reg("race", "1.0.0", true), admin)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
		}
	}
	require.Equal(t, 1, wins, "one registration of a version wins")

	// Racing "make current" calls leave exactly one current version.
	versions := []string{"1.1.0", "1.2.0", "1.3.0", "1.4.0"}
	for _, v := range versions {
		_, err := r.Register(ctx, ws, reg("race", v, false), admin)
		require.NoError(t, err)
	}
	yes := true
	errs = make([]error, len(versions))
	for i, v := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.UpdateVersion(ctx, ws, "race", v, registry.Update{Current: &yes}, admin)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	all, err := r.Versions(ctx, ws, "race")
	require.NoError(t, err)
	current := 0
	for _, v := range all {
		if v.Current {
			current++
		}
	}
	require.Equal(t, 1, current)
}

func TestUnregister(t *testing.T) {
	ctx := context.Background()
	r, st := newRegistry(t)
	k := registry.Kind{Type: tre.TypeWorkspace}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		_, err := r.Register(ctx, k, reg("ws", v, false), tre.User{})
		require.NoError(t, err)
	}
	res := func(id, version, status string) {
		_, err := tre.CreateAs(ctx, st, tre.Resources, id, tre.Resource{ID: id, TemplateName: "ws", TemplateVersion: version,
			ResourceType: tre.TypeWorkspace, ResourcePath: "/workspaces/" + id, DeploymentStatus: tre.Status(status)})
		require.NoError(t, err)
	}
	res("a", "1.1.0", "deployed")
	res("b", "1.1.0", "deleted")
	res("c", "1.0.0", "deleted")

	err := r.Unregister(ctx, k, "ws", "1.1.0")
	require.True(t, tre.IsCode(err, tre.CodeConflict))
	require.Contains(t, tre.ErrorMessage(err), "is used by 1 resource(s): /workspaces/a.")
	require.NotContains(t, tre.ErrorMessage(err), "/workspaces/b", "deleted resources aside")

	err = r.Unregister(ctx, k, "ws", "1.0.0")
	require.True(t, tre.IsCode(err, tre.CodeConflict), "the current version, with others left")
	require.Contains(t, tre.ErrorMessage(err), "is the current version")

	yes := true
	_, err = r.UpdateVersion(ctx, k, "ws", "1.1.0", registry.Update{Current: &yes}, tre.User{})
	require.NoError(t, err)
	require.NoError(t, r.Unregister(ctx, k, "ws", "1.0.0"))
	_, err = r.Get(ctx, k, "ws", "1.0.0")
	require.True(t, tre.IsCode(err, tre.CodeNotFound))
	require.True(t, tre.IsCode(r.Unregister(ctx, k, "ws", "1.0.0"), tre.CodeNotFound))
	versions, err := r.Versions(ctx, k, "ws")
	require.NoError(t, err)
	require.Len(t, versions, 1)
}

func TestMinimumParentVersionIsRegistered(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	rg := reg("svc", "1.0.0", false)
	s := rg.JSONSchema
	s["minimumParentVersion"] = "2.0.0"
	tmpl, err := r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, rg, tre.User{})
	require.NoError(t, err)
	require.Equal(t, "2.0.0", tmpl.MinimumParentVersion)
	require.Equal(t, "2.0.0", registry.View(tmpl, false)["minimumParentVersion"])

	s["minimumParentVersion"] = "two"
	rg.Version = "1.0.1"
	_, err = r.Register(ctx, registry.Kind{Type: tre.TypeWorkspaceService}, rg, tre.User{})
	require.True(t, tre.IsCode(err, tre.CodeInvalid))
	s["minimumParentVersion"] = "1.0.0"
	rg.Name = "ws"
	_, err = r.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, rg, tre.User{})
	require.True(t, tre.IsCode(err, tre.CodeInvalid), "a workspace has no parent")
}
