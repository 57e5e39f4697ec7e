package airlock

import "github.com/tre-go/tre/internal/tre"

// next is AzureTRE's table of legal status changes
// (AirlockRequestRepository.validate_status_update): terminal statuses have
// none.
var next = map[tre.AirlockStatus][]tre.AirlockStatus{
	tre.AirlockDraft:               {tre.AirlockSubmitted, tre.AirlockCancelled, tre.AirlockFailed},
	tre.AirlockSubmitted:           {tre.AirlockInReview, tre.AirlockBlockingInProgress, tre.AirlockFailed},
	tre.AirlockInReview:            {tre.AirlockApprovalInProgress, tre.AirlockRejectionInProgress, tre.AirlockCancelled, tre.AirlockFailed},
	tre.AirlockApprovalInProgress:  {tre.AirlockApproved, tre.AirlockFailed},
	tre.AirlockRejectionInProgress: {tre.AirlockRejected, tre.AirlockFailed},
	tre.AirlockBlockingInProgress:  {tre.AirlockBlocked, tre.AirlockFailed},
	tre.AirlockApproved:            {tre.AirlockRevoked},
}

// Legal reports whether a request may move from one status to another.
func Legal(from, to tre.AirlockStatus) bool {
	for _, s := range next[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Terminal reports whether no status change can follow s.
func Terminal(s tre.AirlockStatus) bool { return len(next[s]) == 0 }

// processed reports whether the processor has work to do when a request
// enters s (create its container, move its files, delete them).
func processed(s tre.AirlockStatus) bool {
	switch s {
	case tre.AirlockDraft, tre.AirlockSubmitted, tre.AirlockApprovalInProgress, tre.AirlockRejectionInProgress,
		tre.AirlockBlockingInProgress, tre.AirlockCancelled:
		return true
	}
	return false
}

// errIllegal is AzureTRE's answer to an illegal status change.
func errIllegal() error {
	return tre.Errorf(tre.CodeInvalid, "Airlock request status change was illegal")
}

// Actions a caller may take on a request (AzureTRE's allowedUserActions).
const (
	ActionReview = "review"
	ActionCancel = "cancel"
	ActionSubmit = "submit"
	ActionRevoke = "revoke"
)
