package airlock

import (
	"context"

	"github.com/tre-go/tre/internal/audit"
	"github.com/tre-go/tre/internal/tre"
)

// Auditor is the audit trail; *audit.Service implements it.
type Auditor interface {
	// Write appends a record.
	Write(ctx context.Context, rec audit.Record) error
}

// KindAirlock marks the audit records of airlock decisions.
const KindAirlock = "airlock"

// ResourceType is the audit's name of an airlock request (AzureTRE's
// AIRLOCK_RESOURCE_TYPE_REQUEST).
const ResourceType = "airlock-request"

// processorUser is who the processor's outcomes are recorded as.
var processorUser = audit.Who{ID: "airlock-processor", Name: "Airlock processor"}

// Actions of the airlock's audit records: the caller's decisions, and
// airlock-<status> for the processor's outcomes (airlock-in_review,
// airlock-blocked_by_scan, airlock-approved, airlock-failed, ...).
const (
	AuditCreate  = "airlock-create"
	AuditSubmit  = "airlock-submit"
	AuditCancel  = "airlock-cancel"
	AuditApprove = "airlock-approve"
	AuditReject  = "airlock-reject"
	AuditRevoke  = "airlock-revoke"
)

// record appends an airlock decision to the audit trail: who, which
// request of which workspace, the status it left the request in. A
// failure is logged (the decision itself is stored): the audit trail is
// written as the API writes its own, after the change.
func (s *Service) record(ctx context.Context, r *tre.AirlockRequest, action string, who audit.Who) {
	if s.audit == nil {
		return
	}
	rec := audit.Record{Kind: KindAirlock, User: who, Action: action, ResourceID: r.ID, ResourceType: ResourceType,
		ResourcePath: "/workspaces/" + r.WorkspaceID + "/requests/" + r.ID, WorkspaceID: r.WorkspaceID,
		OperationStatus: string(r.Status)}
	if err := s.audit.Write(context.WithoutCancel(ctx), rec); err != nil {
		s.log.ErrorContext(ctx, "audit record of an airlock decision not stored", "airlock_request_id", r.ID, "action", action, "error", err.Error())
	}
}

func whoOf(u tre.User) audit.Who {
	return audit.Who{ID: u.ID, Name: u.Name, Roles: append([]string{}, u.Roles...)}
}
