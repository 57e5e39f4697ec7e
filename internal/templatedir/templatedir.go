// Package templatedir finds the templates of a templates directory laid out
// as AzureTRE's, and registers them in the template registry: what
// AzureTRE's registration scripts do with `porter explain`, without Porter.
//
// A template is a directory holding a porter.yaml beside a
// template_schema.json; package bundle finds them and gives each its kind
// from where it is (bundle.Index.Templates). The name and version come from
// porter.yaml, the JSON Schema (with its pipeline) from
// template_schema.json, and the custom actions from what `porter explain`
// would list (bundle.Manifest.Explain). A porter.yaml without a
// template_schema.json is a bundle but not a template, and is left alone.
package templatedir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// Template is one template found in the directory.
type Template struct {
	// Dir is the template's directory.
	Dir string
	// Kind is the template's resource type, from where Dir is, and for a
	// user resource the name of its service's template.
	Kind registry.Kind
	// Manifest is the template's porter.yaml.
	Manifest *bundle.Manifest
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
	ix, err := bundle.Scan(dir)
	if err != nil {
		return nil, fmt.Errorf("templatedir: %w", err)
	}
	found, problems := ix.Templates()
	var out []Template
	for _, bt := range found {
		t, err := load(bt)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, t)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("templatedir: %s: %w", dir, errors.Join(problems...))
	}
	sortTemplates(out)
	return out, nil
}

// load reads a template's porter.yaml and schema.
func load(bt bundle.Template) (Template, error) {
	m, err := bundle.Read(bt.Manifest)
	if err != nil {
		return Template{}, err
	}
	b, err := os.ReadFile(bt.Schema)
	if err != nil {
		return Template{}, err
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil || schema == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return Template{}, fmt.Errorf("%s: %w", bt.Schema, err)
	}
	return Template{
		Dir:          bt.Dir,
		Kind:         registry.Kind{Type: bt.Type, Parent: bt.Parent},
		Manifest:     m,
		Registration: Registration(m.Explain(), schema),
	}, nil
}

// Registration is what AzureTRE's registration script sends for a bundle
// whose `porter explain -o json` is e, beside its schema: the explanation
// with json_schema added (resourceType is the route's, and current is
// left false: the registry makes the first version of a name current).
func Registration(e bundle.Explanation, schema map[string]any) registry.Registration {
	return registry.Registration{
		Name: e.Name, Version: e.Version, JSONSchema: schema, CustomActions: bundle.CustomActionsOf(e),
		Description: e.Description, Parameters: e.Parameters, Credentials: e.Credentials, Outputs: e.Outputs,
		Mixins: e.Mixins,
	}
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
