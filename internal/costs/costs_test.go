package costs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/costs"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

type fakeResources struct{ all []*tre.Resource }

func (f fakeResources) Get(_ context.Context, ref lifecycle.Ref) (*tre.Resource, error) {
	for _, r := range f.all {
		if r.ID == ref.ID && r.ResourceType == ref.Type {
			return r, nil
		}
	}
	return nil, tre.Errorf(tre.CodeNotFound, "Workspace does not exist")
}

func (f fakeResources) List(_ context.Context, ref lifecycle.Ref) ([]*tre.Resource, error) {
	var out []*tre.Resource
	for _, r := range f.all {
		if r.ResourceType == ref.Type && (ref.WorkspaceID == "" || r.WorkspaceID == ref.WorkspaceID) &&
			(ref.ServiceID == "" || r.ParentWorkspaceServiceID == ref.ServiceID) {
			out = append(out, r)
		}
	}
	return out, nil
}

type countingSource struct {
	calls []tre.CostQuery
	rows  []tre.CostRow
}

func (c *countingSource) Costs(_ context.Context, q tre.CostQuery) ([]tre.CostRow, error) {
	c.calls = append(c.calls, q)
	if q.Subscription != "" {
		return nil, nil // the other subscription has no costs
	}
	return c.rows, nil
}

func world() fakeResources {
	return fakeResources{all: []*tre.Resource{
		{ID: "ws1", ResourceType: tre.TypeWorkspace, TemplateName: "ws-tmpl", Properties: map[string]any{"display_name": "Genomics"}},
		{ID: "ws2", ResourceType: tre.TypeWorkspace, TemplateName: "ws-tmpl", Properties: map[string]any{"workspace_subscription_id": "sub-2"}},
		{ID: "svc1", ResourceType: tre.TypeWorkspaceService, WorkspaceID: "ws1", Properties: map[string]any{"display_name": "VMs"}},
		{ID: "vm1", ResourceType: tre.TypeUserResource, WorkspaceID: "ws1", ParentWorkspaceServiceID: "svc1", Properties: map[string]any{"display_name": "vm"}},
		{ID: "ss1", ResourceType: tre.TypeSharedService, TemplateName: "firewall", Properties: map[string]any{}},
	}}
}

func TestOverallAttributesByTagAndCaches(t *testing.T) {
	src := &countingSource{rows: []tre.CostRow{
		{Tag: tre.CostTag{Name: tre.TagCoreService, Value: "tre1"}, Cost: 10, Currency: "USD"},
		{Tag: tre.CostTag{Name: tre.TagWorkspace, Value: "ws1"}, Cost: 2, Currency: "USD", ResourceGroup: "rg-a"},
		{Tag: tre.CostTag{Name: tre.TagWorkspace, Value: "ws1"}, Cost: 3, Currency: "USD", ResourceGroup: "rg-b"},
		{Tag: tre.CostTag{Name: tre.TagSharedService, Value: "ss1"}, Cost: 1, Currency: "EUR"},
	}}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s := costs.New(src, world(), costs.Config{TREID: "tre1", SourceName: "test"}, costs.Options{Now: func() time.Time { return now }})
	p := costs.Period{Granularity: tre.GranularityNone}
	rep, err := s.Overall(context.Background(), p)
	require.NoError(t, err)
	require.True(t, rep.Source.Configured)
	require.Equal(t, []costs.Row{{Cost: 10, Currency: "USD"}}, rep.CoreServices)
	require.Equal(t, []costs.Item{{ID: "ss1", Name: "firewall", Costs: []costs.Row{{Cost: 1, Currency: "EUR"}}}}, rep.SharedServices)
	require.Equal(t, "Genomics", rep.Workspaces[0].Name)
	require.Equal(t, []costs.Row{{Cost: 2, Currency: "USD"}, {Cost: 3, Currency: "USD"}}, rep.Workspaces[0].Costs, "one row per resource group, as AzureTRE")
	require.Empty(t, rep.Workspaces[1].Costs)
	// The TRE's subscription and the workspace's own.
	require.Len(t, src.calls, 2)
	require.Equal(t, "", src.calls[0].Subscription)
	require.Equal(t, "sub-2", src.calls[1].Subscription)
	require.Equal(t, tre.CostTag{Name: tre.TagTREID, Value: "tre1"}, src.calls[0].Tag)

	// Cached for two hours, per query.
	now = now.Add(119 * time.Minute)
	_, err = s.Overall(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, src.calls, 2)
	_, err = s.Overall(context.Background(), costs.Period{Granularity: tre.GranularityDaily})
	require.NoError(t, err)
	require.Len(t, src.calls, 4, "another granularity is another query")
	now = now.Add(2 * time.Minute)
	_, err = s.Overall(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, src.calls, 6, "expired")
}

