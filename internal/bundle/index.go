package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tre-go/tre/internal/tre"
)

// SchemaFile is the name of a template's JSON Schema, beside its
// porter.yaml.
const SchemaFile = "template_schema.json"

// ErrNotFound is wrapped by Find's error when no bundle has the name and
// version.
var ErrNotFound = errors.New("bundle not found")

// Entry is one directory of a templates directory that holds a
// porter.yaml, a template_schema.json or both.
type Entry struct {
	Dir string
	// Manifest is the path of the porter.yaml, "" when there is none.
	Manifest string
	// Schema is the path of the template_schema.json, "" when there is
	// none.
	Schema string
	// Name and Version are the porter.yaml's, empty when it could not be
	// read; Problem then says why.
	Name, Version string
	Problem       error
}

// Index is what a templates directory holds: every directory with a
// porter.yaml or a template_schema.json below it, sorted by path.
// Directories whose names start with "." and node_modules are skipped.
type Index struct {
	Root    string
	Entries []Entry
}

// Scan walks root once and reads the name and version of every
// porter.yaml. A porter.yaml that cannot be read is an Entry with a
// Problem, not a failure of the scan, so that one broken bundle does not
// hide the others; only a directory that cannot be walked fails it.
func Scan(root string) (*Index, error) {
	byDir := map[string]*Entry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != ManifestFile && d.Name() != SchemaFile {
			return nil
		}
		dir := filepath.Dir(path)
		e := byDir[dir]
		if e == nil {
			e = &Entry{Dir: dir}
			byDir[dir] = e
		}
		if d.Name() == SchemaFile {
			e.Schema = path
			return nil
		}
		e.Manifest = path
		e.Name, e.Version, e.Problem = readHead(path)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bundle: scan %s: %w", root, err)
	}
	ix := &Index{Root: root}
	for _, e := range byDir {
		ix.Entries = append(ix.Entries, *e)
	}
	sort.Slice(ix.Entries, func(i, j int) bool { return ix.Entries[i].Dir < ix.Entries[j].Dir })
	return ix, nil
}

