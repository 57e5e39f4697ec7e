// Package templatedir finds the templates of a templates directory laid out
// as AzureTRE's, and registers them in the template registry: what
// AzureTRE's registration scripts do with `porter explain`, without Porter.
//
// A template is a directory holding a porter.yaml beside a
// template_schema.json. Its kind comes from where it is:
//
//	workspaces/<dir>/                                   workspace
//	workspace_services/<dir>/                           workspace service
//	workspace_services/<svc>/user_resources/<dir>/      user resource of the service in <svc>
//	shared_services/<dir>/                              shared service
//
// The name and version come from porter.yaml, the JSON Schema (with its
// pipeline) from template_schema.json, and the custom actions from
// porter.yaml's customActions. A porter.yaml without a template_schema.json
// is a bundle but not a template, and is left alone.
package templatedir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

const (
	manifestFile = "porter.yaml"
	schemaFile   = "template_schema.json"
)

// Template is one template found in the directory.
type Template struct {
	// Dir is the template's directory.
	Dir string
	// Kind is the template's resource type, from where Dir is, and for a
	// user resource the name of its service's template.
	Kind registry.Kind
	// Registration is what to register: name and version from porter.yaml,
	// the JSON Schema from template_schema.json, custom actions from
	// porter.yaml. Current is left false: the registry makes the first
	// version of a name current.
	Registration registry.Registration
}

// Load finds every template under dir. It reports every problem it finds
// at once: a template in a place that gives it no kind, a schema without a
// porter.yaml, a user resource whose service is not a template, unreadable
// files, two templates with one name and version.
func Load(dir string) ([]Template, error) {
	dirs := map[string][]string{} // directory -> the template files in it
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == manifestFile || d.Name() == schemaFile {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], d.Name())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templatedir: %w", err)
	}

	var problems []error
	var out []Template
	for _, d := range sortedKeys(dirs) {
		files := dirs[d]
		if !slices.Contains(files, schemaFile) {
			continue
		}
		if !slices.Contains(files, manifestFile) {
			problems = append(problems, fmt.Errorf("%s: %s has no %s beside it", d, schemaFile, manifestFile))
			continue
		}
		t, err := load(dir, d)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, t)
	}
	seen := map[string]string{}
	for _, t := range out {
		key := fmt.Sprintf("%s/%s/%s/%s", t.Kind.Type, t.Kind.Parent, t.Registration.Name, t.Registration.Version)
		if other, dup := seen[key]; dup {
			problems = append(problems, fmt.Errorf("%s and %s both define %s %s", other, t.Dir, t.Registration.Name, t.Registration.Version))
		}
		seen[key] = t.Dir
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("templatedir: %s: %w", dir, errors.Join(problems...))
	}
	sortTemplates(out)
	return out, nil
}

