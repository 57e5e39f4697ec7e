package tre

import (
	"context"
	"io"
)

// Runner is the bundle runner port: it runs one action of a Porter bundle
// for one installation (the resource) and returns the bundle's outputs.
// Adapters: the porter CLI (production) and the local runner (runs a
// bundle's exec steps from templates/ without Docker, for development).
type Runner interface {
	// Run runs the job to its end. A failed bundle returns an error whose
	// message is the bundle's own error text (the tail of its error output),
	// safe to show to users. Cancelling ctx stops the bundle: first
	// gracefully, then by force after the runner's grace period.
	Run(ctx context.Context, job Job) (JobResult, error)
}

// Job is one bundle action to run.
type Job struct {
	// Action is install, upgrade, uninstall or a custom action's name.
	Action string
	// Installation is the Porter installation name: the resource id.
	Installation string
	ResourceType ResourceType
	// Bundle names the bundle: its template name and version.
	Bundle  string
	Version string
	// Parameters are the request message's parameters with secrets
	// resolved: never log them.
	Parameters map[string]any
	// Message is the whole request, for parameters a runner finds in it
	// (workspaceId, ownerId, ...).
	Message *ResourceRequest
	// Output receives the bundle's combined output as it runs (the
	// processor keeps its tail for heartbeats). May be nil.
	Output io.Writer
}

// JobResult is what a successful run produced.
type JobResult struct {
	Outputs []Output
	// Message describes the result for the status message (for example
	// that an uninstall found nothing to remove).
	Message string
}

// BundleDeclaration is what a bundle declares to whoever runs it, as
// `porter explain -o json` lists it: the parameters it takes, the
// credentials it needs, the outputs it produces and the mixins its steps
// use. The registry keeps it with the template version registered from the
// bundle; the processor and the local simulation of bundles read it. It is
// not part of AzureTRE's template responses.
type BundleDeclaration struct {
	Description string             `json:"description,omitempty"`
	Mixins      []string           `json:"mixins,omitempty"`
	Parameters  []BundleParameter  `json:"parameters,omitempty"`
	Credentials []BundleCredential `json:"credentials,omitempty"`
	Outputs     []BundleOutput     `json:"outputs,omitempty"`
}

// BundleParameter is one parameter of a bundle.
type BundleParameter struct {
	Name string `json:"name"`
	// Type is Porter's: string, integer, number, boolean, object, array or
	// file.
	Type    string `json:"type"`
	Default any    `json:"default,omitempty"`
	// ApplyTo lists the actions the parameter is passed to; empty means
	// every action.
	ApplyTo     []string `json:"applyTo,omitempty"`
	Description string   `json:"description,omitempty"`
	// Required parameters have no default: a run without a value fails.
	Required  bool `json:"required"`
	Sensitive bool `json:"sensitive,omitempty"`
}

// AppliesTo reports whether the parameter is passed to action.
func (p BundleParameter) AppliesTo(action string) bool { return appliesTo(p.ApplyTo, action) }

// BundleCredential is one credential a bundle needs.
type BundleCredential struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required"`
	ApplyTo     []string `json:"applyTo,omitempty"`
}

// BundleOutput is one output a bundle produces.
type BundleOutput struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	ApplyTo     []string `json:"applyTo,omitempty"`
}

// AppliesTo reports whether action produces the output.
func (o BundleOutput) AppliesTo(action string) bool { return appliesTo(o.ApplyTo, action) }

func appliesTo(actions []string, action string) bool {
	if len(actions) == 0 {
		return true
	}
	for _, a := range actions {
		if a == action {
			return true
		}
	}
	return false
}
