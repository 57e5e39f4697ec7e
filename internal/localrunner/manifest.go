package localrunner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tre-go/tre/internal/tre"
)

// manifest is the part of a porter.yaml that the local runner acts on.
type manifest struct {
	Name        string
	Version     string
	Description string
	// Mixins are the names of the mixins the bundle declares.
	Mixins     []string
	Parameters []parameter
	Outputs    []outputDef
	// CustomActions are the declarations of the customActions section.
	CustomActions map[string]customAction
	// actions holds the raw steps of every action: install, upgrade,
	// uninstall and every custom action.
	actions map[string][]*yaml.Node
	// file is the porter.yaml path, for error messages.
	file string
}

// parameter is a bundle parameter as porter.yaml declares it.
type parameter struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Description string   `yaml:"description"`
	Default     any      `yaml:"default"`
	Env         string   `yaml:"env"`
	Path        string   `yaml:"path"`
	Sensitive   bool     `yaml:"sensitive"`
	ApplyTo     []string `yaml:"applyTo"`
}

// dataType is the parameter's type, defaulted the way Porter does: a
// parameter without a type is a file when it goes to a path, else a string.
func (p parameter) dataType() string {
	switch {
	case p.Type != "":
		return p.Type
	case p.Path != "":
		return "file"
	}
	return "string"
}

// required follows Porter: a parameter without a default must be given.
func (p parameter) required() bool { return p.Default == nil }

func (p parameter) appliesTo(action string) bool {
	return len(p.ApplyTo) == 0 || slices.Contains(p.ApplyTo, action)
}

// envName is the environment variable the parameter is passed in: its
// declared env, else none when it goes to a path, else Porter's default
// (the name upper-cased, '-' and '.' turned into '_').
func (p parameter) envName() string {
	switch {
	case p.Env != "":
		return p.Env
	case p.Path != "":
		return ""
	}
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(p.Name))
}

// outputDef is a bundle output as the top-level outputs section declares it.
type outputDef struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Description string   `yaml:"description"`
	Sensitive   bool     `yaml:"sensitive"`
	ApplyTo     []string `yaml:"applyTo"`
}

func (o outputDef) dataType() string {
	if o.Type == "" {
		return "string"
	}
	return o.Type
}

func (o outputDef) appliesTo(action string) bool {
	return len(o.ApplyTo) == 0 || slices.Contains(o.ApplyTo, action)
}

// customAction is a declaration of the customActions section.
type customAction struct {
	Description string `yaml:"description"`
	Stateless   bool   `yaml:"stateless"`
	Modifies    bool   `yaml:"modifies"`
}

// manifestKeys are the top-level porter.yaml keys that are not actions.
// Porter treats any other top-level list as a custom action.
var manifestKeys = []string{
	"schemaType", "schemaVersion", "name", "version", "description", "maintainers", "registry",
	"reference", "dockerfile", "mixins", "customActions", "state", "parameters", "credentials",
	"dependencies", "outputs", "images", "custom", "required",
}

var builtinActions = []string{tre.ActionInstall, tre.ActionUpgrade, tre.ActionUninstall}

// readManifest parses the porter.yaml at file.
func readManifest(file string) (*manifest, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("localrunner: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("localrunner: %s: %w", file, err)
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("localrunner: %s: not a porter manifest (the top level must be a mapping)", file)
	}
	m := &manifest{file: file, actions: map[string][]*yaml.Node{}, CustomActions: map[string]customAction{}}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		var err error
		switch key {
		case "name":
			err = val.Decode(&m.Name)
		case "version":
			err = val.Decode(&m.Version)
		case "description":
			err = val.Decode(&m.Description)
		case "mixins":
			m.Mixins, err = mixinNames(val)
		case "parameters":
			err = val.Decode(&m.Parameters)
		case "outputs":
			err = val.Decode(&m.Outputs)
		case "customActions":
			err = val.Decode(&m.CustomActions)
		default:
			if slices.Contains(manifestKeys, key) {
				continue
			}
			if val.Kind != yaml.SequenceNode {
				if slices.Contains(builtinActions, key) {
					err = errors.New("must be a list of steps")
				}
				break
			}
			m.actions[key] = val.Content
		}
		if err != nil {
			return nil, fmt.Errorf("localrunner: %s: %s: %w", file, key, err)
		}
	}
	if m.Name == "" || m.Version == "" {
		return nil, fmt.Errorf("localrunner: %s: a porter manifest needs a name and a version", file)
	}
	for i, p := range m.Parameters {
		if p.Name == "" {
			return nil, fmt.Errorf("localrunner: %s: parameters[%d] has no name", file, i)
		}
	}
	return m, nil
}

// mixinNames reads the mixins list, whose entries are a name or a one-key
// mapping of a name to the mixin's configuration.
func mixinNames(n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New("must be a list")
	}
	var names []string
	for _, item := range n.Content {
		switch {
		case item.Kind == yaml.ScalarNode:
			names = append(names, item.Value)
		case item.Kind == yaml.MappingNode && len(item.Content) == 2:
			names = append(names, item.Content[0].Value)
		default:
			return nil, errors.New("each mixin must be a name or a mapping of one name to its configuration")
		}
	}
	return names, nil
}

