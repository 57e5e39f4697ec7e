package tre

import "encoding/json"

// ResourceRequest is the message the API sends to the Resource Processor
// on QueueRequests, one per operation step: AzureTRE's request message
// (session id = the resource the step changes, message id = the step id).
// Parameters are the resource's properties, with sensitive values
// "REDACTED" and SecretRefs naming where the processor finds them.
type ResourceRequest struct {
	OperationID string         `json:"operationId"`
	StepID      string         `json:"stepId"`
	Action      string         `json:"action"`
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Version     string         `json:"version"`
	Parameters  map[string]any `json:"parameters"`
	// Workspace services and user resources.
	WorkspaceID string `json:"workspaceId,omitempty"`
	// User resources.
	OwnerID                  string `json:"ownerId,omitempty"`
	ParentWorkspaceServiceID string `json:"parentWorkspaceServiceId,omitempty"`

	// Our additions: the resource type (the local runner finds the bundle
	// by it) and the secret references of sensitive parameters.
	ResourceType ResourceType      `json:"resourceType,omitempty"`
	SecretRefs   map[string]string `json:"secretRefs,omitempty"`
	// Attempt is the step's run number; status messages echo it.
	Attempt int `json:"attempt,omitempty"`
	// NotAfter (POSIX seconds) is when the control plane stops waiting for
	// the step to be picked up: a processor must not start it later (the
	// watchdog has failed it).
	NotAfter float64 `json:"notAfter,omitempty"`
}

// Subjects of request-queue messages.
const (
	// SubjectCancel marks a CancelRequest on a resource's session.
	SubjectCancel = "cancel"
)

// CancelRequest asks the processor running (or about to run) a step to
// stop it. It is sent on the resource's session of the request queue,
// with the subject SubjectCancel.
type CancelRequest struct {
	OperationID string  `json:"operationId"`
	StepID      string  `json:"stepId"`
	Attempt     int     `json:"attempt"`
	By          string  `json:"by"`
	When        float64 `json:"when"`
	Reason      string  `json:"reason,omitempty"`
}

// StatusUpdate is the message the Resource Processor sends on QueueStatus
// about one step (session id = the operation id): AzureTRE's deployment
// status message, plus heartbeat details.
type StatusUpdate struct {
	OperationID string   `json:"operationId"`
	StepID      string   `json:"stepId"`
	ID          string   `json:"id"`
	Status      Status   `json:"status"`
	Message     string   `json:"message"`
	Outputs     []Output `json:"outputs,omitempty"`

	// Our additions: which agent runs the step, when it sent this, and for
	// heartbeats the tail of the bundle's output.
	Agent   string  `json:"agent,omitempty"`
	SentAt  float64 `json:"sentAt,omitempty"`
	LogTail string  `json:"logTail,omitempty"`
	// Attempt echoes the request's attempt (0 from processors that do not
	// send it: accepted as the current attempt).
	Attempt int `json:"attempt,omitempty"`
}

// Output is one bundle output reported with a success status.
type Output struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Type  string `json:"type,omitempty"`
}

// KindAgentHeartbeat marks an AgentHeartbeat on the status queue.
const KindAgentHeartbeat = "agent-heartbeat"

// AgentHeartbeat is sent by each Resource Processor agent on QueueStatus
// (session "agent-<agent>") every little while, whether or not it runs
// anything, so that the API's health report can tell whether a processor
// is alive without asking Azure about virtual machines.
type AgentHeartbeat struct {
	Kind    string  `json:"kind"`
	Agent   string  `json:"agent"`
	Version string  `json:"version,omitempty"`
	Workers int     `json:"workers"`
	Healthy bool    `json:"healthy"`
	Problem string  `json:"problem,omitempty"`
	SentAt  float64 `json:"sentAt"`
}

// MessageRef is what a request or status message says about the step it
// belongs to, whichever kind of message it is: enough to find its
// operation (for dead letters and refused messages).
type MessageRef struct {
	OperationID string `json:"operationId"`
	StepID      string `json:"stepId"`
	// ID is the resource the step changes.
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}

// RefOf reads the MessageRef of a message body; a body that is not a JSON
// object gives the zero MessageRef.
func RefOf(body []byte) MessageRef {
	var r MessageRef
	_ = json.Unmarshal(body, &r)
	return r
}
