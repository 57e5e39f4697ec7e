package tre

import (
	"context"
	"fmt"
	"time"
)

// CostSource is the cost port: the actual costs of the Azure resources a
// TRE deployed, grouped by the TRE tags AzureTRE's bundles put on them
// (tre_id, tre_core_service_id, tre_shared_service_id, tre_workspace_id,
// tre_workspace_service_id, tre_user_resource_id). Adapters: Azure Cost
// Management (costmanagement), and none: with the embedded adapters there
// is no cost source, and the costs service says so.
type CostSource interface {
	// Costs returns the cost rows of the resources tagged q.Tag (and of
	// the untagged resources in resource groups so tagged, attributed to
	// their group's tag). Returns CodeNotFound when the subscription does
	// not support cost management (AzureTRE's 404), a *CostsBusy when the
	// source asks to be called again later, CodeUnavailable.
	Costs(ctx context.Context, q CostQuery) ([]CostRow, error)
}

// CostTag is one TRE tag: a name and the value a resource carries.
type CostTag struct {
	Name  string
	Value string
}

// The TRE tags of AzureTRE's bundles.
const (
	TagTREID            = "tre_id"
	TagCoreService      = "tre_core_service_id"
	TagWorkspace        = "tre_workspace_id"
	TagSharedService    = "tre_shared_service_id"
	TagWorkspaceService = "tre_workspace_service_id"
	TagUserResource     = "tre_user_resource_id"
)

// Cost granularities (AzureTRE's GranularityEnum).
const (
	GranularityNone  = "None"
	GranularityDaily = "Daily"
)

// CostQuery selects costs: those tagged Tag, over [From, To] (both zero:
// the month to date), in one row per tag and currency (GranularityNone)
// or per tag, currency and day (GranularityDaily).
type CostQuery struct {
	// Subscription is the Azure subscription to query; empty: the
	// source's own.
	Subscription string
	Tag          CostTag
	Granularity  string
	From, To     time.Time
}

// CostRow is the cost of the resources carrying one tag, in one currency
// (and on one day, with daily granularity).
type CostRow struct {
	Tag CostTag
	// ResourceGroup is the resource group the cost was incurred in: a
	// tag's costs come one row per group (and currency, and day), as
	// AzureTRE reports them.
	ResourceGroup string
	Cost          float64
	Currency      string
	// Date is the day (UTC midnight) with daily granularity; zero
	// otherwise.
	Date time.Time
}

// CostsBusy is the error of a cost source that asks to be called again
// later: throttled (HTTP 429) or temporarily unavailable (503).
type CostsBusy struct {
	Throttled  bool
	RetryAfter time.Duration
}

func (e *CostsBusy) Error() string {
	if e.Throttled {
		return fmt.Sprintf("cost source throttled: retry after %s", e.RetryAfter)
	}
	return fmt.Sprintf("cost source unavailable: retry after %s", e.RetryAfter)
}
