package upgrade

import (
	"bytes"
	"encoding/json"

	"github.com/tre-go/tre/internal/tre"
)

// Request asks for a bulk upgrade (the body of POST /api/upgrades).
type Request struct {
	TemplateName string `json:"templateName"`
	ToVersion    string `json:"toVersion"`
	// FromVersions limits the upgrade to resources at these versions: a
	// list of versions, or a range (">=1.0.0 <1.4.0"). Empty: any.
	FromVersions Versions `json:"fromVersions,omitempty"`
	// WorkspaceIDs limits it to these workspaces and what is in them.
	WorkspaceIDs []string `json:"workspaceIds,omitempty"`
	// Force allows major upgrades and downgrades.
	Force bool `json:"force"`
	// DryRun (default true) only plans.
	DryRun *bool `json:"dryRun,omitempty"`
	// MaxConcurrent upgrades run at once (default 5).
	MaxConcurrent int `json:"maxConcurrent,omitempty"`
	// StopAfterFailures pauses the batch after that many failures (default 3).
	StopAfterFailures int `json:"stopAfterFailures,omitempty"`
}

// Versions is a list of versions or a range, as JSON an array of strings
// or one string.
type Versions struct {
	List  []string
	Range string
}

// UnmarshalJSON reads an array of strings or a string.
func (v *Versions) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &v.Range)
	}
	return json.Unmarshal(b, &v.List)
}

// MarshalJSON writes what was read.
func (v Versions) MarshalJSON() ([]byte, error) {
	if v.Range != "" {
		return json.Marshal(v.Range)
	}
	return json.Marshal(v.List)
}

// OpenAPISchema describes Versions for the API's document: a list of
// versions, or a range.
func (Versions) OpenAPISchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		map[string]any{"type": "string", "description": "a range: comparisons (=, >, >=, <, <=) separated by spaces, alternatives by ||"},
	}}
}

// Actions of a plan's item.
const (
	ActionUpgrade = "upgrade"
	ActionSkip    = "skip"
)

// Item statuses in a batch.
const (
	ItemPending   = "pending"
	ItemStarting  = "starting"
	ItemRunning   = "running"
	ItemSucceeded = "succeeded"
	ItemFailed    = "failed"
	ItemSkipped   = "skipped"
	ItemCancelled = "cancelled"
)

// Batch statuses.
const (
	BatchRunning   = "running"
	BatchPaused    = "paused"
	BatchCancelled = "cancelled"
	BatchCompleted = "completed"
)

// Item is one resource of a plan, and of a batch its progress.
type Item struct {
	ResourceID   string           `json:"resourceId"`
	ResourcePath string           `json:"resourcePath"`
	ResourceType tre.ResourceType `json:"resourceType"`
	WorkspaceID  string           `json:"workspaceId,omitempty"`
	FromVersion  string           `json:"fromVersion"`
	ToVersion    string           `json:"toVersion"`
	Action       string           `json:"action"`
	// ReasonCode and Reason say why an item is skipped (or, in a batch,
	// why it failed or was skipped later).
	ReasonCode string `json:"reasonCode,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// ParentID is the item's parent in the batch, if the parent is in it:
	// the child starts after the parent's upgrade succeeded.
	ParentID string `json:"parentId,omitempty"`
	Depth    int    `json:"depth"`

	Status      string  `json:"status,omitempty"`
	OperationID string  `json:"operationId,omitempty"`
	Message     string  `json:"message,omitempty"`
	StartedWhen float64 `json:"startedWhen,omitempty"`
	EndedWhen   float64 `json:"endedWhen,omitempty"`
}

// Summary counts a plan's items.
type Summary struct {
	Total   int            `json:"total"`
	Upgrade int            `json:"upgrade"`
	Skip    int            `json:"skip"`
	Skipped map[string]int `json:"skipped"`
}

// Plan is what a bulk upgrade would do.
type Plan struct {
	Items   []Item  `json:"items"`
	Summary Summary `json:"summary"`
}

// Counts counts a batch's items by status.
type Counts struct {
	Pending   int `json:"waiting"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	Cancelled int `json:"cancelled"`
}

// Batch is an applied plan and its progress: the stored document.
type Batch struct {
	ID            string   `json:"id"`
	Request       Request  `json:"request"`
	Status        string   `json:"status"`
	StatusMessage string   `json:"statusMessage,omitempty"`
	Active        bool     `json:"active"`
	CreatedWhen   float64  `json:"createdWhen"`
	CreatedBy     tre.User `json:"createdBy"`
	UpdatedWhen   float64  `json:"updatedWhen"`
	Items         []Item   `json:"items"`
	Counts        Counts   `json:"counts"`
	// FailuresAtResume is the failed count when the batch was last
	// resumed: it pauses after StopAfterFailures more.
	FailuresAtResume int    `json:"failuresAtResume"`
	ETag             string `json:"_etag,omitempty"`
}

// SetETag records the store's version tag.
func (b *Batch) SetETag(etag string) { b.ETag = etag }

// recount updates the counts and whether anything is left to do.
func (b *Batch) recount() {
	c := Counts{}
	for _, it := range b.Items {
		switch it.Status {
		case ItemPending:
			c.Pending++
		case ItemStarting, ItemRunning:
			c.Running++
		case ItemSucceeded:
			c.Succeeded++
		case ItemFailed:
			c.Failed++
		case ItemSkipped:
			c.Skipped++
		case ItemCancelled:
			c.Cancelled++
		}
	}
	b.Counts = c
	b.Active = c.Running > 0 || (c.Pending > 0 && b.Status != BatchCancelled)
	if !b.Active && b.Status == BatchRunning {
		b.Status = BatchCompleted
	}
}
