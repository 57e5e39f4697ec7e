package airlock_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/audit"
	"github.com/tre-go/tre/internal/scanstub"
	"github.com/tre-go/tre/internal/tre"
)

// The legal status changes are AzureTRE's, every pair checked.
func TestLegalChanges(t *testing.T) {
	legal := map[tre.AirlockStatus][]tre.AirlockStatus{
		tre.AirlockDraft:               {tre.AirlockSubmitted, tre.AirlockCancelled, tre.AirlockFailed},
		tre.AirlockSubmitted:           {tre.AirlockInReview, tre.AirlockBlockingInProgress, tre.AirlockFailed},
		tre.AirlockInReview:            {tre.AirlockApprovalInProgress, tre.AirlockRejectionInProgress, tre.AirlockCancelled, tre.AirlockFailed},
		tre.AirlockApprovalInProgress:  {tre.AirlockApproved, tre.AirlockFailed},
		tre.AirlockRejectionInProgress: {tre.AirlockRejected, tre.AirlockFailed},
		tre.AirlockBlockingInProgress:  {tre.AirlockBlocked, tre.AirlockFailed},
		tre.AirlockApproved:            {tre.AirlockRevoked},
	}
	n := 0
	for _, from := range tre.AirlockStatuses {
		for _, to := range tre.AirlockStatuses {
			want := false
			for _, s := range legal[from] {
				want = want || s == to
			}
			require.Equal(t, want, airlock.Legal(from, to), "%s -> %s", from, to)
			if want {
				n++
			}
		}
		require.Equal(t, len(legal[from]) == 0, airlock.Terminal(from), from)
	}
	require.Equal(t, 17, n)
}

// An import, end to end: the files move from the TRE's external account to
// in progress, then to the workspace's approved account; each change is a
// version with its history, a notification, and work for the processor
// where it has some.
func TestImportApproved(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	draft := f.container(r, tre.AirlockDraft)
	require.Equal(t, tre.BlobContainer{Account: "stalimextre1", Name: r.ID}, draft)

	link, err := f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleWorkspaceResearcher})
	require.NoError(t, err)
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, "rwdl", u.Query().Get("sp"), "a draft's link writes")
	require.Equal(t, "2030-01-02T04:04:05Z", u.Query().Get("se"), "valid for an hour")
	f.blobs.Put(draft, "data.csv", []byte("a,b\n1,2\n"))

	r, err = f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockSubmitted, r.Status)
	require.Equal(t, []string{"submitted -> in_review"}, f.processAll())
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockInReview, r.Status)
	require.Equal(t, []tre.AirlockFile{{Name: "data.csv", Size: 8}}, r.Files, "the files as they were submitted")
	require.False(t, f.blobs.Exists(draft), "the draft's container is deleted once copied")
	inProgress := f.container(r, tre.AirlockInReview)
	require.Equal(t, "stalimiptre1", inProgress.Account)
	data, ok := f.blobs.Get(inProgress, "data.csv")
	require.True(t, ok)
	require.Equal(t, "a,b\n1,2\n", string(data))

	// Reviewers open it read-only; researchers may not while it is in review.
	link, err = f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleAirlockManager})
	require.NoError(t, err)
	u, _ = url.Parse(link)
	require.Equal(t, "rl", u.Query().Get("sp"))
	require.Equal(t, "stalimiptre1.blob.fake.test", u.Host)
	_, err = f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleWorkspaceResearcher})
	requireCode(t, err, tre.CodeForbidden, "User is unauthorized to access airlock request files in its current status.")
	require.Equal(t, []string{airlock.ActionReview}, f.svc.AllowedActions(r, []tre.Role{tre.RoleAirlockManager}, manager.ID))
	require.Equal(t, []string{airlock.ActionCancel}, f.svc.AllowedActions(r, []tre.Role{tre.RoleWorkspaceResearcher}, researcher.ID))

	r, err = f.svc.Review(ctx, wsID, r.ID, true, "looks fine", manager)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockApprovalInProgress, r.Status)
	require.Len(t, r.Reviews, 1)
	require.Equal(t, tre.DecisionApproved, r.Reviews[0].ReviewDecision)
	require.Equal(t, "looks fine", r.Reviews[0].DecisionExplanation)
	require.Equal(t, manager.ID, r.Reviews[0].Reviewer.ID)
	_, err = f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleWorkspaceResearcher})
	requireCode(t, err, tre.CodeInvalid, "Airlock request is being processed, please try again later.")

	require.Equal(t, []string{"approval_in_progress -> approved"}, f.processAll())
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockApproved, r.Status)
	approved := f.container(r, tre.AirlockApproved)
	require.Equal(t, "stalimappwsabcd", approved.Account, "the workspace's own approved account")
	_, ok = f.blobs.Get(approved, "data.csv")
	require.True(t, ok, "the file is in the workspace")
	require.False(t, f.blobs.Exists(inProgress))
	require.Equal(t, 4, r.ResourceVersion)
	require.Len(t, r.History, 4)
	for i, want := range []tre.AirlockStatus{tre.AirlockDraft, tre.AirlockSubmitted, tre.AirlockInReview, tre.AirlockApprovalInProgress} {
		require.Equal(t, i, r.History[i].ResourceVersion)
		require.Equal(t, string(want), r.History[i].Properties["previousStatus"])
	}
	require.Empty(t, r.Unsent, "every message was sent")
	require.Nil(t, r.Stage, "the processor's progress is reset by the change")
	link, err = f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleWorkspaceOwner})
	require.NoError(t, err)
	u, _ = url.Parse(link)
	require.Equal(t, "stalimappwsabcd.blob.fake.test", u.Host)
	require.Equal(t, "rl", u.Query().Get("sp"))

	notes := f.notifications()
	require.Equal(t, []tre.AirlockStatus{tre.AirlockDraft, tre.AirlockSubmitted, tre.AirlockInReview, tre.AirlockApprovalInProgress, tre.AirlockApproved}, statuses(notes))
	last := notes[len(notes)-1]
	require.Equal(t, "status_changed", last.EventType)
	require.Equal(t, tre.AirlockApprovalInProgress, last.PreviousStatus)
	require.Equal(t, "Genomics", last.Workspace.DisplayName)
	require.Equal(t, []string{manager.ID, manager2.ID}, sorted(last.RecipientIDsByRole["airlock_manager"]))
	require.Equal(t, []string{owner.ID}, last.RecipientIDsByRole["workspace_owner"])
	require.Equal(t, []tre.AirlockFile{{Name: "data.csv", Size: 8}}, last.Request.Files)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// An export runs the same way the other way round: from the workspace's
