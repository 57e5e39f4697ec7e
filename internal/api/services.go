package api

import (
	"context"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// The services the routes use, each as an interface of what the routes
// need of it. The program's main wires the implementations: package
// lifecycle (Resources, Operations, Triggers), registry (Templates),
// assignment, roster (Agents), deadletter and egress (Firewall).

// Templates is the template registry; *registry.Registry implements it.
type Templates interface {
	// List returns the current version of every template of a kind.
	List(ctx context.Context, k registry.Kind) ([]*tre.Template, error)
	// Register adds a template version. Returns CodeInvalid, CodeConflict.
	Register(ctx context.Context, k registry.Kind, reg registry.Registration, by tre.User) (*tre.Template, error)
	// Current returns the current version of a template. Returns
	// CodeNotFound.
	Current(ctx context.Context, k registry.Kind, name string) (*tre.Template, error)
	// Get returns one version of a template. Returns CodeNotFound.
	Get(ctx context.Context, k registry.Kind, name, version string) (*tre.Template, error)
	// Versions returns every version of a template. Returns CodeNotFound.
	Versions(ctx context.Context, k registry.Kind, name string) ([]*tre.Template, error)
	// UpdateVersion makes a version current or (un)deprecates it. Returns
	// CodeNotFound, CodeInvalid.
	UpdateVersion(ctx context.Context, k registry.Kind, name, version string, u registry.Update, by tre.User) (*tre.Template, error)
	// Unregister removes a version no resource uses. Returns CodeNotFound,
	// CodeConflict (naming the users).
	Unregister(ctx context.Context, k registry.Kind, name, version string) error
}

// Resources are the workspaces, workspace services, user resources and
// shared services; *lifecycle.Service implements it.
type Resources interface {
	// Get loads an active resource. Returns CodeNotFound.
	Get(ctx context.Context, ref lifecycle.Ref) (*tre.Resource, error)
	// Find is Get that returns the resource as stored, for an answer to
	// copy. Returns CodeNotFound.
	Find(ctx context.Context, ref lifecycle.Ref) (*lifecycle.Listed, error)
	// GetForRecords is Get that also finds deleted resources.
	GetForRecords(ctx context.Context, ref lifecycle.Ref) (*tre.Resource, error)
	// ListPage returns a page of the active resources of a type under a
	// parent. Returns CodeNotFound (parents), CodeInvalid (paging).
	ListPage(ctx context.Context, ref lifecycle.Ref, opts lifecycle.ListOptions) (lifecycle.ResourcePage, error)
	// AvailableUpgrades lists the template versions a resource may move
	// to.
	AvailableUpgrades(ctx context.Context, r *tre.Resource) ([]tre.AvailableUpgrade, error)
	// History lists a resource's history, oldest first.
	History(ctx context.Context, r *tre.Resource) ([]*tre.ResourceHistoryItem, error)
	// Create starts the install of a new resource.
	Create(ctx context.Context, req lifecycle.CreateRequest) (*tre.Resource, *tre.Operation, error)
	// Patch starts the upgrade of a resource.
	Patch(ctx context.Context, req lifecycle.PatchRequest) (*tre.Operation, error)
	// Delete starts the uninstall of a disabled resource.
	Delete(ctx context.Context, ref lifecycle.Ref, user tre.User) (*tre.Operation, error)
	// InvokeAction starts a custom action.
	InvokeAction(ctx context.Context, ref lifecycle.Ref, action string, user tre.User) (*tre.Operation, error)
}

// Operations are the operations of the resources, read and controlled;
// *lifecycle.Service implements it.
type Operations interface {
	// Operations lists a resource's operations, oldest first.
	Operations(ctx context.Context, r *tre.Resource) ([]*tre.Operation, error)
	// Operation returns one operation of a resource. Returns CodeInvalid,
	// CodeNotFound.
	Operation(ctx context.Context, r *tre.Resource, opID string) (*tre.Operation, error)
	// MyOperations lists a user's operations in progress.
	MyOperations(ctx context.Context, userID string) ([]*tre.Operation, error)
	// Retry runs a failed operation again from its failed step.
	Retry(ctx context.Context, r *tre.Resource, opID string, user tre.User) (*tre.Operation, error)
	// Cancel stops an operation in progress.
	Cancel(ctx context.Context, r *tre.Resource, opID string, user tre.User) (*tre.Operation, error)
	// ForceFail fails an operation in progress at an admin's word.
	ForceFail(ctx context.Context, r *tre.Resource, opID, reason string, user tre.User) (*tre.Operation, error)
}

// Triggers is what the trigger functions drive: status ingestion and the
// timers' upkeep; *lifecycle.Service implements it.
type Triggers interface {
	// ApplyStatus ingests one status report. Returns CodeInvalid and
	// CodeNotFound for messages a retry cannot help.
	ApplyStatus(ctx context.Context, upd tre.StatusUpdate) (lifecycle.Outcome, error)
	// Sweep recovers interrupted operations and sends undispatched steps.
	Sweep(ctx context.Context) error
	// Watchdog fails the steps nothing will move any more.
	Watchdog(ctx context.Context) (int, error)
}

// Assignments are the workspace role assignments; *assignment.Service
// implements it.
type Assignments interface {
	// RolesOf returns the user's roles in the workspace. Returns
	// CodeInvalid for a malformed id, CodeNotFound when the workspace does
	// not exist.
	RolesOf(ctx context.Context, workspaceID, userID string) ([]tre.Role, error)
	// WorkspacesOf returns the ids of the workspaces where the user has a
	// role.
	WorkspacesOf(ctx context.Context, userID string) (map[string]bool, error)
	// Users lists the users with roles in a workspace. Returns
	// CodeNotFound.
	Users(ctx context.Context, workspaceID string) ([]assignment.WorkspaceUser, error)
	// Assign gives users a role. Returns CodeInvalid, CodeNotFound.
	Assign(ctx context.Context, workspaceID, roleID string, userIDs []string, by tre.User) error
	// Unassign removes a user's role. Returns CodeInvalid, CodeNotFound.
	Unassign(ctx context.Context, workspaceID, userID, roleID string, by tre.User) error
}

// Agents records the heartbeats Resource Processor agents send on the
// status queue; *roster.Service implements it.
type Agents interface {
	// Record keeps an agent's heartbeat. Returns CodeInvalid for a
	// heartbeat without an agent name.
	Record(ctx context.Context, hb tre.AgentHeartbeat) error
}

// DeadLetters are the dead-lettered and refused messages;
// *deadletter.Service implements it.
type DeadLetters interface {
	// List lists them, with the operation each belongs to.
	List(ctx context.Context) ([]deadletter.DeadLetter, error)
	// Replay gives a dead-lettered message another chance. Returns
	// CodeNotFound, CodeConflict.
	Replay(ctx context.Context, queue, id string, user tre.User) error
	// Discard removes one. Returns CodeNotFound.
	Discard(ctx context.Context, queue, id string, user tre.User) error
	// Reject keeps a status message the trigger refuses.
	Reject(ctx context.Context, m deadletter.RejectedMessage) error
}

// Firewall is the firewall service; *egress.Service implements it.
type Firewall interface {
	// Enabled reports whether the service is on (TRE_FIREWALL is not off).
	Enabled() bool
	// View returns the desired and applied state. Returns CodeUnavailable.
	View(ctx context.Context) (*egress.View, error)
	// Sync makes the firewall match the declared rules now. Returns
	// CodeUnavailable.
	Sync(ctx context.Context) (*egress.Report, error)
	// RunSteps runs the firewall steps that are due.
	RunSteps(ctx context.Context) error
	// ManualRuleSets lists the admins' rule sets.
	ManualRuleSets(ctx context.Context) ([]*egress.ManualRules, error)
	// ManualRuleSet returns one. Returns CodeNotFound.
	ManualRuleSet(ctx context.Context, name string) (*egress.ManualRules, error)
	// PutManualRules creates or replaces one. Returns CodeInvalid,
	// CodeUnavailable.
	PutManualRules(ctx context.Context, name string, rules firewall.RuleSet, by tre.User) (*egress.ManualRules, error)
	// DeleteManualRules removes one. Returns CodeNotFound, CodeUnavailable.
	DeleteManualRules(ctx context.Context, name string, by tre.User) error
}

// Airlock is the airlock: its requests, and the processor's functions;
// *airlock.Service implements it.
type Airlock interface {
	// Available returns CodeUnavailable, naming what is missing, when the
	// airlock cannot work (no storage).
	Available() error
	// Create makes a draft request. Returns CodeInvalid, CodeNotFound,
	// CodeConflict, CodeMethodNotAllowed, CodeUnavailable.
	Create(ctx context.Context, workspaceID string, in airlock.NewRequest, by tre.User) (*tre.AirlockRequest, error)
	// Get returns a request of a workspace. Returns CodeInvalid,
	// CodeNotFound, CodeUnavailable.
	Get(ctx context.Context, workspaceID, id string) (*tre.AirlockRequest, error)
	// List returns a workspace's requests. Returns CodeInvalid,
	// CodeNotFound, CodeUnavailable.
	List(ctx context.Context, workspaceID string, f airlock.Filter) ([]*tre.AirlockRequest, error)
	// ListForUser returns a user's requests, or those of the workspaces
	// they manage. Returns CodeInvalid, CodeUnavailable.
	ListForUser(ctx context.Context, user tre.User, asManager bool, f airlock.Filter) ([]*tre.AirlockRequest, error)
	// Submit, Cancel, Review and Revoke change a request's status. They
	// return CodeInvalid (an illegal change), CodeNotFound,
	// CodeUnavailable; Review also CodeConflict.
	Submit(ctx context.Context, workspaceID, id string, by tre.User) (*tre.AirlockRequest, error)
	Cancel(ctx context.Context, workspaceID, id string, by tre.User) (*tre.AirlockRequest, error)
	Review(ctx context.Context, workspaceID, id string, approve bool, explanation string, by tre.User) (*tre.AirlockRequest, error)
	Revoke(ctx context.Context, workspaceID, id, reason string, by tre.User) (*tre.AirlockRequest, error)
	// Link returns a signed URL of the request's container. Returns
	// CodeForbidden, CodeInvalid, CodeNotFound, CodeConflict,
	// CodeUnavailable.
	Link(ctx context.Context, workspaceID, id string, roles []tre.Role) (string, error)
	// AllowedActions lists what a caller may do with a request.
	AllowedActions(r *tre.AirlockRequest, roles []tre.Role, userID string) []string
	// Process does the work of a status change. Returns CodeInvalid for a
	// message a retry cannot help; other errors are transient.
	Process(ctx context.Context, msg tre.AirlockStatusChanged) (airlock.Outcome, error)
	// Sweep sends unsent messages, looks at pending scan verdicts and
	// fails requests left in progress too long.
	Sweep(ctx context.Context) (airlock.SweepReport, error)
}