// actionNames lists the actions the bundle defines, built-in ones first.
func (m *manifest) actionNames() []string {
	var names []string
	for _, a := range builtinActions {
		if _, ok := m.actions[a]; ok {
			names = append(names, a)
		}
	}
	var custom []string
	for a := range m.actions {
		if !slices.Contains(builtinActions, a) {
			custom = append(custom, a)
		}
	}
	sort.Strings(custom)
	return append(names, custom...)
}

// onlyExecError says that the local runner cannot run something that needs
// another mixin.
func onlyExecError(m *manifest, what, mixin string) error {
	return fmt.Errorf("localrunner: bundle %s %s: %s uses the %s mixin: the local runner only runs exec steps "+
		"(it simulates Porter without Docker or Azure); run this bundle with Porter", m.Name, m.Version, what, mixin)
}

// steps returns the exec steps of an action, refusing bundles and steps
// that need another mixin before anything runs.
func (m *manifest) steps(action string) ([]execStep, error) {
	for _, mixin := range m.Mixins {
		if mixin != "exec" {
			return nil, onlyExecError(m, "its mixins list", mixin)
		}
	}
	raw, ok := m.actions[action]
	if !ok {
		return nil, fmt.Errorf("localrunner: bundle %s %s has no %s action (it has: %s)",
			m.Name, m.Version, action, strings.Join(m.actionNames(), ", "))
	}
	steps := make([]execStep, 0, len(raw))
	for i, node := range raw {
		where := fmt.Sprintf("%s step %d", action, i+1)
		if node.Kind != yaml.MappingNode || len(node.Content) != 2 {
			return nil, fmt.Errorf("localrunner: %s: %s: a step must be a mapping of one mixin name to its instruction", m.file, where)
		}
		mixin := node.Content[0].Value
		if mixin != "exec" {
			return nil, onlyExecError(m, where, mixin)
		}
		s, err := decodeExec(node.Content[1])
		if err != nil {
			return nil, fmt.Errorf("localrunner: %s: %s: %w", m.file, where, err)
		}
		if s.Description == "" {
			s.Description = fmt.Sprintf("%s (%s)", where, s.Command)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// execStep is the instruction of an exec mixin step.
type execStep struct {
	Description     string            `yaml:"description"`
	Command         string            `yaml:"command"`
	Dir             string            `yaml:"dir"`
	Arguments       []string          `yaml:"arguments"`
	SuffixArguments []string          `yaml:"suffix-arguments"`
	Flags           yaml.Node         `yaml:"flags"`
	Envs            map[string]string `yaml:"envs"`
	Outputs         []stepOutput      `yaml:"outputs"`
	SuppressOutput  bool              `yaml:"suppress-output"`
}

// stepOutput is an output an exec step produces: from a file, a regular
// expression over its stdout, or a JSON path into its stdout.
type stepOutput struct {
	Name     string `yaml:"name"`
	Path     string `yaml:"path"`
	Regex    string `yaml:"regex"`
	JSONPath string `yaml:"jsonPath"`
}

// decodeExec decodes an exec instruction strictly, so that a field the
// local runner does not support (ignoreError, ...) is reported instead of
// silently ignored.
func decodeExec(n *yaml.Node) (execStep, error) {
	var s execStep
	raw, err := yaml.Marshal(n)
	if err != nil {
		return s, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("exec instruction: %w (the local runner supports description, command, dir, arguments, "+
			"suffix-arguments, flags, envs, outputs and suppress-output)", err)
	}
	if s.Command == "" {
		return s, errors.New("exec instruction has no command")
	}
	for _, o := range s.Outputs {
		sources := 0
		for _, v := range []string{o.Path, o.Regex, o.JSONPath} {
			if v != "" {
				sources++
			}
		}
		if o.Name == "" || sources != 1 {
			return s, fmt.Errorf("output %q: an exec output needs a name and exactly one of path, regex or jsonPath", o.Name)
		}
	}
	return s, nil
}

// flag is one exec flag: --name value, repeated for each value.
type flag struct {
	Name   string
	Values []string
}

// flags reads the step's flags mapping; a flag with no value is passed bare.
func (s execStep) flags() ([]flag, error) {
	if s.Flags.Kind == 0 {
		return nil, nil
	}
	if s.Flags.Kind != yaml.MappingNode {
		return nil, errors.New("flags must be a mapping of flag names to values")
	}
	var out []flag
	for i := 0; i+1 < len(s.Flags.Content); i += 2 {
		f := flag{Name: s.Flags.Content[i].Value}
		v := s.Flags.Content[i+1]
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		case v.Kind == yaml.ScalarNode:
			f.Values = []string{v.Value}
		case v.Kind == yaml.SequenceNode:
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("flag %s: list items must be scalars", f.Name)
				}
				f.Values = append(f.Values, item.Value)
			}
		default:
			return nil, fmt.Errorf("flag %s: a value must be a scalar or a list", f.Name)
		}
		out = append(out, f)
	}
	// Porter passes flags sorted by name.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// bundleDir is the directory of the manifest.
func (m *manifest) bundleDir() string { return filepath.Dir(m.file) }