// internal account out to the TRE's approved one; a rejection ends in the
// workspace's rejected account.
func TestExport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockExport, owner)
	require.Equal(t, "stalexintwsabcd", f.container(r, tre.AirlockDraft).Account)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "results.txt", []byte("42"))
	_, err := f.svc.Submit(ctx, wsID, r.ID, owner)
	require.NoError(t, err)
	f.processAll()
	require.Equal(t, "stalexipwsabcd", f.container(r, tre.AirlockInReview).Account)
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "ok", manager)
	require.NoError(t, err)
	f.processAll()
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockApproved, r.Status)
	_, ok := f.blobs.Get(tre.BlobContainer{Account: "stalexapptre1", Name: r.ID}, "results.txt")
	require.True(t, ok, "out of the workspace")

	rej := f.draft(tre.AirlockExport, owner)
	f.blobs.Put(f.container(rej, tre.AirlockDraft), "secrets.txt", []byte("no"))
	_, err = f.svc.Submit(ctx, wsID, rej.ID, owner)
	require.NoError(t, err)
	f.processAll()
	rej, err = f.svc.Review(ctx, wsID, rej.ID, false, "identifiable data", manager)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockRejectionInProgress, rej.Status)
	require.Equal(t, tre.DecisionRejected, rej.Reviews[0].ReviewDecision)
	f.processAll()
	rej = f.get(rej.ID)
	require.Equal(t, tre.AirlockRejected, rej.Status)
	_, ok = f.blobs.Get(tre.BlobContainer{Account: "stalexrejwsabcd", Name: rej.ID}, "secrets.txt")
	require.True(t, ok)
	_, err = f.svc.Link(ctx, wsID, rej.ID, []tre.Role{tre.RoleWorkspaceOwner})
	requireCode(t, err, tre.CodeInvalid, "Airlock request is in invalid status: rejected, blocked or failed.")
}

