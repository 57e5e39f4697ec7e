package airlock

import (
	"fmt"

	"github.com/tre-go/tre/internal/tre"
)

// Layout names the storage account of each stage of a request, as AzureTRE
// lays them out: the stages a workspace's users reach from outside the
// workspace (import external, export approved) and those only the airlock
// touches (in progress, rejected, blocked of imports) are the TRE's; the
// stages inside a workspace's network (import approved, and every export
// stage but approved) are the workspace's, named with the last four
// characters of its id. Each request has one container, named after it,
// in the account of its current stage.
type Layout struct {
	TREID string
}

// AzureTRE's account name prefixes.
const (
	accountImportExternal   = "stalimex"
	accountImportInProgress = "stalimip"
	accountImportApproved   = "stalimappws"
	accountImportRejected   = "stalimrej"
	accountImportBlocked    = "stalimblocked"
	accountExportInternal   = "stalexintws"
	accountExportInProgress = "stalexipws"
	accountExportApproved   = "stalexapp"
	accountExportRejected   = "stalexrejws"
	accountExportBlocked    = "stalexblockedws"
)

// shortID is what names a workspace's accounts.
func shortID(workspaceID string) string {
	if len(workspaceID) < 4 {
		return workspaceID
	}
	return workspaceID[len(workspaceID)-4:]
}

// Account returns the storage account that holds the files of a request of
// type t in status s, of workspace workspaceID. Returns CodeInternal for a
// status whose files are nowhere (cancelled, failed, revoked).
func (l Layout) Account(t tre.AirlockType, s tre.AirlockStatus, workspaceID string) (string, error) {
	ws := shortID(workspaceID)
	var prefix, suffix string
	switch s {
	case tre.AirlockDraft:
		prefix, suffix = pick(t, accountImportExternal, l.TREID, accountExportInternal, ws)
	case tre.AirlockSubmitted, tre.AirlockInReview, tre.AirlockApprovalInProgress, tre.AirlockRejectionInProgress, tre.AirlockBlockingInProgress:
		prefix, suffix = pick(t, accountImportInProgress, l.TREID, accountExportInProgress, ws)
	case tre.AirlockApproved, tre.AirlockRevoked:
		prefix, suffix = pick(t, accountImportApproved, ws, accountExportApproved, l.TREID)
	case tre.AirlockRejected:
		prefix, suffix = pick(t, accountImportRejected, l.TREID, accountExportRejected, ws)
	case tre.AirlockBlocked:
		prefix, suffix = pick(t, accountImportBlocked, l.TREID, accountExportBlocked, ws)
	default:
		return "", fmt.Errorf("airlock: no storage account holds the files of a %s request in status %s", t, s)
	}
	return prefix + suffix, nil
}

func pick(t tre.AirlockType, importPrefix, importSuffix, exportPrefix, exportSuffix string) (string, string) {
	if t == tre.AirlockExport {
		return exportPrefix, exportSuffix
	}
	return importPrefix, importSuffix
}

// Container is the container of a request in status s.
func (l Layout) Container(r *tre.AirlockRequest, s tre.AirlockStatus) (tre.BlobContainer, error) {
	acc, err := l.Account(r.Type, s, r.WorkspaceID)
	if err != nil {
		return tre.BlobContainer{}, err
	}
	return tre.BlobContainer{Account: acc, Name: r.ID}, nil
}

// destination is the status whose account the processor copies a
// request's files to when it enters s: the in-progress account on submit,
// then approved, rejected or blocked.
func destination(s tre.AirlockStatus) (tre.AirlockStatus, bool) {
	switch s {
	case tre.AirlockSubmitted:
		return tre.AirlockInReview, true
	case tre.AirlockApprovalInProgress:
		return tre.AirlockApproved, true
	case tre.AirlockRejectionInProgress:
		return tre.AirlockRejected, true
	case tre.AirlockBlockingInProgress:
		return tre.AirlockBlocked, true
	}
	return "", false
}

// CoreAccounts lists the TRE's accounts (the others are each workspace's).
func (l Layout) CoreAccounts() []string {
	return []string{accountImportExternal + l.TREID, accountImportInProgress + l.TREID, accountImportRejected + l.TREID,
		accountImportBlocked + l.TREID, accountExportApproved + l.TREID}
}

// WorkspaceAccounts lists the accounts of a workspace.
func (l Layout) WorkspaceAccounts(workspaceID string) []string {
	ws := shortID(workspaceID)
	return []string{accountImportApproved + ws, accountExportInternal + ws, accountExportInProgress + ws,
		accountExportRejected + ws, accountExportBlocked + ws}
}
