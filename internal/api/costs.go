package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/tre-go/tre/internal/costs"
	"github.com/tre-go/tre/internal/tre"
)

// Costs reports what the TRE's resources cost; *costs.Service implements
// it.
type Costs interface {
	// Overall returns the TRE's costs. Returns CodeInvalid, CodeNotFound,
	// *tre.CostsBusy, CodeUnavailable.
	Overall(ctx context.Context, p costs.Period) (*costs.Report, error)
	// Workspace returns a workspace's costs. Returns CodeInvalid,
	// CodeNotFound, *tre.CostsBusy, CodeUnavailable.
	Workspace(ctx context.Context, workspaceID string, p costs.Period) (*costs.WorkspaceReport, error)
}

// AzureTRE's texts of the cost routes' 429 and 503 answers.
const (
	msgCostsThrottled   = "Too many requests to Azure cost management API. Please retry."
	msgCostsUnavailable = "Azure cost management API is temporarily unavailable. Please retry."
)

func (a *API) costRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/costs", Access: treAdmin, Status: 200,
			Summary: "The TRE's costs (?from_date=&to_date=&granularity=None|Daily; month to date by default), AzureTRE's CostReport", Handle: a.overallCosts},
		{Method: "GET", Pattern: "/api/workspaces/{workspace_id}/costs", Access: wsOwnAdmin, Status: 200,
			Summary: "A workspace's costs, its services' and user resources' (same parameters), AzureTRE's WorkspaceCostReport", Handle: a.workspaceCosts},
	}
}

// CostRow is one cost (AzureTRE's CostRow): date is null without daily
// granularity.
type CostRow struct {
	Cost     float64 `json:"cost"`
	Currency string  `json:"currency"`
	Date     *string `json:"date"`
}

// CostItem is one resource's costs (AzureTRE's CostItem).
type CostItem struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Costs []CostRow `json:"costs"`
}

// CostSource says where the costs come from; not in AzureTRE, whose
// clients ignore it. Configured false: there is no cost source, and every
// cost list is empty for that reason.
type CostSource struct {
	Name       string `json:"name"`
	Configured bool   `json:"configured"`
	Message    string `json:"message,omitempty"`
}

// CostReport is AzureTRE's CostReport, with its source.
type CostReport struct {
	CoreServices   []CostRow  `json:"core_services"`
	SharedServices []CostItem `json:"shared_services"`
	Workspaces     []CostItem `json:"workspaces"`
	CostSource     CostSource `json:"cost_source"`
}

// WorkspaceServiceCostItem is AzureTRE's WorkspaceServiceCostItem.
type WorkspaceServiceCostItem struct {
	CostItem
	UserResources []CostItem `json:"user_resources"`
}

// WorkspaceCostReport is AzureTRE's WorkspaceCostReport, with its source.
type WorkspaceCostReport struct {
	CostItem
	WorkspaceServices []WorkspaceServiceCostItem `json:"workspace_services"`
	CostSource        CostSource                 `json:"cost_source"`
}

func costRowsOf(rows []costs.Row) []CostRow {
	out := make([]CostRow, 0, len(rows))
	for _, r := range rows {
		row := CostRow{Cost: r.Cost, Currency: r.Currency}
		if !r.Date.IsZero() {
			d := r.Date.Format("2006-01-02")
			row.Date = &d
		}
		out = append(out, row)
	}
	return out
}

func costItemsOf(items []costs.Item) []CostItem {
	out := make([]CostItem, 0, len(items))
	for _, it := range items {
		out = append(out, CostItem{ID: it.ID, Name: it.Name, Costs: costRowsOf(it.Costs)})
	}
	return out
}

func costSourceOf(s costs.Source) CostSource {
	return CostSource{Name: s.Name, Configured: s.Configured, Message: s.Message}
}

// costPeriod reads from_date, to_date and granularity (AzureTRE's
// CostsQueryParams). Returns CodeInvalid.
func costPeriod(r *http.Request) (costs.Period, error) {
	q := r.URL.Query()
	p := costs.Period{Granularity: q.Get("granularity")}
	if p.Granularity == "" {
		p.Granularity = tre.GranularityNone
	}
	var err error
	if p.From, err = costs.ParseDate("from_date", q.Get("from_date")); err != nil {
		return p, err
	}
	if p.To, err = costs.ParseDate("to_date", q.Get("to_date")); err != nil {
		return p, err
	}
	return p, p.Check()
}

func (a *API) overallCosts(w http.ResponseWriter, r *http.Request) error {
	p, err := costPeriod(r)
	if err != nil {
		return err
	}
	rep, err := a.Costs.Overall(r.Context(), p)
	if err != nil {
		return costError(w, err)
	}
	writeJSON(w, http.StatusOK, CostReport{
		CoreServices: costRowsOf(rep.CoreServices), SharedServices: costItemsOf(rep.SharedServices),
		Workspaces: costItemsOf(rep.Workspaces), CostSource: costSourceOf(rep.Source),
	})
	return nil
}

func (a *API) workspaceCosts(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	p, err := costPeriod(r)
	if err != nil {
		return err
	}
	rep, err := a.Costs.Workspace(r.Context(), ws.ID, p)
	if err != nil {
		return costError(w, err)
	}
	out := WorkspaceCostReport{
		CostItem:          CostItem{ID: rep.ID, Name: rep.Name, Costs: costRowsOf(rep.Costs)},
		WorkspaceServices: make([]WorkspaceServiceCostItem, 0, len(rep.WorkspaceServices)),
		CostSource:        costSourceOf(rep.Source),
	}
	for _, svc := range rep.WorkspaceServices {
		out.WorkspaceServices = append(out.WorkspaceServices, WorkspaceServiceCostItem{
			CostItem:      CostItem{ID: svc.ID, Name: svc.Name, Costs: costRowsOf(svc.Costs)},
			UserResources: costItemsOf(svc.UserResources),
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// costError answers a cost source's "retry later" as AzureTRE does: JSON
// {"error": {"code", "message", "retry-after"}} and a Retry-After header,
// 429 or 503. Other errors go the usual way.
func costError(w http.ResponseWriter, err error) error {
	var busy *tre.CostsBusy
	if !errors.As(err, &busy) {
		return err
	}
	status, msg := http.StatusServiceUnavailable, msgCostsUnavailable
	if busy.Throttled {
		status, msg = http.StatusTooManyRequests, msgCostsThrottled
	}
	after := strconv.Itoa(int(busy.RetryAfter.Seconds()))
	w.Header().Set("Retry-After", after)
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": strconv.Itoa(status), "message": msg, "retry-after": after}})
	return nil
}
