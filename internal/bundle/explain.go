package bundle

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Explanation is the document `porter explain -o json` prints for a bundle
// (Porter v1's PrintableBundle), which AzureTRE's registration script sends
// to the API with the template's schema, and AzureTRE's Resource Processor
// reads the parameter names from. Lists are sorted by name, as Porter
// sorts them.
type Explanation struct {
	Name          string                `json:"name"`
	Description   string                `json:"description,omitempty"`
	Version       string                `json:"version"`
	PorterVersion string                `json:"porterVersion,omitempty"`
	Parameters    []ExplainedParameter  `json:"parameters,omitempty"`
	Credentials   []ExplainedCredential `json:"credentials,omitempty"`
	Outputs       []ExplainedOutput     `json:"outputs,omitempty"`
	CustomActions []ExplainedAction     `json:"customActions,omitempty"`
	Dependencies  []ExplainedDependency `json:"dependencies,omitempty"`
	Mixins        []string              `json:"mixins"`
	Custom        map[string]any        `json:"custom,omitempty"`
}

// ExplainedParameter is a parameter in an Explanation.
type ExplainedParameter struct {
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Default     any     `json:"default"`
	ApplyTo     ApplyTo `json:"applyTo"`
	Description string  `json:"description"`
	Required    bool    `json:"required"`
	Sensitive   bool    `json:"sensitive"`
	Injected    bool    `json:"injected"`
}

// ExplainedCredential is a credential in an Explanation.
type ExplainedCredential struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Required    bool    `json:"required"`
	ApplyTo     ApplyTo `json:"applyTo"`
}

// ExplainedOutput is an output in an Explanation.
type ExplainedOutput struct {
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	ApplyTo     ApplyTo `json:"applyTo"`
	Description string  `json:"description"`
}

// ExplainedAction is a custom action in an Explanation.
type ExplainedAction struct {
	Name        string `json:"name"`
	Modifies    bool   `json:"modifies"`
	Stateless   bool   `json:"stateless"`
	Description string `json:"description"`
}

// ExplainedDependency is a dependency in an Explanation.
type ExplainedDependency struct {
	Alias     string `json:"alias"`
	Reference string `json:"reference"`
}

// allActions is how Porter's explain writes an empty applyTo.
const allActions = "All Actions"

// ApplyTo is the actions a parameter, credential or output applies to; empty
// means all. In JSON it is Porter's text ("All Actions", or the actions
// joined by commas); a JSON list of actions is read too.
type ApplyTo []string

// MarshalJSON writes Porter's text.
func (a ApplyTo) MarshalJSON() ([]byte, error) {
	if len(a) == 0 {
		return json.Marshal(allActions)
	}
	return json.Marshal(strings.Join(a, ","))
}

// UnmarshalJSON reads Porter's text or a list of actions.
func (a *ApplyTo) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*a = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`applyTo must be "All Actions", actions separated by commas, or a list of actions`)
	}
	*a = nil
	if s == allActions || strings.TrimSpace(s) == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*a = append(*a, part)
		}
	}
	return nil
}

// Explain returns what `porter explain -o json` prints for the bundle built
// from this manifest (without porterVersion, which only a built bundle
// knows, and without dependencies, which need a registry to resolve).
func (m *Manifest) Explain() Explanation {
	e := Explanation{
		Name: m.Name, Description: m.Description, Version: m.Version,
		Mixins: []string{},
	}
	for _, p := range m.Parameters {
		e.Parameters = append(e.Parameters, ExplainedParameter{
			Name:        p.Name,
			Type:        p.DataType(),
			Default:     p.Default,
			ApplyTo:     m.parameterApplyTo(p),
			Description: p.Description,
			Required:    p.Required(),
			Sensitive:   p.Sensitive,
			// Porter marks a parameter with a source as injected unless
			// explain is asked about install.
			Injected: p.Source.Output != "" || p.Source.Dependency != "",
		})
	}
	sort.Slice(e.Parameters, func(i, j int) bool { return e.Parameters[i].Name < e.Parameters[j].Name })
	for _, c := range m.Credentials {
		e.Credentials = append(e.Credentials, ExplainedCredential{
			Name: c.Name, Description: c.Description, Required: c.Required, ApplyTo: c.ApplyTo,
		})
	}
	sort.Slice(e.Credentials, func(i, j int) bool { return e.Credentials[i].Name < e.Credentials[j].Name })
	for _, o := range m.Outputs {
		typ := o.Type
		// Porter defaults the type like a parameter's, then stores a file
		// as a base64 string, whose type explain shows.
		if typ == "" || typ == "file" {
			typ = "string"
		}
		e.Outputs = append(e.Outputs, ExplainedOutput{Name: o.Name, Type: typ, ApplyTo: o.ApplyTo, Description: o.Description})
	}
	sort.Slice(e.Outputs, func(i, j int) bool { return e.Outputs[i].Name < e.Outputs[j].Name })
	e.CustomActions = m.explainActions()
	for _, mx := range m.Mixins {
		if !slices.Contains(e.Mixins, mx) {
			e.Mixins = append(e.Mixins, mx)
		}
	}
	sort.Strings(e.Mixins)
	for k, v := range m.Custom {
		if strings.HasPrefix(k, "io.cnab") || strings.HasPrefix(k, "sh.porter") {
			continue
		}
		if e.Custom == nil {
			e.Custom = map[string]any{}
		}
		e.Custom[k] = v
	}
	return e
}

