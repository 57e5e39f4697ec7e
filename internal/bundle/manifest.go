// Package bundle reads Porter bundles as AzureTRE lays them out: a
// bundle's porter.yaml (Read), what `porter explain -o json` prints of it
// (Explain), the templates directory that holds bundles beside their
// template_schema.json (Scan), and where the Resource Processor finds the
// value of each bundle parameter (Sources).
//
// It is the one reader of porter.yaml in the project: the template loader
// (package templatedir) registers what it reads, the local runner runs or
// simulates it, and the infrastructure checks compare it with the schemas.
// It follows Porter v1's manifest rules where they matter to those uses: a
// parameter without a default is required; a parameter without a type is a
// file when it goes to a path, else a string; its environment variable is
// its name upper-cased; a top-level list that is no known section is a
// custom action.
package bundle

import (
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

// ManifestFile is the name of a bundle's manifest.
const ManifestFile = "porter.yaml"

// Manifest is a porter.yaml: the bundle's declarations and the raw steps
// of each of its actions.
type Manifest struct {
	// File is the porter.yaml's path.
	File        string
	Name        string
	Version     string
	Description string
	// Mixins are the names of the mixins the bundle declares, in order.
	Mixins      []string
	Parameters  []Parameter
	Credentials []Credential
	Outputs     []Output
	// CustomActions are the declarations of the customActions section.
	CustomActions map[string]CustomAction
	// Custom is the custom section, as YAML decodes it.
	Custom map[string]any
	// actions holds the raw steps of every action: install, upgrade,
	// uninstall and every custom action.
	actions map[string][]*yaml.Node
}

// Parameter is a bundle parameter as porter.yaml declares it.
type Parameter struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Description string   `yaml:"description"`
	Default     any      `yaml:"default"`
	Env         string   `yaml:"env"`
	Path        string   `yaml:"path"`
	Sensitive   bool     `yaml:"sensitive"`
	ApplyTo     []string `yaml:"applyTo"`
	Source      struct {
		Dependency string `yaml:"dependency"`
		Output     string `yaml:"output"`
	} `yaml:"source"`
}

// DataType is the parameter's type, defaulted the way Porter does: a
// parameter without a type is a file when it goes to a path, else a string.
func (p Parameter) DataType() string {
	switch {
	case p.Type != "":
		return p.Type
	case p.Path != "":
		return "file"
	}
	return "string"
}

// Required follows Porter: a parameter without a default must be given.
func (p Parameter) Required() bool { return p.Default == nil }

// AppliesTo reports whether the parameter is passed to action.
func (p Parameter) AppliesTo(action string) bool {
	return len(p.ApplyTo) == 0 || slices.Contains(p.ApplyTo, action)
}

// EnvName is the environment variable the parameter is passed in: its
// declared env, else none when it goes to a path, else Porter's default
// (the name upper-cased, '-' and '.' turned into '_').
func (p Parameter) EnvName() string {
	switch {
	case p.Env != "":
		return p.Env
	case p.Path != "":
		return ""
	}
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(p.Name))
}

// Credential is a credential as porter.yaml declares it.
type Credential struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Env         string   `yaml:"env"`
	Path        string   `yaml:"path"`
	Required    bool     `yaml:"required"`
	ApplyTo     []string `yaml:"applyTo"`
}

// Output is a bundle output as the top-level outputs section declares it.
type Output struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Description string   `yaml:"description"`
	Path        string   `yaml:"path"`
	Sensitive   bool     `yaml:"sensitive"`
	ApplyTo     []string `yaml:"applyTo"`
}

// DataType is the output's type as the bundle reports it: string when the
// manifest gives none.
func (o Output) DataType() string {
	if o.Type == "" {
		return "string"
	}
	return o.Type
}

// AppliesTo reports whether action produces the output.
func (o Output) AppliesTo(action string) bool {
	return len(o.ApplyTo) == 0 || slices.Contains(o.ApplyTo, action)
}

// CustomAction is a declaration of the customActions section.
type CustomAction struct {
	Description string `yaml:"description"`
	Stateless   bool   `yaml:"stateless"`
	Modifies    bool   `yaml:"modifies"`
}

// sections are the top-level porter.yaml keys that are not custom actions
// (Porter's manifest fields, and the deprecated keys it ignores).
var sections = []string{
	"schemaType", "schemaVersion", "name", "version", "description", "maintainers", "registry",
	"reference", "dockerfile", "mixins", "customActions", "state", "parameters", "credentials",
	"dependencies", "outputs", "images", "custom", "required", "files", "invocationImage", "tag",
}

// BuiltinActions are the actions every bundle may have.
var BuiltinActions = []string{tre.ActionInstall, tre.ActionUpgrade, tre.ActionUninstall}