// load reads the template in directory d of the templates directory root.
func load(root, d string) (Template, error) {
	rel, err := filepath.Rel(root, d)
	if err != nil {
		return Template{}, err
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	var kind registry.Kind
	switch {
	case len(parts) == 2 && parts[0] == "workspaces":
		kind.Type = tre.TypeWorkspace
	case len(parts) == 2 && parts[0] == "workspace_services":
		kind.Type = tre.TypeWorkspaceService
	case len(parts) == 2 && parts[0] == "shared_services":
		kind.Type = tre.TypeSharedService
	case len(parts) == 4 && parts[0] == "workspace_services" && parts[2] == "user_resources":
		kind.Type = tre.TypeUserResource
		svc := filepath.Join(root, parts[0], parts[1])
		if _, err := os.Stat(filepath.Join(svc, schemaFile)); err != nil {
			return Template{}, fmt.Errorf("%s: a user resource's service %s is not a template (no %s)", d, svc, schemaFile)
		}
		parent, err := readManifest(filepath.Join(svc, manifestFile))
		if err != nil {
			return Template{}, fmt.Errorf("%s: its service: %w", d, err)
		}
		kind.Parent = parent.name
	default:
		return Template{}, fmt.Errorf("%s: a template must be in workspaces/<dir>, workspace_services/<dir>, "+
			"workspace_services/<dir>/user_resources/<dir> or shared_services/<dir>", d)
	}
	m, err := readManifest(filepath.Join(d, manifestFile))
	if err != nil {
		return Template{}, err
	}
	b, err := os.ReadFile(filepath.Join(d, schemaFile))
	if err != nil {
		return Template{}, err
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil || schema == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return Template{}, fmt.Errorf("%s: %w", filepath.Join(d, schemaFile), err)
	}
	return Template{
		Dir:  d,
		Kind: kind,
		Registration: registry.Registration{
			Name: m.name, Version: m.version, JSONSchema: schema, CustomActions: m.customActions,
		},
	}, nil
}

// manifest is what registration needs of a porter.yaml.
type manifest struct {
	name, version string
	customActions []tre.CustomAction
}

// nonActionKeys are the top-level porter.yaml keys that are not actions:
// Porter treats any other top-level list as a custom action.
var nonActionKeys = []string{
	"schemaType", "schemaVersion", "name", "version", "description", "maintainers", "registry",
	"reference", "dockerfile", "mixins", "customActions", "state", "parameters", "credentials",
	"dependencies", "outputs", "images", "custom", "required",
	tre.ActionInstall, tre.ActionUpgrade, tre.ActionUninstall,
}

// readManifest reads a porter.yaml's name, version and custom actions:
// those declared in customActions with their descriptions, and, as Porter
// lists them, undeclared ones described by their name.
func readManifest(path string) (manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return manifest{}, err
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(b, &top); err != nil {
		return manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	var m manifest
	var declared map[string]struct {
		Description string `yaml:"description"`
	}
	for key, node := range top {
		switch key {
		case "name":
			err = node.Decode(&m.name)
		case "version":
			err = node.Decode(&m.version)
		case "customActions":
			err = node.Decode(&declared)
		}
		if err != nil {
			return manifest{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
	}
	if m.name == "" || m.version == "" {
		return manifest{}, fmt.Errorf("%s: a porter manifest needs a name and a version", path)
	}
	for name, d := range declared {
		m.customActions = append(m.customActions, tre.CustomAction{Name: name, Description: d.Description})
	}
	for key, node := range top {
		if _, ok := declared[key]; ok || slices.Contains(nonActionKeys, key) || node.Kind != yaml.SequenceNode {
			continue
		}
		m.customActions = append(m.customActions, tre.CustomAction{Name: key, Description: key})
	}
	sort.Slice(m.customActions, func(i, j int) bool { return m.customActions[i].Name < m.customActions[j].Name })
	return m, nil
}

// kindOrder puts parents before their children.
var kindOrder = map[tre.ResourceType]int{
	tre.TypeWorkspace: 0, tre.TypeWorkspaceService: 1, tre.TypeSharedService: 2, tre.TypeUserResource: 3,
}

func sortTemplates(ts []Template) {
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if kindOrder[a.Kind.Type] != kindOrder[b.Kind.Type] {
			return kindOrder[a.Kind.Type] < kindOrder[b.Kind.Type]
		}
		if a.Kind.Parent != b.Kind.Parent {
			return a.Kind.Parent < b.Kind.Parent
		}
		if a.Registration.Name != b.Registration.Name {
			return a.Registration.Name < b.Registration.Name
		}
		return tre.CompareVersions(a.Registration.Version, b.Registration.Version) < 0
	})
}

// RegisterAll registers every template whose name and version the registry
// does not have yet, parents before children and lower versions first (so
// the first version of a name becomes current), and returns those it
// registered. Templates already registered are skipped. It stops at the
// first template the registry refuses, returning those registered before
// it and an error that names the template's directory and wraps the
// registry's *tre.Error.
func RegisterAll(ctx context.Context, reg *registry.Registry, templates []Template, user tre.User) ([]Template, error) {
	sorted := slices.Clone(templates)
	sortTemplates(sorted)
	var done []Template
	for _, t := range sorted {
		name, version := t.Registration.Name, t.Registration.Version
		_, err := reg.Get(ctx, t.Kind, name, version)
		if err == nil {
			continue
		}
		if !tre.IsCode(err, tre.CodeNotFound) {
			return done, fmt.Errorf("templatedir: %s %s: %w", name, version, err)
		}
		_, err = reg.Register(ctx, t.Kind, t.Registration, user)
		if tre.IsCode(err, tre.CodeConflict) {
			// Registered by someone else meanwhile.
			continue
		}
		if err != nil {
			return done, fmt.Errorf("templatedir: register %s %s from %s: %w", name, version, t.Dir, err)
		}
		done = append(done, t)
	}
	return done, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