// With the scanner stand-in, a file with the EICAR test string blocks the
// request; the status message says the verdict came from the stand-in.
func TestEICARBlocked(t *testing.T) {
	f := newFixture(t)
	f.svc = airlock.New(f.store, f.blobs, &scanstub.Scanner{Blobs: f.blobs}, f.send, f.ws, f.members,
		airlock.Config{Layout: f.layout}, airlock.Options{Now: f.clock.now})
	ctx := context.Background()
	bad := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(bad, tre.AirlockDraft), "clean.txt", []byte("fine"))
	f.blobs.Put(f.container(bad, tre.AirlockDraft), "eicar.com", []byte(scanstub.EICAR))
	_, err := f.svc.Submit(ctx, wsID, bad.ID, researcher)
	require.NoError(t, err)
	require.Equal(t, []string{"submitted -> blocking_in_progress", "blocking_in_progress -> blocked_by_scan"}, f.processAll())
	bad = f.get(bad.ID)
	require.Equal(t, tre.AirlockBlocked, bad.Status)
	require.Contains(t, bad.StatusMessage, "Malicious (eicar.com: ")
	require.Contains(t, bad.StatusMessage, "stand-in")
	_, ok := f.blobs.Get(tre.BlobContainer{Account: "stalimblockedtre1", Name: bad.ID}, "eicar.com")
	require.True(t, ok, "the files are kept in the blocked account")

	good := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(good, tre.AirlockDraft), "clean.txt", []byte("fine"))
	_, err = f.svc.Submit(ctx, wsID, good.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	good = f.get(good.ID)
	require.Equal(t, tre.AirlockInReview, good.Status)
	require.Contains(t, good.StatusMessage, "stand-in", "in review, the request says its files were not scanned for malware")
}

// Verdicts that are not in yet are looked at again by the sweep; verdicts
// that never come fail the request after the scan limit.
func TestScanVerdictLater(t *testing.T) {
	sc := &scanner{verdicts: map[string]tre.ScanVerdict{}}
	f := newFixture(t, withScanner(sc))
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	require.Equal(t, []string{"waiting for the malware scan of 1 file(s)"}, f.processAll())
	require.Equal(t, tre.AirlockSubmitted, f.get(r.ID).Status)
	rep, err := f.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, airlock.SweepReport{Rescanned: 1}, rep)
	sc.set("a.txt", tre.VerdictClean)
	rep, err = f.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, airlock.SweepReport{Rescanned: 1, Decided: 1}, rep)
	require.Equal(t, tre.AirlockInReview, f.get(r.ID).Status)

	slow := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(slow, tre.AirlockDraft), "b.txt", []byte("b"))
	_, err = f.svc.Submit(ctx, wsID, slow.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	f.clock.advance(61 * time.Minute)
	_, err = f.svc.Sweep(ctx)
	require.NoError(t, err)
	slow = f.get(slow.ID)
	require.Equal(t, tre.AirlockFailed, slow.Status)
	require.Equal(t, "The malware scanner gave no verdict on [b.txt] within 1h0m0s.", slow.StatusMessage)
}

// Illegal changes get 400 with AzureTRE's text, and change nothing.
func TestIllegalChanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	const illegal = "Airlock request status change was illegal"
	_, err := f.svc.Review(ctx, wsID, r.ID, true, "x", manager)
	requireCode(t, err, tre.CodeInvalid, illegal)
	_, err = f.svc.Revoke(ctx, wsID, r.ID, "x", manager)
	requireCode(t, err, tre.CodeInvalid, illegal)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err = f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	_, err = f.svc.Submit(ctx, wsID, r.ID, researcher)
	requireCode(t, err, tre.CodeInvalid, illegal)
	_, err = f.svc.Cancel(ctx, wsID, r.ID, researcher)
	requireCode(t, err, tre.CodeInvalid, illegal)
	require.Equal(t, 1, f.get(r.ID).ResourceVersion, "nothing was written")

	_, err = f.svc.Get(ctx, wsID2, r.ID)
	requireCode(t, err, tre.CodeNotFound, "Airlock request does not exist")
	_, err = f.svc.Get(ctx, wsID, "not-a-uuid")
	requireCode(t, err, tre.CodeInvalid, "")

	f.ws[wsID].Properties["enable_airlock"] = false
	_, err = f.svc.Create(ctx, wsID, airlock.NewRequest{Type: tre.AirlockImport}, researcher)
	requireCode(t, err, tre.CodeMethodNotAllowed, "Airlock is not enabled in this workspace.")
	f.ws[wsID].Properties["enable_airlock"] = true
	_, err = f.svc.Create(ctx, wsID, airlock.NewRequest{Type: "sideways"}, researcher)
	requireCode(t, err, tre.CodeInvalid, "")
	f.ws[wsID].DeploymentStatus = tre.StatusAwaitingDeployment
	_, err = f.svc.Create(ctx, wsID, airlock.NewRequest{Type: tre.AirlockImport}, researcher)
	requireCode(t, err, tre.CodeConflict, "Workspace is not deployed.")
}

