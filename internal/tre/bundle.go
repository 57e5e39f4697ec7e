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
