package tre

import (
	"context"
	"io"
	"time"
)

// AirlockType says which way an airlock request moves data: into a
// workspace (import) or out of it (export).
type AirlockType string

// Airlock request types, AzureTRE's values.
const (
	AirlockImport AirlockType = "import"
	AirlockExport AirlockType = "export"
)

// AirlockStatus is the status of an airlock request, AzureTRE's values.
type AirlockStatus string

// Airlock request statuses. The *InProgress ones, and submitted, are the
// airlock processor's: it moves the request's files to the next stage and
// sets the outcome.
const (
	AirlockDraft               AirlockStatus = "draft"
	AirlockSubmitted           AirlockStatus = "submitted"
	AirlockInReview            AirlockStatus = "in_review"
	AirlockApprovalInProgress  AirlockStatus = "approval_in_progress"
	AirlockApproved            AirlockStatus = "approved"
	AirlockRejectionInProgress AirlockStatus = "rejection_in_progress"
	AirlockRejected            AirlockStatus = "rejected"
	AirlockCancelled           AirlockStatus = "cancelled"
	AirlockBlockingInProgress  AirlockStatus = "blocking_in_progress"
	AirlockBlocked             AirlockStatus = "blocked_by_scan"
	AirlockFailed              AirlockStatus = "failed"
	AirlockRevoked             AirlockStatus = "revoked"
)

// AirlockStatuses lists every status.
var AirlockStatuses = []AirlockStatus{AirlockDraft, AirlockSubmitted, AirlockInReview, AirlockApprovalInProgress,
	AirlockApproved, AirlockRejectionInProgress, AirlockRejected, AirlockCancelled, AirlockBlockingInProgress,
	AirlockBlocked, AirlockFailed, AirlockRevoked}

// AirlockDecision is a review's decision, AzureTRE's values.
type AirlockDecision string

// Review decisions.
const (
	DecisionApproved AirlockDecision = "approved"
	DecisionRejected AirlockDecision = "rejected"
	DecisionRevoked  AirlockDecision = "revoked"
)

// AirlockRequests holds airlock requests (AzureTRE's container name).
const AirlockRequests Collection = "Requests"

// AirlockRequest is a request to move files into or out of a workspace
// under review. The JSON is the stored document, with AzureTRE's field
// names (its Requests container); the API answers with its own type, which
// leaves out the processor's bookkeeping (Stage, Unsent).
type AirlockRequest struct {
	ID                    string               `json:"id"`
	ResourceVersion       int                  `json:"resourceVersion"`
	CreatedBy             User                 `json:"createdBy"`
	CreatedWhen           float64              `json:"createdWhen"`
	UpdatedBy             User                 `json:"updatedBy"`
	UpdatedWhen           float64              `json:"updatedWhen"`
	History               []AirlockHistoryItem `json:"history"`
	WorkspaceID           string               `json:"workspaceId"`
	Type                  AirlockType          `json:"type"`
	Files                 []AirlockFile        `json:"files"`
	Title                 string               `json:"title"`
	BusinessJustification string               `json:"businessJustification"`
	Status                AirlockStatus        `json:"status"`
	StatusMessage         string               `json:"statusMessage,omitempty"`
	Reviews               []AirlockReview      `json:"reviews"`
	ETag                  string               `json:"_etag,omitempty"`
	// ReviewUserResources are AzureTRE's review VMs, by reviewer; none are
	// made here yet (the route answers 501), so it stays empty.
	ReviewUserResources map[string]AirlockReviewUserResource `json:"reviewUserResources"`

	// Stage is the airlock processor's progress on the work of the current
	// status (files copied, source deleted): a redelivered message resumes
	// where a crashed invocation stopped.
	Stage *AirlockStage `json:"stage,omitempty"`
	// Unsent are status changes whose messages (to the processor and to
	// the notification topic) are not known to be sent yet: written with
	// the change, removed once sent, re-sent by the sweep after a crash.
	Unsent []AirlockChange `json:"unsent,omitempty"`
	// Sending is true while Unsent is not empty: the sweep finds such
	// requests by it.
	Sending bool `json:"sending,omitempty"`
}

// SetETag implements ETagSetter.
func (r *AirlockRequest) SetETag(e string) { r.ETag = e }

