package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/costs"
	"github.com/tre-go/tre/internal/tre"
)

// busyCosts is a cost service whose source asks to be called later.
type busyCosts struct{ err error }

func (b busyCosts) Overall(context.Context, costs.Period) (*costs.Report, error) { return nil, b.err }
func (b busyCosts) Workspace(context.Context, string, costs.Period) (*costs.WorkspaceReport, error) {
	return nil, b.err
}

func TestCostsAnswerAsAzureTRE(t *testing.T) {
	e := openEnv(t, t.TempDir())
	admin := e.token("admin", "TREAdmin")

	// No cost source: 200, empty lists, and a field that says so.
	status, body, _ := e.do("GET", "/api/costs", admin, "")
	require.Equal(t, 200, status, body)
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	require.Equal(t, []any{}, rep["core_services"])
	require.Equal(t, false, rep["cost_source"].(map[string]any)["configured"])
	require.Contains(t, rep["cost_source"].(map[string]any)["message"], "No cost source is configured")

	for q, want := range map[string]string{
		"?from_date=2024-02-01&to_date=2024-01-01": "to_date needs to be later than from_date",
		"?from_date=2024-01-01":                    "to_date needs to be later than from_date",
		"?to_date=2024-01-01":                      "from_date needs to be before to_date",
		"?from_date=2023-01-01&to_date=2024-01-01": "The time period for pulling the data cannot exceed 1 year",
		"?granularity=Weekly":                      "granularity must be None or Daily",
		"?from_date=soon&to_date=2024-01-01":       "from_date must be an ISO 8601 date",
	} {
		status, body, _ := e.do("GET", "/api/costs"+q, admin, "")
		require.Equal(t, 400, status, q)
		require.Contains(t, body, want, q)
	}
	status, body, _ = e.do("GET", "/api/costs?from_date=2024-01-01%2000:00:00&to_date=2024-02-01%2000:00:00&granularity=Daily", admin, "")
	require.Equal(t, 200, status, "the CLI's date spelling: %s", body)

	e.api.Costs = busyCosts{err: &tre.CostsBusy{Throttled: true, RetryAfter: 17 * time.Second}}
	status, body, h := e.do("GET", "/api/costs", admin, "")
	require.Equal(t, 429, status)
	require.Equal(t, "17", h.Get("Retry-After"))
	require.JSONEq(t, `{"error":{"code":"429","message":"Too many requests to Azure cost management API. Please retry.","retry-after":"17"}}`, body)

	e.api.Costs = busyCosts{err: &tre.CostsBusy{RetryAfter: 5 * time.Second}}
	status, body, h = e.do("GET", "/api/costs", admin, "")
	require.Equal(t, 503, status)
	require.Equal(t, "5", h.Get("Retry-After"))
	require.JSONEq(t, `{"error":{"code":"503","message":"Azure cost management API is temporarily unavailable. Please retry.","retry-after":"5"}}`, body)

	e.api.Costs = busyCosts{err: tre.Errorf(tre.CodeNotFound, "Azure subscription doesn't support cost management")}
	status, body, _ = e.do("GET", "/api/costs", admin, "")
	require.Equal(t, 404, status)
	require.Contains(t, body, "Azure subscription doesn't support cost management")
}
