package tre

// Status is a deployment status of a resource, an operation or a step. The
// values are AzureTRE's, so its clients and bundles keep working.
type Status string

// Status values per action (AzureTRE api_app/resources/strings.py).
const (
	StatusAwaitingDeployment Status = "awaiting_deployment"
	StatusDeploying          Status = "deploying"
	StatusDeployed           Status = "deployed"
	StatusDeploymentFailed   Status = "deployment_failed"

	StatusAwaitingUpdate Status = "awaiting_update"
	StatusUpdating       Status = "updating"
	StatusUpdated        Status = "updated"
	StatusUpdatingFailed Status = "updating_failed"

	StatusAwaitingDeletion Status = "awaiting_deletion"
	StatusDeleting         Status = "deleting"
	StatusDeleted          Status = "deleted"
	StatusDeletingFailed   Status = "deleting_failed"

	StatusAwaitingAction  Status = "awaiting_action"
	StatusInvokingAction  Status = "invoking_action"
	StatusActionSucceeded Status = "action_succeeded"
	StatusActionFailed    Status = "action_failed"

	// StatusPipelineRunning is an operation-level status only: a multi-step
	// operation between its first and last step.
	StatusPipelineRunning Status = "pipeline_running"
)

// Built-in actions. Any other action name is a custom action of the template.
const (
	ActionInstall   = "install"
	ActionUpgrade   = "upgrade"
	ActionUninstall = "uninstall"
)

// Phase orders the statuses of one action: awaiting < running < terminal.
// Status ingestion uses it so that a late or duplicate message never moves a
// step backwards.
type Phase int

// Phases of a status.
const (
	PhaseUnknown Phase = iota
	PhaseAwaiting
	PhaseRunning
	PhaseSucceeded
	PhaseFailed
)

type statusInfo struct {
	phase  Phase
	action string // "" for custom actions
}

var statuses = map[Status]statusInfo{
	StatusAwaitingDeployment: {PhaseAwaiting, ActionInstall},
	StatusDeploying:          {PhaseRunning, ActionInstall},
	StatusDeployed:           {PhaseSucceeded, ActionInstall},
	StatusDeploymentFailed:   {PhaseFailed, ActionInstall},
	StatusAwaitingUpdate:     {PhaseAwaiting, ActionUpgrade},
	StatusUpdating:           {PhaseRunning, ActionUpgrade},
	StatusUpdated:            {PhaseSucceeded, ActionUpgrade},
	StatusUpdatingFailed:     {PhaseFailed, ActionUpgrade},
	StatusAwaitingDeletion:   {PhaseAwaiting, ActionUninstall},
	StatusDeleting:           {PhaseRunning, ActionUninstall},
	StatusDeleted:            {PhaseSucceeded, ActionUninstall},
	StatusDeletingFailed:     {PhaseFailed, ActionUninstall},
	StatusAwaitingAction:     {PhaseAwaiting, ""},
	StatusInvokingAction:     {PhaseRunning, ""},
	StatusActionSucceeded:    {PhaseSucceeded, ""},
	StatusActionFailed:       {PhaseFailed, ""},
	StatusPipelineRunning:    {PhaseRunning, ""},
}

// Valid reports whether s is one of the known status values.
func (s Status) Valid() bool { _, ok := statuses[s]; return ok }

// Phase returns where s stands in its action's progression.
func (s Status) Phase() Phase { return statuses[s].phase }

// Terminal reports whether s ends its action (success or failure).
func (s Status) Terminal() bool {
	p := s.Phase()
	return p == PhaseSucceeded || p == PhaseFailed
}

// InProgress reports whether s is awaiting or running: AzureTRE's "in
// progress" group (awaiting_* and the running statuses).
func (s Status) InProgress() bool {
	p := s.Phase()
	return p == PhaseAwaiting || p == PhaseRunning
}

// InProgressStatuses lists every status that InProgress accepts, for queries.
func InProgressStatuses() []Status {
	return []Status{
		StatusAwaitingDeployment, StatusDeploying, StatusAwaitingUpdate, StatusUpdating,
		StatusAwaitingDeletion, StatusDeleting, StatusAwaitingAction, StatusInvokingAction,
		StatusPipelineRunning,
	}
}

// ActionStatuses are the four statuses one action moves through.
type ActionStatuses struct {
	Awaiting, Running, Succeeded, Failed Status
}

// StatusesFor returns the statuses of action; any name other than install,
// upgrade and uninstall is a custom action.
func StatusesFor(action string) ActionStatuses {
	switch action {
	case ActionInstall:
		return ActionStatuses{StatusAwaitingDeployment, StatusDeploying, StatusDeployed, StatusDeploymentFailed}
	case ActionUpgrade:
		return ActionStatuses{StatusAwaitingUpdate, StatusUpdating, StatusUpdated, StatusUpdatingFailed}
	case ActionUninstall:
		return ActionStatuses{StatusAwaitingDeletion, StatusDeleting, StatusDeleted, StatusDeletingFailed}
	default:
		return ActionStatuses{StatusAwaitingAction, StatusInvokingAction, StatusActionSucceeded, StatusActionFailed}
	}
}

// AwaitingMessage is AzureTRE's initial operation message for action.
func AwaitingMessage(action string) string {
	switch action {
	case ActionInstall:
		return "This resource is waiting to be deployed"
	case ActionUpgrade:
		return "This resource is waiting to be updated"
	case ActionUninstall:
		return "This resource is waiting to be deleted"
	default:
		return "This resource is waiting for an action to be invoked"
	}
}