// AirlockFile is one file of a request.
type AirlockFile struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// AirlockReview is an airlock manager's decision on a request.
type AirlockReview struct {
	ID                  string          `json:"id"`
	Reviewer            User            `json:"reviewer"`
	DateCreated         float64         `json:"dateCreated"`
	ReviewDecision      AirlockDecision `json:"reviewDecision"`
	DecisionExplanation string          `json:"decisionExplanation"`
}

// AirlockHistoryItem is the state of a request before one of its changes
// (AzureTRE keeps the previous status in Properties["previousStatus"]).
type AirlockHistoryItem struct {
	ResourceVersion int            `json:"resourceVersion"`
	UpdatedWhen     float64        `json:"updatedWhen"`
	UpdatedBy       User           `json:"updatedBy"`
	Properties      map[string]any `json:"properties"`
}

// AirlockReviewUserResource names a review VM (AzureTRE's).
type AirlockReviewUserResource struct {
	WorkspaceID        string `json:"workspaceId"`
	WorkspaceServiceID string `json:"workspaceServiceId"`
	UserResourceID     string `json:"userResourceId"`
}

// AirlockStage is the processor's progress on the current status's work.
type AirlockStage struct {
	Status AirlockStatus `json:"status"`
	// Copied: every file is in the next stage's container; Files lists
	// them as they were copied.
	Copied bool          `json:"copied,omitempty"`
	Files  []AirlockFile `json:"files,omitempty"`
	// CopiedWhen is when the copy finished: the malware scan's time limit
	// counts from it.
	CopiedWhen float64 `json:"copiedWhen,omitempty"`
	// SourceDeleted: the previous stage's container is gone.
	SourceDeleted bool `json:"sourceDeleted,omitempty"`
}

// AirlockChange is one status change of a request whose messages are
// still to be sent.
type AirlockChange struct {
	Version  int           `json:"version"`
	Previous AirlockStatus `json:"previous,omitempty"`
	Status   AirlockStatus `json:"status"`
	When     float64       `json:"when"`
}

// Airlock queues. Status changes that need work go to the processor's
// queue (session = the request, so one request's changes are handled in
// order, one at a time); every status change goes to the notification
// topic, for notifiers (email, Teams) to consume.
const (
	QueueAirlockStatus       = "airlock-status-changed"
	QueueAirlockNotification = "airlock-notification"
)

// Queues lists every queue (or topic) of the system.
var Queues = []string{QueueRequests, QueueStatus, QueueAirlockStatus, QueueAirlockNotification}

// Topics lists the entries of Queues that are topics in Service Bus (their
// consumers subscribe; locally each is a queue like the others).
var Topics = []string{QueueAirlockNotification}

// KnownQueue reports whether name is one of Queues.
func KnownQueue(name string) bool {
	for _, q := range Queues {
		if q == name {
			return true
		}
	}
	return false
}

// AirlockEvent is the body of an airlock message: an Event Grid event, as
// AzureTRE's API publishes it (its processor and notifier read Data).
type AirlockEvent struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	EventType   string `json:"eventType"`
	EventTime   string `json:"eventTime"`
	DataVersion string `json:"dataVersion"`
	Data        any    `json:"data"`
}

// Event types and data versions of the airlock events.
const (
	EventStatusChanged       = "statusChanged"
	EventAirlockNotification = "airlockNotification"
)

// AirlockStatusChanged is the Data of a statusChanged event (AzureTRE's
// StatusChangedData: workspace_id is the last four characters of the
// workspace id, which name its storage accounts), plus the version of the
// request the change made.
type AirlockStatusChanged struct {
	RequestID      string        `json:"request_id"`
	NewStatus      AirlockStatus `json:"new_status"`
	PreviousStatus AirlockStatus `json:"previous_status,omitempty"`
	Type           AirlockType   `json:"type"`
	WorkspaceID    string        `json:"workspace_id"`
	Version        int           `json:"version"`
}

// AirlockNotification is the Data of an airlockNotification event:
// AzureTRE's AirlockNotificationData (data version 4.0), plus
// previous_status and the recipients' user ids (emails are known only to
// the directory: recipient_emails_by_role lists none here).
type AirlockNotification struct {
	EventType             string                     `json:"event_type"`
	RecipientEmailsByRole map[string][]string        `json:"recipient_emails_by_role"`
	RecipientIDsByRole    map[string][]string        `json:"recipient_ids_by_role"`
	Request               AirlockNotificationRequest `json:"request"`
	Workspace             AirlockNotificationSpace   `json:"workspace"`
	PreviousStatus        AirlockStatus              `json:"previous_status,omitempty"`
	StatusMessage         string                     `json:"status_message,omitempty"`
}