// A request without files fails at submission, with AzureTRE's text.
func TestSubmitWithoutFiles(t *testing.T) {
	f := newFixture(t)
	r := f.draft(tre.AirlockImport, researcher)
	_, err := f.svc.Submit(context.Background(), wsID, r.ID, researcher)
	require.NoError(t, err)
	require.Equal(t, []string{"submitted -> failed"}, f.processAll())
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockFailed, r.Status)
	require.Equal(t, "Request did not contain any files.", r.StatusMessage)
}

// Cancel deletes the container of the status the request was in; revoke
// withdraws an approved request's link.
func TestCancelAndRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	r, err := f.svc.Cancel(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockCancelled, r.Status)
	f.processAll()
	require.False(t, f.blobs.Exists(f.container(r, tre.AirlockDraft)))
	_, err = f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleWorkspaceOwner})
	requireCode(t, err, tre.CodeInvalid, "Airlock request was cancelled.")

	r = f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err = f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "ok", manager)
	require.NoError(t, err)
	f.processAll()
	require.Equal(t, []string{airlock.ActionRevoke}, f.svc.AllowedActions(f.get(r.ID), []tre.Role{tre.RoleAirlockManager}, manager.ID))
	r, err = f.svc.Revoke(ctx, wsID, r.ID, "approved in error", manager)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockRevoked, r.Status)
	require.Equal(t, tre.DecisionRevoked, r.Reviews[1].ReviewDecision)
	require.Equal(t, "approved in error", r.Reviews[1].DecisionExplanation)
	_, err = f.svc.Link(ctx, wsID, r.ID, []tre.Role{tre.RoleWorkspaceOwner})
	requireCode(t, err, tre.CodeInvalid, "Airlock request was cancelled.")
	require.Empty(t, f.svc.AllowedActions(r, []tre.Role{tre.RoleAirlockManager, tre.RoleWorkspaceOwner}, manager.ID))
}

// With two approvals required, one manager's approval leaves the request
// in review, the same manager cannot approve twice, and a second one's
// moves it on.
func TestTwoDistinctApprovals(t *testing.T) {
	f := newFixture(t, withApprovals(2))
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	r, err = f.svc.Review(ctx, wsID, r.ID, true, "first", manager)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockInReview, r.Status, "one approval of two")
	require.Len(t, r.Reviews, 1)
	require.Equal(t, 3, r.ResourceVersion, "a version of its own")
	require.Empty(t, f.svc.AllowedActions(r, []tre.Role{tre.RoleAirlockManager}, manager.ID), "not twice by the same manager")
	require.Equal(t, []string{airlock.ActionReview}, f.svc.AllowedActions(r, []tre.Role{tre.RoleAirlockManager}, manager2.ID))
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "again", manager)
	requireCode(t, err, tre.CodeInvalid, "You have approved this request already: it needs the approval of 2 different airlock managers")
	r, err = f.svc.Review(ctx, wsID, r.ID, true, "second", manager2)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockApprovalInProgress, r.Status)
	f.processAll()
	require.Equal(t, tre.AirlockApproved, f.get(r.ID).Status)

	// A rejection needs one manager only.
	r = f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err = f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "yes", manager)
	require.NoError(t, err)
	r, err = f.svc.Review(ctx, wsID, r.ID, false, "no", manager2)
	require.NoError(t, err)
	require.Equal(t, tre.AirlockRejectionInProgress, r.Status)
}

