package localrunner

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tre-go/tre/internal/bundle"
)

// onlyExecError says that the local runner cannot run something that needs
// another mixin.
func onlyExecError(m *bundle.Manifest, what, mixin string) error {
	return fmt.Errorf("localrunner: bundle %s %s: %s uses the %s mixin: the local runner only runs exec steps "+
		"(it simulates Porter without Docker or Azure); run this bundle with Porter", m.Name, m.Version, what, mixin)
}

// execSteps returns the exec steps of an action, refusing bundles and
// steps that need another mixin before anything runs.
func execSteps(m *bundle.Manifest, action string) ([]execStep, error) {
	for _, mixin := range m.Mixins {
		if mixin != "exec" {
			return nil, onlyExecError(m, "its mixins list", mixin)
		}
	}
	raw, ok := m.Steps(action)
	if !ok {
		return nil, fmt.Errorf("localrunner: bundle %s %s has no %s action (it has: %s)",
			m.Name, m.Version, action, strings.Join(m.Actions(), ", "))
	}
	steps := make([]execStep, 0, len(raw))
	for i, node := range raw {
		where := fmt.Sprintf("%s step %d", action, i+1)
		mixin, err := bundle.StepMixin(node)
		if err != nil {
			return nil, fmt.Errorf("localrunner: %s: %s: %w", m.File, where, err)
		}
		if mixin != "exec" {
			return nil, onlyExecError(m, where, mixin)
		}
		s, err := decodeExec(node.Content[1])
		if err != nil {
			return nil, fmt.Errorf("localrunner: %s: %s: %w", m.File, where, err)
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
