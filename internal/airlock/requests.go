package airlock

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// NewRequest is what a caller gives to create a request (AzureTRE's
// AirlockRequestInCreate, whose defaults fill what is left empty).
type NewRequest struct {
	Type                  tre.AirlockType
	Title                 string
	BusinessJustification string
}

// Filter selects and orders the requests of a list (AzureTRE's query
// parameters). Empty fields select everything.
type Filter struct {
	CreatorUserID string
	Type          tre.AirlockType
	Status        tre.AirlockStatus
	// OrderBy is a field of the request; Descending reverses the order.
	OrderBy    string
	Descending bool
}

// orderable are the fields a list can be ordered by, with how to compare.
var orderable = map[string]func(a, b *tre.AirlockRequest) int{
	"id":          func(a, b *tre.AirlockRequest) int { return strings.Compare(a.ID, b.ID) },
	"createdWhen": func(a, b *tre.AirlockRequest) int { return cmpFloat(a.CreatedWhen, b.CreatedWhen) },
	"updatedWhen": func(a, b *tre.AirlockRequest) int { return cmpFloat(a.UpdatedWhen, b.UpdatedWhen) },
	"status":      func(a, b *tre.AirlockRequest) int { return strings.Compare(string(a.Status), string(b.Status)) },
	"type":        func(a, b *tre.AirlockRequest) int { return strings.Compare(string(a.Type), string(b.Type)) },
	"title":       func(a, b *tre.AirlockRequest) int { return strings.Compare(a.Title, b.Title) },
	"businessJustification": func(a, b *tre.AirlockRequest) int {
		return strings.Compare(a.BusinessJustification, b.BusinessJustification)
	},
	"workspaceId":     func(a, b *tre.AirlockRequest) int { return strings.Compare(a.WorkspaceID, b.WorkspaceID) },
	"resourceVersion": func(a, b *tre.AirlockRequest) int { return a.ResourceVersion - b.ResourceVersion },
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Check validates a filter. Returns CodeInvalid naming the parameter.
func (f Filter) Check() error {
	if f.Type != "" && f.Type != tre.AirlockImport && f.Type != tre.AirlockExport {
		return tre.FieldErrorf(tre.CodeInvalid, "type", "type must be import or export, not %q", f.Type)
	}
	if f.Status != "" && !slices.Contains(tre.AirlockStatuses, f.Status) {
		return tre.FieldErrorf(tre.CodeInvalid, "status", "status %q is not an airlock request status", f.Status)
	}
	if _, ok := orderable[f.OrderBy]; f.OrderBy != "" && !ok {
		names := make([]string, 0, len(orderable))
		for n := range orderable {
			names = append(names, n)
		}
		sort.Strings(names)
		return tre.FieldErrorf(tre.CodeInvalid, "order_by", "order_by must be one of %s, not %q", strings.Join(names, ", "), f.OrderBy)
	}
	return nil
}

func (f Filter) conds() []tre.Cond {
	var c []tre.Cond
	if f.CreatorUserID != "" {
		c = append(c, tre.Eq("createdBy.id", f.CreatorUserID))
	}
	if f.Type != "" {
		c = append(c, tre.Eq("type", f.Type))
	}
	if f.Status != "" {
		c = append(c, tre.Eq("status", f.Status))
	}
	return c
}

// sortRequests orders a list by the filter (by creation when it names no
// field).
func (f Filter) sort(list []*tre.AirlockRequest) {
	cmp := orderable["createdWhen"]
	if f.OrderBy != "" {
		cmp = orderable[f.OrderBy]
	}
	slices.SortStableFunc(list, func(a, b *tre.AirlockRequest) int {
		c := cmp(a, b)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if f.Descending {
			return -c
		}
		return c
	})
}

// workspace loads a request's workspace. Returns CodeInvalid (malformed
// id), CodeNotFound, and with deployed CodeConflict for a workspace not
// deployed (AzureTRE's texts).
func (s *Service) workspace(ctx context.Context, workspaceID string, deployed bool) (*tre.Resource, error) {
	if err := lifecycle.CheckID("workspace_id", workspaceID); err != nil {
		return nil, err
	}
	ws, err := s.workspaces.Get(ctx, lifecycle.WorkspaceRef(workspaceID))
	if err != nil {
		return nil, err
	}
	if deployed && !ws.Installed() {
		return nil, tre.Errorf(tre.CodeConflict, "Workspace is not deployed.")
	}
	return ws, nil
}

// Create makes a draft request in a workspace whose airlock is enabled;
// the processor then creates its container. Returns CodeInvalid,
// CodeNotFound, CodeConflict (workspace not deployed),
// CodeMethodNotAllowed (airlock disabled), CodeUnavailable.
func (s *Service) Create(ctx context.Context, workspaceID string, in NewRequest, by tre.User) (*tre.AirlockRequest, error) {
	if err := s.Available(); err != nil {
		return nil, err
	}
	ws, err := s.workspace(ctx, workspaceID, true)
	if err != nil {
		return nil, err
	}
	if enabled, ok := ws.Properties["enable_airlock"].(bool); ok && !enabled {
		return nil, tre.Errorf(tre.CodeMethodNotAllowed, "Airlock is not enabled in this workspace.")
	}
	if in.Type != tre.AirlockImport && in.Type != tre.AirlockExport {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "type", "type must be import or export, not %q", in.Type)
	}
	if in.Title == "" {
		in.Title = "Airlock Request"
	}
	if in.BusinessJustification == "" {
		in.BusinessJustification = "Business Justifications"
	}
	now := s.timestamp()
	r := &tre.AirlockRequest{
		ID: s.newID(), WorkspaceID: ws.ID, Type: in.Type, Title: in.Title, BusinessJustification: in.BusinessJustification,
		Status: tre.AirlockDraft, CreatedBy: by, CreatedWhen: now, UpdatedBy: by, UpdatedWhen: now,
		History: []tre.AirlockHistoryItem{}, Files: []tre.AirlockFile{}, Reviews: []tre.AirlockReview{},
		ReviewUserResources: map[string]tre.AirlockReviewUserResource{},
		Unsent:              []tre.AirlockChange{{Version: 0, Status: tre.AirlockDraft, When: now}},
	}
	etag, err := tre.CreateAs(ctx, s.store, tre.AirlockRequests, r.ID, r)
	if err != nil {
		return nil, fmt.Errorf("airlock: create request: %w", err)
	}
	r.ETag = etag
	s.log.InfoContext(ctx, "airlock request created", "airlock_request_id", r.ID, "workspace_id", ws.ID, "type", r.Type, "by", by.ID)
	s.record(ctx, r, AuditCreate, whoOf(by))
	return s.flush(ctx, r), nil
}