// A copy that fails half-way (the process died, or storage failed) is
// retried from the redelivered message: the request ends approved once,
// with one version and one notification for the change.
func TestCopyFailsHalfWay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		f.blobs.Put(f.container(r, tre.AirlockDraft), n, []byte(n))
	}
	_, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "ok", manager)
	require.NoError(t, err)
	failures := 2
	f.blobs.Fail = func(op string, c tre.BlobContainer, name string) error {
		if op == "copy" && name == "b.txt" && failures > 0 {
			failures--
			return tre.Errorf(tre.CodeUnavailable, "storage down")
		}
		return nil
	}
	out := f.processAll()
	require.Len(t, out, 3, "two failed deliveries, then the third completes: %v", out)
	require.Contains(t, out[0], "storage down")
	require.Equal(t, "approval_in_progress -> approved", out[2])
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockApproved, r.Status)
	require.Equal(t, 4, r.ResourceVersion, "one version per change")
	list, err := f.blobs.List(ctx, f.container(r, tre.AirlockApproved))
	require.NoError(t, err)
	require.Len(t, list, 3)
	notes := statuses(f.notifications())
	require.Equal(t, []tre.AirlockStatus{tre.AirlockDraft, tre.AirlockSubmitted, tre.AirlockInReview, tre.AirlockApprovalInProgress, tre.AirlockApproved}, notes)
}

// A failure after the copy (deleting the source) resumes without copying
// again: the progress is recorded before the next step.
func TestResumeAfterCopy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	failed := false
	f.blobs.Fail = func(op string, c tre.BlobContainer, name string) error {
		if op == "delete" && !failed {
			failed = true
			return errors.New("connection reset")
		}
		return nil
	}
	out := f.processAll()
	require.Equal(t, []string{"error: connection reset", "submitted -> in_review"}, out)
	require.Equal(t, 1, f.blobs.Count("copy"), "copied once")
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockInReview, r.Status)
	require.Equal(t, []tre.AirlockFile{{Name: "a.txt", Size: 1}}, r.Files)
}

// A message delivered again after the work is done changes nothing.
func TestDuplicateDelivery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	r, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	msg := tre.AirlockStatusChanged{RequestID: r.ID, NewStatus: tre.AirlockSubmitted, PreviousStatus: tre.AirlockDraft, Type: tre.AirlockImport, Version: 1}
	out, err := f.svc.Process(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, airlock.Outcome("request is in_review now: nothing to do"), out)
	require.Equal(t, 2, f.get(r.ID).ResourceVersion)
	out, err = f.svc.Process(ctx, tre.AirlockStatusChanged{RequestID: "00000000-0000-4000-8000-000000000000", NewStatus: tre.AirlockSubmitted})
	require.NoError(t, err)
	require.Equal(t, airlock.Outcome("no such request"), out)
	_, err = f.svc.Process(ctx, tre.AirlockStatusChanged{})
	requireCode(t, err, tre.CodeInvalid, "")
}

// A change whose messages cannot be sent is stored with them; the sweep
// sends them once the queue is back, and the processor then does the work.
func TestUnsentMessagesAreSentBySweep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	f.send.setFail(tre.Errorf(tre.CodeUnavailable, "queue down"))
	r, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err, "the change is stored; its messages wait")
	require.Equal(t, tre.AirlockSubmitted, r.Status)
	require.Len(t, f.get(r.ID).Unsent, 1)
	require.Empty(t, f.processAll())
	_, err = f.svc.Sweep(ctx)
	require.Error(t, err, "still down")

	f.send.setFail(nil)
	rep, err := f.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Sent)
	require.Empty(t, f.get(r.ID).Unsent)
	require.Equal(t, []string{"submitted -> in_review"}, f.processAll())
	rep, err = f.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, airlock.SweepReport{}, rep, "nothing left to do")
}

// A request the processor never moves on (its messages dead-lettered)
// fails after the processing limit, saying why.
func TestProcessingLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.clock.advance(time.Hour)
	rep, err := f.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Failed, "within the limit")
	f.clock.advance(61 * time.Minute)
	rep, err = f.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Failed)
	r = f.get(r.ID)
	require.Equal(t, tre.AirlockFailed, r.Status)
	require.Contains(t, r.StatusMessage, "did not finish the submitted step within 2h0m0s")
	require.Equal(t, []string{"request is failed now: nothing to do"}, f.processAll(), "the late message finds nothing to do")
}

