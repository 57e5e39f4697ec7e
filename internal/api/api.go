// Package api is the control plane's HTTP API: AzureTRE's routes and
// payloads (see shared/reference/azuretre-contract.md) with our additions,
// served by the custom-handler program behind the Functions host. Errors are
// application/problem+json, every response carries X-Request-Id, and every
// request is logged as one structured line.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tre-go/tre/internal/tre"
)

// API holds what the routes need: the services, each behind an interface
// of what the routes use of it (services.go). Fields are set by the
// program's main.
type API struct {
	Log  *slog.Logger
	Auth tre.Authenticator
	// Registry is the template registry.
	Registry Templates
	// Resources and Operations are the resource lifecycle; Triggers is
	// what the trigger functions drive.
	Resources  Resources
	Operations Operations
	Triggers   Triggers
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
	// Airlock is the airlock.
	Airlock Airlock
	// Costs reports costs (AzureTRE's /api/costs routes).
	Costs Costs
	// Catalogs are the workspaces' catalogues of allowed templates.
	Catalogs Catalogs
	// Audit is the audit trail: accepted changes are recorded in it (nil:
	// not recorded).
	Audit Audit
	// Upgrades are the bulk upgrades.
	Upgrades Upgrades
	// Health lists the dependencies /api/health reports.
	Health []HealthCheck
	// Metadata is served at /api/.metadata.
	Metadata Metadata
	// ListStreamPage is the store page an unpaged list is streamed by
	// (DefaultListStreamPage if 0).
	ListStreamPage int
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// TriggerKey, when set, must be sent in the X-TRE-Trigger-Key header
	// of every trigger invocation (the local stand-in for the Functions host
	// sends it); trigger routes answer loopback peers only either way.
	TriggerKey string
	// MaxStreamsPerUser caps the event streams one user holds open at once
	// (default 8); more get 429.
	MaxStreamsPerUser int
	streams           streams
	// EventPoll is how often an event stream looks for changes.
	EventPoll time.Duration
	// StreamLimit is how long one event stream lasts (DefaultStreamLimit
	// if 0); it then sends a reconnect event and ends.
	StreamLimit time.Duration
	// Tracer makes the server span of each request and invocation (none
	// if nil).
	Tracer trace.Tracer
	// TimerBudget bounds the work of one firewall-reconcile invocation
	// (none if 0): the rest is left for the next run.
	TimerBudget time.Duration
	// TriggerRetry is how Service Bus triggers retry, within an
	// invocation, what failed on an unavailable dependency (none if zero).
	TriggerRetry TriggerRetry
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
	// Name is AzureTRE's service name ("Cosmos DB", "Service Bus",
	// "Resource Processor"), whatever stands in for it: AzureTRE's clients
	// and e2e suite compare the list.
	Name  string
	Check func(ctx context.Context) error
	// Backend names what answers for the service when it is not the Azure
	// service itself (the embedded SQLite store, the in-process
	// processor); the report lists it apart from the services.
	Backend string
	// Additional marks a dependency AzureTRE's report does not have (the
	// airlock's storage): it is reported under additionalServices, so that
	// services stays AzureTRE's list, and counts for the status the same.
	Additional bool
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
	routes = append(routes, a.airlockRoutes()...)
	routes = append(routes, a.costRoutes()...)
	routes = append(routes, a.catalogRoutes()...)
	routes = append(routes, a.auditRoutes()...)
	routes = append(routes, a.upgradeRoutes()...)
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
	services, additional := []ServiceStatus{}, []ServiceStatus{}
	backends := map[string]string{}
	for i, h := range a.Health {
		if h.Additional {
			additional = append(additional, results[i])
		} else {
			services = append(services, results[i])
		}
		if h.Backend != "" {
			backends[h.Name] = h.Backend
		}
	}
	body := map[string]any{"services": services}
	if len(additional) > 0 {
		body["additionalServices"] = additional
	}
	if len(backends) > 0 {
		body["backends"] = backends
	}
	writeJSON(w, status, body)
	return nil
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.Metadata)
	return nil
}

// DefaultStreamLimit ends an event stream in time for the Functions host:
// a proxied HTTP invocation is cut at 230 s by Azure's front end, and at the
// host's functionTimeout. The client opens a new stream when told to
// reconnect.
const DefaultStreamLimit = 3 * time.Minute

func (a *API) streamLimit() time.Duration {
	if a.StreamLimit <= 0 {
		return DefaultStreamLimit
	}
	return a.StreamLimit
}

// reconnect ends an event stream at its limit: the client opens a new one.
func reconnect(w http.ResponseWriter, flusher http.Flusher) {
	fmt.Fprint(w, "event: reconnect\ndata: {}\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}
