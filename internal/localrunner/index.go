package localrunner

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// indexed is one porter.yaml found under the templates directory.
type indexed struct {
	name, version string
	file          string
}

// index finds every porter.yaml below root. Files that cannot be read are
// returned as problems rather than failing the whole index, so that one
// broken bundle does not stop the others from running.
func index(root string) ([]indexed, []error, error) {
	var found []indexed
	var problems []error
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
		if d.Name() != "porter.yaml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		var head struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
		}
		if err := yaml.Unmarshal(data, &head); err != nil || head.Name == "" || head.Version == "" {
			if err == nil {
				err = fmt.Errorf("no name or version")
			}
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			return nil
		}
		found = append(found, indexed{name: head.Name, version: head.Version, file: path})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("localrunner: index templates: %w", err)
	}
	return found, problems, nil
}

// find returns the porter.yaml of a bundle name and version under root,
// with an error that lists what is there when it is not.
func find(root, name, version string) (string, error) {
	all, problems, err := index(root)
	if err != nil {
		return "", err
	}
	var sameName, match []indexed
	for _, b := range all {
		if b.name == name {
			sameName = append(sameName, b)
			if b.version == version {
				match = append(match, b)
			}
		}
	}
	unreadable := ""
	if len(problems) > 0 {
		texts := make([]string, len(problems))
		for i, p := range problems {
			texts[i] = p.Error()
		}
		unreadable = fmt.Sprintf("; %d porter.yaml could not be read: %s", len(problems), strings.Join(texts, "; "))
	}
	switch {
	case len(match) == 1:
		return match[0].file, nil
	case len(match) > 1:
		return "", fmt.Errorf("localrunner: bundle %s %s is defined twice: %s and %s", name, version,
			rel(root, match[0].file), rel(root, match[1].file))
	case len(sameName) > 0:
		versions := make([]string, len(sameName))
		for i, b := range sameName {
			versions[i] = fmt.Sprintf("%s (%s)", b.version, rel(root, b.file))
		}
		sort.Strings(versions)
		return "", fmt.Errorf("localrunner: bundle %s has no version %s under %s: available: %s",
			name, version, root, strings.Join(versions, ", "))
	}
	var names []string
	for _, b := range all {
		if !slices.Contains(names, b.name) {
			names = append(names, b.name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		names = []string{"none"}
	}
	return "", fmt.Errorf("localrunner: no bundle named %s under %s (bundles there: %s)%s",
		name, root, strings.Join(names, ", "), unreadable)
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