func TestWorkspaceReport(t *testing.T) {
	src := &countingSource{rows: []tre.CostRow{
		{Tag: tre.CostTag{Name: tre.TagWorkspace, Value: "ws1"}, Cost: 5, Currency: "USD"},
		{Tag: tre.CostTag{Name: tre.TagWorkspaceService, Value: "svc1"}, Cost: 4, Currency: "USD"},
		{Tag: tre.CostTag{Name: tre.TagUserResource, Value: "vm1"}, Cost: 3, Currency: "USD", Date: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
	}}
	s := costs.New(src, world(), costs.Config{TREID: "tre1"}, costs.Options{})
	rep, err := s.Workspace(context.Background(), "ws1", costs.Period{Granularity: tre.GranularityDaily})
	require.NoError(t, err)
	require.Equal(t, "Genomics", rep.Name)
	require.Equal(t, []costs.Row{{Cost: 5, Currency: "USD"}}, rep.Costs)
	require.Len(t, rep.WorkspaceServices, 1)
	require.Equal(t, []costs.Row{{Cost: 4, Currency: "USD"}}, rep.WorkspaceServices[0].Costs)
	require.Equal(t, "vm1", rep.WorkspaceServices[0].UserResources[0].ID)
	require.Equal(t, tre.CostTag{Name: tre.TagWorkspace, Value: "ws1"}, src.calls[0].Tag)

	_, err = s.Workspace(context.Background(), "nope", costs.Period{Granularity: tre.GranularityNone})
	require.True(t, tre.IsCode(err, tre.CodeNotFound))
}

func TestNoSourceSaysSo(t *testing.T) {
	s := costs.New(nil, world(), costs.Config{TREID: "tre1"}, costs.Options{})
	rep, err := s.Overall(context.Background(), costs.Period{Granularity: tre.GranularityNone})
	require.NoError(t, err)
	require.False(t, rep.Source.Configured)
	require.Equal(t, "none", rep.Source.Name)
	require.Contains(t, rep.Source.Message, "No cost source is configured")
	require.Len(t, rep.Workspaces, 2)
	for _, w := range rep.Workspaces {
		require.Empty(t, w.Costs)
	}
	require.Empty(t, rep.CoreServices)
}

func TestPeriodRules(t *testing.T) {
	d := func(s string) time.Time {
		t.Helper()
		v, err := costs.ParseDate("from_date", s)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), d("2024-01-02 03:04:05"), "the CLI's spelling")
	require.Equal(t, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), d("2024-01-02"))
	require.Equal(t, time.Date(2024, 1, 2, 2, 4, 5, 0, time.UTC), d("2024-01-02T03:04:05+01:00"))
	_, err := costs.ParseDate("to_date", "yesterday")
	require.True(t, tre.IsCode(err, tre.CodeInvalid))

	cases := map[string]struct {
		p    costs.Period
		want string
	}{
		"month to date":   {costs.Period{Granularity: "None"}, ""},
		"to missing":      {costs.Period{From: d("2024-01-01"), Granularity: "None"}, "to_date needs to be later than from_date"},
		"from missing":    {costs.Period{To: d("2024-01-01"), Granularity: "None"}, "from_date needs to be before to_date"},
		"backwards":       {costs.Period{From: d("2024-02-01"), To: d("2024-01-01"), Granularity: "None"}, "to_date needs to be later than from_date"},
		"a year":          {costs.Period{From: d("2024-01-01"), To: d("2025-01-01"), Granularity: "None"}, "The time period for pulling the data cannot exceed 1 year"},
		"under a year":    {costs.Period{From: d("2024-01-01"), To: d("2024-12-31"), Granularity: "Daily"}, ""},
		"bad granularity": {costs.Period{Granularity: "Monthly"}, `granularity must be None or Daily, not "Monthly"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.p.Check()
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.True(t, tre.IsCode(err, tre.CodeInvalid))
			require.Equal(t, c.want, tre.ErrorMessage(err))
		})
	}
}