// Read parses the porter.yaml at file. Its errors name the file and the
// section at fault.
func Read(file string) (*Manifest, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse parses porter.yaml content; file names it in errors.
func Parse(file string, data []byte) (*Manifest, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a porter manifest (the top level must be a mapping)", file)
	}
	m := &Manifest{File: file, actions: map[string][]*yaml.Node{}, CustomActions: map[string]CustomAction{}}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		if err := m.decodeSection(key, val); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, key, err)
		}
	}
	if err := m.checkNames(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// decodeSection decodes one top-level section into m. A section that is
// a list and not one Porter defines is an action; other sections Porter
// defines are ignored.
func (m *Manifest) decodeSection(key string, val *yaml.Node) error {
	switch key {
	case "name":
		return val.Decode(&m.Name)
	case "version":
		return val.Decode(&m.Version)
	case "description":
		return val.Decode(&m.Description)
	case "mixins":
		var err error
		m.Mixins, err = mixinNames(val)
		return err
	case "parameters":
		return val.Decode(&m.Parameters)
	case "credentials":
		return decodeCredentials(val, &m.Credentials)
	case "outputs":
		return val.Decode(&m.Outputs)
	case "customActions":
		return val.Decode(&m.CustomActions)
	case "custom":
		return val.Decode(&m.Custom)
	}
	if slices.Contains(sections, key) {
		return nil
	}
	if val.Kind != yaml.SequenceNode {
		if slices.Contains(BuiltinActions, key) {
			return errors.New("must be a list of steps")
		}
		return nil
	}
	m.actions[key] = val.Content
	return nil
}

// checkNames requires the manifest's name and version, and a name for each
// parameter, credential and output.
func (m *Manifest) checkNames() error {
	if m.Name == "" || m.Version == "" {
		return errors.New("a porter manifest needs a name and a version")
	}
	for i, p := range m.Parameters {
		if p.Name == "" {
			return fmt.Errorf("parameters[%d] has no name", i)
		}
	}
	for i, c := range m.Credentials {
		if c.Name == "" {
			return fmt.Errorf("credentials[%d] has no name", i)
		}
	}
	for i, o := range m.Outputs {
		if o.Name == "" {
			return fmt.Errorf("outputs[%d] has no name", i)
		}
	}
	return nil
}

// decodeCredentials decodes the credentials section; a credential is
// required unless it says otherwise, as in Porter.
func decodeCredentials(n *yaml.Node, out *[]Credential) error {
	if n.Kind != yaml.SequenceNode {
		return errors.New("must be a list")
	}
	for _, item := range n.Content {
		c := Credential{Required: true}
		if err := item.Decode(&c); err != nil {
			return err
		}
		*out = append(*out, c)
	}
	return nil
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

// Dir is the bundle's directory (Porter's /cnab/app).
func (m *Manifest) Dir() string { return filepath.Dir(m.File) }

// Actions lists the actions the bundle defines, built-in ones first.
func (m *Manifest) Actions() []string {
	var names []string
	for _, a := range BuiltinActions {
		if _, ok := m.actions[a]; ok {
			names = append(names, a)
		}
	}
	return append(names, m.customActionNames()...)
}

// customActionNames lists the custom actions that have steps, sorted.
func (m *Manifest) customActionNames() []string {
	var custom []string
	for a := range m.actions {
		if !slices.Contains(BuiltinActions, a) {
			custom = append(custom, a)
		}
	}
	sort.Strings(custom)
	return custom
}

// Steps returns the raw steps of an action, each a mapping of one mixin
// name to its instruction, and whether the bundle has the action.
func (m *Manifest) Steps(action string) ([]*yaml.Node, bool) {
	s, ok := m.actions[action]
	return s, ok
}

// StepMixin returns the mixin a raw step uses, or an error when the step
// is not a mapping of one mixin name to its instruction.
func StepMixin(step *yaml.Node) (string, error) {
	if step.Kind != yaml.MappingNode || len(step.Content) != 2 {
		return "", errors.New("a step must be a mapping of one mixin name to its instruction")
	}
	return step.Content[0].Value, nil
}

// MixinsOf returns the mixins an action needs, sorted: those of the
// bundle's mixins list and those its steps use. Steps that are not a
// mapping of one mixin are left to the runner to report.
func (m *Manifest) MixinsOf(action string) []string {
	var out []string
	add := func(name string) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, mx := range m.Mixins {
		add(mx)
	}
	steps, _ := m.Steps(action)
	for _, s := range steps {
		if mx, err := StepMixin(s); err == nil {
			add(mx)
		}
	}
	sort.Strings(out)
	return out
}