// parameterApplyTo is Porter's: a parameter fed from an output, with no
// applyTo and no default, cannot apply to install (the output does not
// exist yet), so it applies to every other action the bundle has.
func (m *Manifest) parameterApplyTo(p Parameter) ApplyTo {
	if p.Source.Output == "" || p.ApplyTo != nil || p.Default != nil {
		return p.ApplyTo
	}
	out := []string{tre.ActionUninstall}
	if _, ok := m.actions[tre.ActionUpgrade]; ok {
		out = append(out, tre.ActionUpgrade)
	}
	out = append(out, m.customActionNames()...)
	sort.Strings(out)
	return out
}

// explainActions lists the custom actions as Porter puts them in the
// bundle: none when no custom action has steps; else every declared one,
// and each undeclared one with Porter's default definition.
func (m *Manifest) explainActions() []ExplainedAction {
	names := m.customActionNames()
	if len(names) == 0 {
		return nil
	}
	var out []ExplainedAction
	for name, d := range m.CustomActions {
		out = append(out, ExplainedAction{Name: name, Modifies: d.Modifies, Stateless: d.Stateless, Description: d.Description})
	}
	for _, name := range names {
		if _, ok := m.CustomActions[name]; !ok {
			out = append(out, defaultAction(name))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// defaultAction is Porter's definition of a custom action the manifest
// uses without declaring it: the CNAB well-known ones, else one that may
// modify the installation and is described by its name.
func defaultAction(name string) ExplainedAction {
	a := ExplainedAction{Name: name}
	switch name {
	case "dry-run", "io.cnab.dry-run":
		a.Description, a.Stateless = "Execute the installation in a dry-run mode, allowing to see what would happen with the given set of parameter values", true
	case "help", "io.cnab.help":
		a.Description, a.Stateless = "Print a help message to the standard output", true
	case "log", "io.cnab.log":
		a.Description = "Print logs of the installed system to the standard output"
	case "status", "io.cnab.status":
		a.Description = "Print a human readable status message to the standard output"
	case "status+json", "io.cnab.status+json":
		a.Description = "Print a json payload describing the detailed status with the following the CNAB status schema"
	default:
		a.Description, a.Modifies = name, true
	}
	return a
}

// Declaration is what the control plane keeps of an explanation: the
// bundle's parameters, credentials, outputs and mixins.
func (e Explanation) Declaration() *tre.BundleDeclaration {
	d := &tre.BundleDeclaration{Description: e.Description, Mixins: slices.Clone(e.Mixins)}
	for _, p := range e.Parameters {
		d.Parameters = append(d.Parameters, tre.BundleParameter{
			Name: p.Name, Type: p.Type, Default: p.Default, ApplyTo: slices.Clone(p.ApplyTo),
			Description: p.Description, Required: p.Required, Sensitive: p.Sensitive,
		})
	}
	for _, c := range e.Credentials {
		d.Credentials = append(d.Credentials, tre.BundleCredential{
			Name: c.Name, Description: c.Description, Required: c.Required, ApplyTo: slices.Clone(c.ApplyTo),
		})
	}
	for _, o := range e.Outputs {
		d.Outputs = append(d.Outputs, tre.BundleOutput{
			Name: o.Name, Type: o.Type, Description: o.Description, ApplyTo: slices.Clone(o.ApplyTo),
		})
	}
	return d
}

// CustomActionsOf returns the custom actions of an explanation as the
// registry keeps them: name and description.
func CustomActionsOf(e Explanation) []tre.CustomAction {
	var out []tre.CustomAction
	for _, a := range e.CustomActions {
		out = append(out, tre.CustomAction{Name: a.Name, Description: a.Description})
	}
	return out
}
