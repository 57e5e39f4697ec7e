package tre

// Operation is one mutation of a resource (install, upgrade, uninstall or a
// custom action) as a list of ordered steps, each run by the Resource
// Processor on one resource. The JSON is the stored document: AzureTRE's
// fields, then our own additions. The API answers with its own type, which
// leaves out the intent record (Pending, Changes).
type Operation struct {
	ID              string          `json:"id"`
	ResourceID      string          `json:"resourceId"`
	ResourcePath    string          `json:"resourcePath"`
	ResourceVersion int             `json:"resourceVersion"`
	Status          Status          `json:"status"`
	Action          string          `json:"action"`
	Message         string          `json:"message"`
	CreatedWhen     float64         `json:"createdWhen"`
	UpdatedWhen     float64         `json:"updatedWhen"`
	User            User            `json:"user"`
	Steps           []OperationStep `json:"steps"`
	ETag            string          `json:"_etag,omitempty"`

	// Pending is true from the moment the operation is written until every
	// resource change it makes is written too; Changes lists them. An
	// operation is written first and its changes second, so a crash in
	// between leaves a pending operation that recovery completes or drops
	// (see package lifecycle).
	Pending bool             `json:"pending,omitempty"`
	Changes []ResourceChange `json:"changes,omitempty"`

	// Attempts is the operation's history of runs: the first, then one per
	// retry, each with who started it, when, and how it ended.
	Attempts []OperationAttempt `json:"attempts,omitempty"`
}

// OperationAttempt is one run of an operation.
type OperationAttempt struct {
	Number      int     `json:"number"`
	StartedWhen float64 `json:"startedWhen"`
	StartedBy   User    `json:"startedBy"`
	// FromStep is the step the attempt started at (retries skip the steps
	// that had succeeded).
	FromStep  int     `json:"fromStep"`
	EndedWhen float64 `json:"endedWhen,omitempty"`
	Outcome   Status  `json:"outcome,omitempty"`
	Message   string  `json:"message,omitempty"`
}

// ResourceChange is one resource write an operation makes when it starts.
type ResourceChange struct {
	ResourceID string `json:"resourceId"`
	// Create is the new resource, for creations.
	Create *Resource `json:"create,omitempty"`
	// Patch is applied to the stored resource, for updates.
	Patch *ResourcePatch `json:"patch,omitempty"`
	// ETag is the version of the resource the request was checked against:
	// the root's write is conditional on it.
	ETag string `json:"etag,omitempty"`
	// History is the snapshot of the resource before the change, written
	// to its history once the change is; nil for changes that only mark a
	// status (delete, custom action).
	History *ResourceHistoryItem `json:"history,omitempty"`
}

// ResourcePatch is a change of a stored resource. Nil or empty fields are
// left alone; Properties are merged into the resource's (shallow, as
// AzureTRE does).
type ResourcePatch struct {
	IsEnabled        *bool             `json:"isEnabled,omitempty"`
	Properties       map[string]any    `json:"properties,omitempty"`
	SecretRefs       map[string]string `json:"secretRefs,omitempty"`
	TemplateVersion  string            `json:"templateVersion,omitempty"`
	DeploymentStatus Status            `json:"deploymentStatus,omitempty"`
}

// Step returns the step with id, or nil.
func (o *Operation) Step(id string) *OperationStep {
	for i := range o.Steps {
		if o.Steps[i].ID == id {
			return &o.Steps[i]
		}
	}
	return nil
}

// NextStep is the index of the first step that has not succeeded: the
// one running or to run next; -1 when every step succeeded.
func (o *Operation) NextStep() int {
	for i, st := range o.Steps {
		if st.Status.Phase() != PhaseSucceeded {
			return i
		}
	}
	return -1
}

// SetETag records the store's version tag of the document o was read from.
func (o *Operation) SetETag(etag string) { o.ETag = etag }

// OperationStep is one step of an operation: one bundle action on one
// resource, sent to the Resource Processor as one request message whose
// message id is the step id.
type OperationStep struct {
	ID                       string       `json:"id"`
	TemplateStepID           string       `json:"templateStepId"`
	StepTitle                string       `json:"stepTitle"`
	ResourceID               string       `json:"resourceId"`
	ResourceTemplateName     string       `json:"resourceTemplateName"`
	ResourceType             ResourceType `json:"resourceType"`
	ResourceAction           string       `json:"resourceAction"`
	Status                   Status       `json:"status"`
	Message                  string       `json:"message"`
	UpdatedWhen              float64      `json:"updatedWhen"`
	SourceTemplateResourceID string       `json:"sourceTemplateResourceId"`

	// DispatchedWhen is when the step's request message was sent; zero
	// until then. A step is marked dispatched only after the send
	// succeeded, so an undispatched step is re-sent, never lost.
	DispatchedWhen float64 `json:"dispatchedWhen,omitempty"`
	// SendingWhen is when the latest send of the request began: written
	// (conditionally, with the operation's etag) before the send, so that
	// the watchdog, whose failure is conditional on the same etag, never
	// fails a step while a send of it may be under way.
	SendingWhen float64 `json:"sendingWhen,omitempty"`

	// Attempt numbers the runs of the step (a retry runs it again); request
	// and status messages carry it, and statuses of an older run are
	// ignored.
	Attempt int `json:"attempt,omitempty"`
	// StartedWhen, HeartbeatWhen and Agent say when a Resource Processor
	// agent started the step and last reported on it; LogTail is the end of
	// the bundle's output it last sent.
	StartedWhen   float64 `json:"startedWhen,omitempty"`
	HeartbeatWhen float64 `json:"heartbeatWhen,omitempty"`
	Agent         string  `json:"agent,omitempty"`
	LogTail       string  `json:"logTail,omitempty"`
	// CancelRequested is set when a user asked to cancel the running step.
	CancelRequested *CancelRequest `json:"cancelRequested,omitempty"`
	// Kind is empty for a step the Resource Processor runs, StepFirewall
	// for one the control plane runs itself: opening or closing the
	// resource's egress in the firewall.
	Kind string `json:"kind,omitempty"`
}

// StepFirewall is the kind of a firewall step.
const StepFirewall = "firewall"

// EgressOutput is the bundle output through which a bundle adds egress
// rules to those its template declares (a RuleSet, as JSON).
const EgressOutput = "egress_rules"