// Lists: a workspace's requests with AzureTRE's filters and order, and a
// user's own requests or, for an airlock manager, those of the workspaces
// they manage.
func TestLists(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.draft(tre.AirlockImport, researcher)
	b := f.draft(tre.AirlockExport, owner)
	c := f.draft(tre.AirlockImport, owner)
	_, err := f.svc.Cancel(ctx, wsID, c.ID, owner)
	require.NoError(t, err)
	ids := func(list []*tre.AirlockRequest) []string {
		var out []string
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	list, err := f.svc.List(ctx, wsID, airlock.Filter{})
	require.NoError(t, err)
	require.Equal(t, []string{a.ID, b.ID, c.ID}, ids(list), "by creation")
	list, err = f.svc.List(ctx, wsID, airlock.Filter{OrderBy: "updatedWhen", Descending: true})
	require.NoError(t, err)
	require.Equal(t, []string{c.ID, b.ID, a.ID}, ids(list))
	list, err = f.svc.List(ctx, wsID, airlock.Filter{Type: tre.AirlockImport, Status: tre.AirlockDraft})
	require.NoError(t, err)
	require.Equal(t, []string{a.ID}, ids(list))
	list, err = f.svc.List(ctx, wsID, airlock.Filter{CreatorUserID: owner.ID})
	require.NoError(t, err)
	require.Equal(t, []string{b.ID, c.ID}, ids(list))
	_, err = f.svc.List(ctx, wsID, airlock.Filter{OrderBy: "c.id; DROP"})
	requireCode(t, err, tre.CodeInvalid, "")

	list, err = f.svc.ListForUser(ctx, researcher, false, airlock.Filter{})
	require.NoError(t, err)
	require.Equal(t, []string{a.ID}, ids(list))
	list, err = f.svc.ListForUser(ctx, manager, true, airlock.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 3)
	list, err = f.svc.ListForUser(ctx, outsider, true, airlock.Filter{})
	require.NoError(t, err)
	require.Empty(t, list)
}

// Without storage, every call says what is missing.
func TestUnavailable(t *testing.T) {
	f := newFixture(t)
	svc := airlock.New(f.store, f.blobs, nil, f.send, f.ws, f.members, airlock.Config{Unavailable: "The airlock has no storage"}, airlock.Options{})
	_, err := svc.Create(context.Background(), wsID, airlock.NewRequest{Type: tre.AirlockImport}, researcher)
	requireCode(t, err, tre.CodeUnavailable, "The airlock has no storage")
	_, err = svc.Sweep(context.Background())
	requireCode(t, err, tre.CodeUnavailable, "The airlock has no storage")
}

// auditor keeps the records of the audit trail.
type auditor struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (a *auditor) Write(_ context.Context, rec audit.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, rec)
	return nil
}

// Every decision is an audit record: the callers' with who made them, the
// processor's outcomes as the processor, each with the request, its
// workspace and the status it left.
func TestDecisionsAreAudited(t *testing.T) {
	f := newFixture(t)
	trail := &auditor{}
	f.svc = airlock.New(f.store, f.blobs, nil, f.send, f.ws, f.members, airlock.Config{Layout: f.layout, RequiredApprovals: 2},
		airlock.Options{Now: f.clock.now, Audit: trail})
	ctx := context.Background()
	r := f.draft(tre.AirlockImport, researcher)
	f.blobs.Put(f.container(r, tre.AirlockDraft), "a.txt", []byte("a"))
	_, err := f.svc.Submit(ctx, wsID, r.ID, researcher)
	require.NoError(t, err)
	f.processAll()
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "one", manager)
	require.NoError(t, err)
	_, err = f.svc.Review(ctx, wsID, r.ID, true, "two", manager2)
	require.NoError(t, err)
	f.processAll()
	_, err = f.svc.Revoke(ctx, wsID, r.ID, "in error", manager)
	require.NoError(t, err)
	type entry struct{ action, who, status string }
	var got []entry
	for _, rec := range trail.recs {
		require.Equal(t, airlock.KindAirlock, rec.Kind)
		require.Equal(t, r.ID, rec.ResourceID)
		require.Equal(t, wsID, rec.WorkspaceID)
		require.Equal(t, "/workspaces/"+wsID+"/requests/"+r.ID, rec.ResourcePath)
		got = append(got, entry{rec.Action, rec.User.ID, rec.OperationStatus})
	}
	require.Equal(t, []entry{
		{"airlock-create", researcher.ID, "draft"},
		{"airlock-submit", researcher.ID, "submitted"},
		{"airlock-in_review", "airlock-processor", "in_review"},
		{"airlock-approve", manager.ID, "in_review"},
		{"airlock-approve", manager2.ID, "approval_in_progress"},
		{"airlock-approved", "airlock-processor", "approved"},
		{"airlock-revoke", manager.ID, "revoked"},
	}, got)
}
