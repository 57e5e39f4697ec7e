package costmanagement_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/costmanagement"
	"github.com/tre-go/tre/internal/tre"
)

type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// armServer speaks the two REST APIs the source calls: the resource
// groups list and the Cost Management query.
type armServer struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	groups  map[string][]map[string]any // subscription → resource groups
	answer  func(w http.ResponseWriter)
	queries []map[string]any // request bodies
	paths   []string
	filters []string
}

func newARMServer(t *testing.T) *armServer {
	a := &armServer{t: t, groups: map[string][]map[string]any{}}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *armServer) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(a.t, "Bearer test-token", r.Header.Get("Authorization"))
	a.paths = append(a.paths, r.Method+" "+r.URL.Path)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "subscriptions" && strings.EqualFold(parts[2], "resourcegroups"):
		a.filters = append(a.filters, r.URL.Query().Get("$filter"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"value": a.groups[parts[1]]})
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/providers/Microsoft.CostManagement/query"):
		require.Equal(a.t, "2021-10-01", r.URL.Query().Get("api-version"))
		body, _ := io.ReadAll(r.Body)
		var q map[string]any
		require.NoError(a.t, json.Unmarshal(body, &q))
		a.queries = append(a.queries, q)
		a.answer(w)
	default:
		http.NotFound(w, r)
	}
}

func (a *armServer) source(t *testing.T) *costmanagement.Source {
	t.Helper()
	opts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: a.srv.URL, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: a.srv.URL, Audience: "https://management.test"},
		}},
		Transport: a.srv.Client(),
	}, DisableRPRegistration: true}
	s, err := costmanagement.New(staticCred{}, "sub-tre", opts, nil)
	require.NoError(t, err)
	return s
}

func answerRows(columns []string, rows [][]any) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		cols := make([]map[string]string, len(columns))
		for i, c := range columns {
			cols[i] = map[string]string{"name": c, "type": "String"}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "q", "name": "q", "type": "Microsoft.CostManagement/query",
			"properties": map[string]any{"columns": cols, "rows": rows}})
	}
}

func TestQueryIsAzureTREs(t *testing.T) {
	a := newARMServer(t)
	a.groups["sub-tre"] = []map[string]any{
		{"name": "rg-tre1-ws-1234", "tags": map[string]string{"tre_id": "tre1", "tre_workspace_id": "ws-1"}},
		{"name": "rg-tre1", "tags": map[string]string{"tre_id": "tre1"}},
	}
	a.answer = answerRows([]string{"PreTaxCost", "ResourceGroup", "Tag", "Currency"}, [][]any{
		{12.5, "rg-tre1", `"tre_core_service_id":"tre1"`, "USD"},
		{1.5, "rg-tre1-ws-1234", `"tre_workspace_id":"ws-1"`, "USD"},
		{2.0, "rg-tre1-ws-1234", "", "USD"}, // untagged: the group's workspace tag
		{3.0, "rg-tre1", "", "USD"},         // untagged: the group's TRE tag
		{99.0, "rg-elsewhere", "", "USD"},   // untagged outside the TRE: dropped
		{0.25, "rg-tre1-ws-1234", `"tre_workspace_id":"ws-1"`, "EUR"},
	})
	rows, err := a.source(t).Costs(context.Background(), tre.CostQuery{Tag: tre.CostTag{Name: "tre_id", Value: "tre1"}, Granularity: "None"})
	require.NoError(t, err)
	require.Equal(t, []tre.CostRow{
		{Tag: tre.CostTag{Name: "tre_core_service_id", Value: "tre1"}, ResourceGroup: "rg-tre1", Cost: 12.5, Currency: "USD"},
		{Tag: tre.CostTag{Name: "tre_workspace_id", Value: "ws-1"}, ResourceGroup: "rg-tre1-ws-1234", Cost: 3.5, Currency: "USD"},
		{Tag: tre.CostTag{Name: "tre_id", Value: "tre1"}, ResourceGroup: "rg-tre1", Cost: 3.0, Currency: "USD"},
		{Tag: tre.CostTag{Name: "tre_workspace_id", Value: "ws-1"}, ResourceGroup: "rg-tre1-ws-1234", Cost: 0.25, Currency: "EUR"},
	}, rows)

	require.Equal(t, []string{"tagName eq 'tre_id' and tagValue eq 'tre1'"}, a.filters)
	require.Len(t, a.queries, 1)
	q := a.queries[0]
	require.Equal(t, "ActualCost", q["type"])
	require.Equal(t, "MonthToDate", q["timeframe"])
	require.NotContains(t, q, "timePeriod")
	ds := q["dataset"].(map[string]any)
	require.Equal(t, "None", ds["granularity"])
	require.Equal(t, map[string]any{"totalCost": map[string]any{"name": "PreTaxCost", "function": "Sum"}}, ds["aggregation"])
	require.Equal(t, []any{map[string]any{"name": "ResourceGroup", "type": "Dimension"}, map[string]any{"type": "Tag"}}, ds["grouping"])
	require.Equal(t, map[string]any{"or": []any{
		map[string]any{"tags": map[string]any{"name": "tre_id", "operator": "In", "values": []any{"tre1"}}},
		map[string]any{"dimensions": map[string]any{"name": "ResourceGroup", "operator": "In", "values": []any{"rg-tre1", "rg-tre1-ws-1234"}}},
	}}, ds["filter"])
}

