package airlock

import (
	"context"
	"slices"

	"github.com/tre-go/tre/internal/tre"
)

// Link returns the URL of a request's container in its current stage,
// with a signature valid for LinkExpiry: write access (read, write, list,
// delete) while the request is a draft, read and list after. Who may have
// it is AzureTRE's rule: owners and researchers, but in review owners and
// airlock managers (the reviewers open the files read-only with it).
// Returns CodeForbidden, CodeInvalid (a status whose files are being moved
// or gone, AzureTRE's texts), CodeNotFound, CodeConflict (workspace not
// deployed), CodeUnavailable.
func (s *Service) Link(ctx context.Context, workspaceID, id string, roles []tre.Role) (string, error) {
	if err := s.Available(); err != nil {
		return "", err
	}
	if _, err := s.workspace(ctx, workspaceID, true); err != nil {
		return "", err
	}
	r, err := s.inWorkspace(ctx, workspaceID, id)
	if err != nil {
		return "", err
	}
	allowed := []tre.Role{tre.RoleWorkspaceResearcher, tre.RoleWorkspaceOwner}
	if r.Status == tre.AirlockInReview {
		allowed = []tre.Role{tre.RoleAirlockManager, tre.RoleWorkspaceOwner}
	}
	if !slices.ContainsFunc(roles, func(role tre.Role) bool { return slices.Contains(allowed, role) }) {
		return "", tre.Errorf(tre.CodeForbidden, "User is unauthorized to access airlock request files in its current status.")
	}
	switch r.Status {
	case tre.AirlockApprovalInProgress, tre.AirlockRejectionInProgress, tre.AirlockBlockingInProgress:
		return "", tre.Errorf(tre.CodeInvalid, "Airlock request is being processed, please try again later.")
	case tre.AirlockCancelled, tre.AirlockRevoked:
		return "", tre.Errorf(tre.CodeInvalid, "Airlock request was cancelled.")
	case tre.AirlockFailed, tre.AirlockRejected, tre.AirlockBlocked:
		return "", tre.Errorf(tre.CodeInvalid, "Airlock request is in invalid status: rejected, blocked or failed.")
	}
	c, err := s.cfg.Layout.Container(r, r.Status)
	if err != nil {
		return "", err
	}
	perm := tre.BlobPermissions{Read: true, List: true}
	if r.Status == tre.AirlockDraft {
		perm = tre.BlobPermissions{Read: true, Write: true, Delete: true, List: true}
	}
	return s.blobs.SignedURL(ctx, c, perm, s.now().Add(s.cfg.LinkExpiry))
}

// AllowedActions lists what a caller with roles in the request's
// workspace may do with it now (AzureTRE's allowedUserActions): review
// (airlock managers, in review; not twice by one manager when two
// approvals are required), cancel and submit (owners and researchers),
// revoke (airlock managers), each when the status change is legal.
func (s *Service) AllowedActions(r *tre.AirlockRequest, roles []tre.Role, userID string) []string {
	manager := slices.Contains(roles, tre.RoleAirlockManager)
	member := slices.Contains(roles, tre.RoleWorkspaceOwner) || slices.Contains(roles, tre.RoleWorkspaceResearcher)
	actions := []string{}
	if manager && Legal(r.Status, tre.AirlockApprovalInProgress) && !slices.Contains(approversOf(r), userID) {
		actions = append(actions, ActionReview)
	}
	if member && Legal(r.Status, tre.AirlockCancelled) {
		actions = append(actions, ActionCancel)
	}
	if member && Legal(r.Status, tre.AirlockSubmitted) {
		actions = append(actions, ActionSubmit)
	}
	if manager && Legal(r.Status, tre.AirlockRevoked) {
		actions = append(actions, ActionRevoke)
	}
	return actions
}
