// Package api is the control plane's HTTP API: AzureTRE's routes and
// payloads (see shared/reference/azuretre-contract.md) with our additions,
// served by the custom-handler program behind the Functions host. Errors are
// application/problem+json, every response carries X-Request-Id, and every
// request is logged as one structured line.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// API holds what the routes need. Fields are set by the program's main.
type API struct {
	Log      *slog.Logger
	Auth     tre.Authenticator
	Registry *registry.Registry
	// Lifecycle manages resources and operations.
	Lifecycle *lifecycle.Service
	// Assignments are the workspace roles: the access rules read them, the
	// users routes change them.
	Assignments Assignments
	// Agents records the Resource Processor agents' heartbeats.
	Agents Agents
	// DeadLetters are the messages nothing will process: the queues' dead
	// letters and the status messages the trigger refused.
	DeadLetters DeadLetters
	// Firewall is the firewall service.
	Firewall Firewall
	// Health lists the dependencies /api/health reports.
	Health []HealthCheck
	// Metadata is served at /api/.metadata.
	Metadata Metadata
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// EventPoll is how often an event stream looks for changes.
	EventPoll time.Duration
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

// Metadata is AzureTRE's /.metadata answer, plus how tokens are issued.
type Metadata struct {
	APIVersion   string `json:"api_version"`
	APIClientID  string `json:"api_client_id"`
	APIRootScope string `json:"api_root_scope"`
	AADTenantID  string `json:"aad_tenant_id"`
	// AuthMode is "entra" or "dev" (the local dev issuer).
	AuthMode string `json:"auth_mode"`
}

// HealthCheck is one dependency of the health report.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}

func (a *API) maxBody() int64 {
	if a.MaxBodyBytes <= 0 {
		return 1 << 20
	}
	return a.MaxBodyBytes
}

// Routes is the route table of the whole API.
func (a *API) Routes() []Route {
	routes := []Route{
		{Method: "GET", Pattern: "/{$}", Access: public, Summary: "Readiness probe of the Functions host", Status: 200, Handle: a.ping},
		{Method: "GET", Pattern: "/api/{$}", Access: public, Summary: "Ping", Status: 200, Handle: a.ping},
		{Method: "GET", Pattern: "/api/ping", Access: public, Summary: "Ping", Status: 200, Handle: a.ping},
		{Method: "GET", Pattern: "/api/health", Access: public, Summary: "Health of each dependency", Status: 200, Handle: a.health},
		{Method: "GET", Pattern: "/api/.metadata", Access: public, Summary: "Authentication metadata for clients", Status: 200, Handle: a.metadata},
		{Method: "GET", Pattern: "/api/openapi.json", Access: public, Summary: "This document", Status: 200, Handle: a.openapi},
	}
	routes = append(routes, a.templateRoutes()...)
	routes = append(routes, a.resourceRoutes()...)
	routes = append(routes, a.workspaceRoutes()...)
	routes = append(routes, a.operationControlRoutes()...)
	routes = append(routes, a.firewallRoutes()...)
	routes = append(routes, a.triggerRoutes()...)
	return routes
}

func (a *API) ping(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, "pong")
	return nil
}

// ServiceStatus is one entry of the health report (AzureTRE's shape).
type ServiceStatus struct {
	Service string `json:"service"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// health checks every dependency in parallel, each within 2 s, and answers
// 200 when all are OK, 503 otherwise, with AzureTRE's body either way.
func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	results := make([]ServiceStatus, len(a.Health))
	done := make(chan struct{}, len(a.Health))
	for i, h := range a.Health {
		go func() {
			defer func() { done <- struct{}{} }()
			results[i] = ServiceStatus{Service: h.Name, Status: "OK"}
			if err := h.Check(ctx); err != nil {
				results[i].Status = "Not OK"
				results[i].Message = err.Error()
			}
		}()
	}
	for range a.Health {
		<-done
	}
	status := http.StatusOK
	for _, s := range results {
		if s.Status != "OK" {
			status = http.StatusServiceUnavailable
			loggerOf(r.Context(), a.log()).Warn("dependency unhealthy", "service", s.Service, "message", s.Message)
		}
	}
	writeJSON(w, status, map[string]any{"services": results})
	return nil
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.Metadata)
	return nil
}