func TestCustomPeriodDailyInAnotherSubscription(t *testing.T) {
	a := newARMServer(t)
	a.answer = answerRows([]string{"PreTaxCost", "UsageDate", "ResourceGroup", "Tag", "Currency"}, [][]any{
		{1.0, 20240102, "rg-a", `"tre_workspace_id":"ws-2"`, "USD"},
		{2.0, 20240103, "rg-a", `"tre_workspace_id":"ws-2"`, "USD"},
		{0.5, 20240103, "rg-b", `"tre_workspace_id":"ws-2"`, "USD"},
	})
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows, err := a.source(t).Costs(context.Background(), tre.CostQuery{Subscription: "sub-ws", Tag: tre.CostTag{Name: "tre_workspace_id", Value: "ws-2"},
		Granularity: "Daily", From: from, To: from.AddDate(0, 1, 0)})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), rows[1].Date)
	require.Equal(t, "rg-b", rows[2].ResourceGroup)
	require.Contains(t, a.paths, "GET /subscriptions/sub-ws/resourcegroups")
	require.Contains(t, a.paths, "POST /subscriptions/sub-ws/providers/Microsoft.CostManagement/query")
	q := a.queries[0]
	require.Equal(t, "Custom", q["timeframe"])
	require.Equal(t, map[string]any{"from": "2024-01-01T00:00:00Z", "to": "2024-02-01T00:00:00Z"}, q["timePeriod"])
	ds := q["dataset"].(map[string]any)
	require.Equal(t, "Daily", ds["granularity"])
	// No tagged resource group: the filter is the tag alone.
	require.Equal(t, map[string]any{"tags": map[string]any{"name": "tre_workspace_id", "operator": "In", "values": []any{"ws-2"}}}, ds["filter"])
}

func TestErrorsAreAzureTREs(t *testing.T) {
	cases := []struct {
		name   string
		answer func(http.ResponseWriter)
		check  func(t *testing.T, err error)
	}{
		{"throttled with the entity's retry-after", func(w http.ResponseWriter) {
			w.Header().Set("x-ms-ratelimit-microsoft.costmanagement-entity-retry-after", "17")
			w.WriteHeader(429)
		}, func(t *testing.T, err error) {
			var busy *tre.CostsBusy
			require.ErrorAs(t, err, &busy)
			require.Equal(t, tre.CostsBusy{Throttled: true, RetryAfter: 17 * time.Second}, *busy)
		}},
		{"throttled without it", func(w http.ResponseWriter) { w.WriteHeader(429) }, func(t *testing.T, err error) {
			var busy *tre.CostsBusy
			require.ErrorAs(t, err, &busy)
			require.Equal(t, 60*time.Second, busy.RetryAfter)
		}},
		{"unavailable", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(503)
		}, func(t *testing.T, err error) {
			var busy *tre.CostsBusy
			require.ErrorAs(t, err, &busy)
			require.Equal(t, tre.CostsBusy{RetryAfter: 5 * time.Second}, *busy)
		}},
		{"no cost management", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":{"code":"NotFound","message":"Given subscription sub-tre doesn't have valid WebDirect/AIRS offer type."}}`)
		}, func(t *testing.T, err error) {
			require.True(t, tre.IsCode(err, tre.CodeNotFound), err)
			require.Equal(t, "Azure subscription doesn't support cost management", tre.ErrorMessage(err))
		}},
		{"anything else", func(w http.ResponseWriter) { w.WriteHeader(500) }, func(t *testing.T, err error) {
			require.Equal(t, tre.CodeInternal, tre.ErrorCode(err))
			var busy *tre.CostsBusy
			require.False(t, errorsAs(err, &busy))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newARMServer(t)
			a.answer = c.answer
			_, err := a.source(t).Costs(context.Background(), tre.CostQuery{Tag: tre.CostTag{Name: "tre_id", Value: "tre1"}, Granularity: "None"})
			require.Error(t, err)
			c.check(t, err)
			require.Len(t, a.queries, 1, "no retries")
		})
	}
}