// readHead reads a porter.yaml's name and version.
func readHead(path string) (name, version string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	var head struct {
		Name    string `yaml:"name"`
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	if head.Name == "" || head.Version == "" {
		return "", "", fmt.Errorf("%s: a porter manifest needs a name and a version", path)
	}
	return head.Name, head.Version, nil
}

// Find returns the porter.yaml of the bundle with name and version, and an
// error that says what is there when it is not: the versions of that name,
// or the names there are (wrapping ErrNotFound), or the two directories
// that define it.
func (ix *Index) Find(name, version string) (string, error) {
	var sameName, match []Entry
	var problems []string
	for _, e := range ix.Entries {
		if e.Problem != nil {
			problems = append(problems, e.Problem.Error())
		}
		if e.Manifest == "" || e.Name != name {
			continue
		}
		sameName = append(sameName, e)
		if e.Version == version {
			match = append(match, e)
		}
	}
	switch {
	case len(match) == 1:
		return match[0].Manifest, nil
	case len(match) > 1:
		return "", fmt.Errorf("bundle %s %s is defined twice: %s and %s", name, version,
			ix.rel(match[0].Manifest), ix.rel(match[1].Manifest))
	case len(sameName) > 0:
		versions := make([]string, len(sameName))
		for i, e := range sameName {
			versions[i] = fmt.Sprintf("%s (%s)", e.Version, ix.rel(e.Manifest))
		}
		sort.Strings(versions)
		return "", notFound(fmt.Sprintf("bundle %s has no version %s under %s: available: %s",
			name, version, ix.Root, strings.Join(versions, ", ")))
	}
	var names []string
	for _, e := range ix.Entries {
		if e.Name != "" && !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		names = []string{"none"}
	}
	unreadable := ""
	if len(problems) > 0 {
		unreadable = fmt.Sprintf("; %d porter.yaml could not be read: %s", len(problems), strings.Join(problems, "; "))
	}
	return "", notFound(fmt.Sprintf("no bundle named %s under %s (bundles there: %s)%s",
		name, ix.Root, strings.Join(names, ", "), unreadable))
}

// notFound is Find's error when no bundle has the name and version: it is
// ErrNotFound with a message that says what is there.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

func (ix *Index) rel(path string) string {
	if r, err := filepath.Rel(ix.Root, path); err == nil {
		return r
	}
	return path
}

// Template is a template of the directory: a bundle beside its schema, of
// the kind its place gives it.
type Template struct {
	Entry
	Type tre.ResourceType
	// Parent is, for a user-resource template, the name of the workspace
	// service template it hangs under.
	Parent string
}

// Templates returns the directory's templates, and every problem that
// keeps one from being a template: a schema without a porter.yaml, a
// porter.yaml that cannot be read, a place that gives no kind, a user
// resource whose service is not a template, two templates of one kind with
// one name and version. A porter.yaml without a schema is a bundle but not
// a template, and is left out. A template's kind comes from where it is:
//
//	workspaces/<dir>/                                   workspace
//	workspace_services/<dir>/                           workspace service
//	workspace_services/<svc>/user_resources/<dir>/      user resource of the service in <svc>
//	shared_services/<dir>/                              shared service
func (ix *Index) Templates() ([]Template, []error) {
	var out []Template
	var problems []error
	for _, e := range ix.Entries {
		if e.Schema == "" {
			continue
		}
		if e.Manifest == "" {
			problems = append(problems, fmt.Errorf("%s: %s has no %s beside it", e.Dir, SchemaFile, ManifestFile))
			continue
		}
		t, err := ix.template(e)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, t)
	}
	seen := map[string]string{}
	for _, t := range out {
		key := fmt.Sprintf("%s/%s/%s/%s", t.Type, t.Parent, t.Name, t.Version)
		if other, dup := seen[key]; dup {
			problems = append(problems, fmt.Errorf("%s and %s both define %s %s", other, t.Dir, t.Name, t.Version))
		}
		seen[key] = t.Dir
	}
	return out, problems
}

func (ix *Index) template(e Entry) (Template, error) {
	t := Template{Entry: e}
	rel, err := filepath.Rel(ix.Root, e.Dir)
	if err != nil {
		return t, err
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	switch {
	case len(parts) == 2 && parts[0] == "workspaces":
		t.Type = tre.TypeWorkspace
	case len(parts) == 2 && parts[0] == "workspace_services":
		t.Type = tre.TypeWorkspaceService
	case len(parts) == 2 && parts[0] == "shared_services":
		t.Type = tre.TypeSharedService
	case len(parts) == 4 && parts[0] == "workspace_services" && parts[2] == "user_resources":
		t.Type = tre.TypeUserResource
		svc := filepath.Join(ix.Root, parts[0], parts[1])
		i := slices.IndexFunc(ix.Entries, func(o Entry) bool { return o.Dir == svc })
		if i < 0 || ix.Entries[i].Schema == "" {
			return t, fmt.Errorf("%s: a user resource's service %s is not a template (no %s)", e.Dir, svc, SchemaFile)
		}
		parent := ix.Entries[i]
		switch {
		case parent.Manifest == "":
			return t, fmt.Errorf("%s: its service %s has no %s", e.Dir, svc, ManifestFile)
		case parent.Problem != nil:
			return t, fmt.Errorf("%s: its service: %w", e.Dir, parent.Problem)
		}
		t.Parent = parent.Name
	default:
		return t, fmt.Errorf("%s: a template must be in workspaces/<dir>, workspace_services/<dir>, "+
			"workspace_services/<dir>/user_resources/<dir> or shared_services/<dir>", e.Dir)
	}
	if e.Problem != nil {
		return t, e.Problem
	}
	return t, nil
}