// AirlockNotificationRequest is the request part of a notification.
type AirlockNotificationRequest struct {
	ID                    string           `json:"id"`
	CreatedWhen           float64          `json:"created_when"`
	CreatedBy             NotificationUser `json:"created_by"`
	UpdatedWhen           float64          `json:"updated_when"`
	UpdatedBy             NotificationUser `json:"updated_by"`
	RequestType           AirlockType      `json:"request_type"`
	Files                 []AirlockFile    `json:"files"`
	Status                AirlockStatus    `json:"status"`
	BusinessJustification string           `json:"business_justification"`
	Title                 string           `json:"title"`
}

// NotificationUser is a user as a notification names them.
type NotificationUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// AirlockNotificationSpace is the workspace part of a notification.
type AirlockNotificationSpace struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Description string `json:"description"`
}

// BlobContainer names a container of a storage account: the airlock keeps
// one container per request (named after it) in the account of each stage.
type BlobContainer struct {
	Account string
	Name    string
}

func (c BlobContainer) String() string { return c.Account + "/" + c.Name }

// BlobInfo describes one blob of a container.
type BlobInfo struct {
	Name string
	Size int64
}

// BlobPermissions are what a signed container URL allows.
type BlobPermissions struct {
	Read, Write, Delete, List bool
}

// Blobs is the airlock's storage port: containers of blobs in the storage
// accounts of the airlock's stages. Azure: Azure Storage with the managed
// identity; local and tests: Azurite (a real Azure Storage protocol
// server); unit tests: an in-memory fake. Every adapter passes the
// conformance suite in internal/blobtest.
type Blobs interface {
	// CreateContainer creates a container; one that exists is not an
	// error.
	CreateContainer(ctx context.Context, c BlobContainer) error
	// DeleteContainer deletes a container and its blobs; one that does not
	// exist is not an error.
	DeleteContainer(ctx context.Context, c BlobContainer) error
	// List lists a container's blobs by name. Returns CodeNotFound when the
	// container does not exist.
	List(ctx context.Context, c BlobContainer) ([]BlobInfo, error)
	// Copy copies a blob to another container (which must exist) under the
	// same name, server side, and returns when the copy is complete; a
	// blob already there is replaced. Returns CodeNotFound when the source
	// blob or the destination container does not exist.
	Copy(ctx context.Context, from, to BlobContainer, name string) error
	// Open reads a blob. Returns CodeNotFound.
	Open(ctx context.Context, c BlobContainer, name string) (io.ReadCloser, error)
	// SignedURL returns the URL of a container with a shared access
	// signature that allows perm until expiry.
	SignedURL(ctx context.Context, c BlobContainer, perm BlobPermissions, expiry time.Time) (string, error)
	// Ping checks that the storage answers. Returns CodeUnavailable.
	Ping(ctx context.Context) error
}

// ScanVerdict is a malware scan's verdict on a blob. The values are
// Defender for Storage's, which writes them in the blob index tag
// "Malware Scanning scan result".
type ScanVerdict string

// Verdicts. VerdictPending means no verdict yet.
const (
	VerdictPending   ScanVerdict = ""
	VerdictClean     ScanVerdict = "No threats found"
	VerdictMalicious ScanVerdict = "Malicious"
)

// ScanResult is a scanner's answer about one blob.
type ScanResult struct {
	Verdict ScanVerdict
	// Detail says more for people: what was found, and by what.
	Detail string
}

// Scanner is the port of the malware scanner of the airlock's in-progress
// stage. Azure: Defender for Storage scans every blob written there and
// tags it with its verdict; locally: a stand-in that only recognises the
// EICAR test string (internal/scanstub), which says so in every result.
type Scanner interface {
	// Verdict returns the verdict on a blob, VerdictPending while there
	// is none. Returns CodeNotFound when the blob does not exist.
	Verdict(ctx context.Context, c BlobContainer, name string) (ScanResult, error)
	// StandIn reports whether this scanner is a stand-in, not a malware
	// scanner: answers and notifications say so.
	StandIn() bool
}