// load reads a request. Returns CodeNotFound with AzureTRE's text.
func (s *Service) load(ctx context.Context, id string) (*tre.AirlockRequest, error) {
	r, err := tre.GetAs[tre.AirlockRequest](ctx, s.store, tre.AirlockRequests, id)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, tre.Errorf(tre.CodeNotFound, "Airlock request does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("airlock: read request %s: %w", id, err)
	}
	return r, nil
}

// Get returns a request of a workspace. Returns CodeInvalid, CodeNotFound
// (also for a request of another workspace), CodeUnavailable.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (*tre.AirlockRequest, error) {
	if err := s.Available(); err != nil {
		return nil, err
	}
	if _, err := s.workspace(ctx, workspaceID, false); err != nil {
		return nil, err
	}
	return s.inWorkspace(ctx, workspaceID, id)
}

func (s *Service) inWorkspace(ctx context.Context, workspaceID, id string) (*tre.AirlockRequest, error) {
	if err := lifecycle.CheckID("airlock_request_id", id); err != nil {
		return nil, err
	}
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.WorkspaceID != workspaceID {
		return nil, tre.Errorf(tre.CodeNotFound, "Airlock request does not exist")
	}
	return r, nil
}

// List returns the requests of a workspace. Returns CodeInvalid,
// CodeNotFound, CodeUnavailable.
func (s *Service) List(ctx context.Context, workspaceID string, f Filter) ([]*tre.AirlockRequest, error) {
	if err := s.Available(); err != nil {
		return nil, err
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	if _, err := s.workspace(ctx, workspaceID, false); err != nil {
		return nil, err
	}
	return s.query(ctx, append(f.conds(), tre.Eq("workspaceId", workspaceID)), f)
}

// ListForUser returns the requests a user created, in every workspace, or
// with asManager the requests of every workspace where the user is an
// airlock manager (AzureTRE's GET /api/requests). Returns CodeInvalid,
// CodeUnavailable.
func (s *Service) ListForUser(ctx context.Context, user tre.User, asManager bool, f Filter) ([]*tre.AirlockRequest, error) {
	if err := s.Available(); err != nil {
		return nil, err
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	if !asManager {
		f.CreatorUserID = user.ID
		return s.query(ctx, f.conds(), f)
	}
	spaces, err := s.members.WorkspacesOf(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	var managed []string
	for id := range spaces {
		roles, err := s.members.RolesOf(ctx, id, user.ID)
		if tre.IsCode(err, tre.CodeNotFound) {
			continue // a deleted workspace
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(roles, tre.RoleAirlockManager) {
			managed = append(managed, id)
		}
	}
	if len(managed) == 0 {
		return []*tre.AirlockRequest{}, nil
	}
	sort.Strings(managed)
	return s.query(ctx, append(f.conds(), tre.In("workspaceId", managed...)), f)
}

func (s *Service) query(ctx context.Context, conds []tre.Cond, f Filter) ([]*tre.AirlockRequest, error) {
	list, err := tre.QueryAs[tre.AirlockRequest](ctx, s.store, tre.AirlockRequests, tre.Query{Where: conds})
	if err != nil {
		return nil, fmt.Errorf("airlock: list requests: %w", err)
	}
	f.sort(list)
	return list, nil
}

// Submit sends a draft request to review: the processor moves its files
// to the in-progress stage (and the scanner scans them). Returns
// CodeInvalid (an illegal status change), CodeNotFound, CodeUnavailable.
func (s *Service) Submit(ctx context.Context, workspaceID, id string, by tre.User) (*tre.AirlockRequest, error) {
	return s.userChange(ctx, workspaceID, id, by, AuditSubmit, func(r *tre.AirlockRequest) error {
		return s.transition(r, tre.AirlockSubmitted, by, "")
	})
}

// Cancel cancels a draft request or one in review; the processor deletes
// its files. Returns CodeInvalid, CodeNotFound, CodeUnavailable.
func (s *Service) Cancel(ctx context.Context, workspaceID, id string, by tre.User) (*tre.AirlockRequest, error) {
	return s.userChange(ctx, workspaceID, id, by, AuditCancel, func(r *tre.AirlockRequest) error {
		return s.transition(r, tre.AirlockCancelled, by, "")
	})
}

// Review records an airlock manager's decision on a request in review. A
// rejection moves it to rejection at once; an approval moves it to
// approval once RequiredApprovals distinct managers have approved (the
// same manager cannot approve twice). Returns CodeInvalid, CodeNotFound,
// CodeConflict (workspace not deployed), CodeUnavailable.
func (s *Service) Review(ctx context.Context, workspaceID, id string, approve bool, explanation string, by tre.User) (*tre.AirlockRequest, error) {
	if _, err := s.workspace(ctx, workspaceID, true); err != nil {
		return nil, err
	}
	action := AuditReject
	if approve {
		action = AuditApprove
	}
	return s.userChange(ctx, workspaceID, id, by, action, func(r *tre.AirlockRequest) error {
		decision, to := tre.DecisionRejected, tre.AirlockRejectionInProgress
		if approve {
			decision, to = tre.DecisionApproved, tre.AirlockApprovalInProgress
		}
		if !Legal(r.Status, to) {
			return errIllegal()
		}
		review := tre.AirlockReview{ID: s.newID(), Reviewer: by, DateCreated: s.timestamp(), ReviewDecision: decision,
			DecisionExplanation: explanation}
		if approve {
			approvers := approversOf(r)
			if slices.Contains(approvers, by.ID) {
				return tre.Errorf(tre.CodeInvalid, "You have approved this request already: it needs the approval of %d different airlock managers", s.cfg.RequiredApprovals)
			}
			if len(approvers)+1 < s.cfg.RequiredApprovals {
				r.Reviews = append(r.Reviews, review)
				s.touch(r, by)
				return nil
			}
		}
		r.Reviews = append(r.Reviews, review)
		return s.transition(r, to, by, "")
	})
}

// approversOf lists the distinct airlock managers who approved a request.
func approversOf(r *tre.AirlockRequest) []string {
	var ids []string
	for _, rv := range r.Reviews {
		if rv.ReviewDecision == tre.DecisionApproved && !slices.Contains(ids, rv.Reviewer.ID) {
			ids = append(ids, rv.Reviewer.ID)
		}
	}
	return ids
}

// Revoke withdraws an approved request: no more links are given to its
// files. Returns CodeInvalid, CodeNotFound, CodeUnavailable.
func (s *Service) Revoke(ctx context.Context, workspaceID, id, reason string, by tre.User) (*tre.AirlockRequest, error) {
	return s.userChange(ctx, workspaceID, id, by, AuditRevoke, func(r *tre.AirlockRequest) error {
		if !Legal(r.Status, tre.AirlockRevoked) {
			return errIllegal()
		}
		r.Reviews = append(r.Reviews, tre.AirlockReview{ID: s.newID(), Reviewer: by, DateCreated: s.timestamp(),
			ReviewDecision: tre.DecisionRevoked, DecisionExplanation: reason})
		return s.transition(r, tre.AirlockRevoked, by, "")
	})
}

// userChange applies a caller's change to a request of a workspace, records
// the decision in the audit trail as action, and sends its messages.
func (s *Service) userChange(ctx context.Context, workspaceID, id string, by tre.User, action string, fn func(*tre.AirlockRequest) error) (*tre.AirlockRequest, error) {
	if err := s.Available(); err != nil {
		return nil, err
	}
	if _, err := s.workspace(ctx, workspaceID, false); err != nil {
		return nil, err
	}
	if _, err := s.inWorkspace(ctx, workspaceID, id); err != nil {
		return nil, err
	}
	r, err := s.update(ctx, id, fn)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "airlock request changed", "airlock_request_id", r.ID, "workspace_id", r.WorkspaceID, "status", r.Status,
		"version", r.ResourceVersion, "by", by.ID)
	s.record(ctx, r, action, whoOf(by))
	return s.flush(ctx, r), nil
}
