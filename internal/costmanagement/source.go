// Package costmanagement is the cost source (tre.CostSource) on Azure Cost
// Management: the SDK's query client (armcostmanagement) asks for the
// actual costs of the resources carrying one of AzureTRE's tags, and the
// resources client (armresources) finds the resource groups so tagged,
// whose untagged resources are attributed to the group's tag. The query is
// AzureTRE's (api_app/services/cost_service.py): PreTaxCost summed,
// grouped by resource group and by tag, filtered on the tag or the
// groups, month to date or a custom period, optionally daily.
//
// The clients are made with no retries: a throttled (429) or unavailable
// (503) answer goes back to the caller at once with its retry-after, as
// AzureTRE answers it. Only the first page of a query's answer is read,
// as AzureTRE reads it.
package costmanagement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/tre-go/tre/internal/tre"
)

// Name is the source's name in cost reports.
const Name = "azure-cost-management"

// The headers Cost Management sends with 429 and 503 answers.
const (
	rateLimitRetryAfter = "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after"
	defaultRetryAfter   = 60 * time.Second
)

// Source queries Azure Cost Management.
type Source struct {
	cred         azcore.TokenCredential
	opts         arm.ClientOptions
	subscription string
	query        *armcostmanagement.QueryClient
	log          *slog.Logger

	mu     sync.Mutex
	groups map[string]*armresources.ResourceGroupsClient
}

var _ tre.CostSource = (*Source)(nil)

// New returns the source for the TRE's subscription. opts may point the
// clients elsewhere (a sovereign cloud, a test server); retries are turned
// off whatever it says.
func New(cred azcore.TokenCredential, subscription string, opts *arm.ClientOptions, log *slog.Logger) (*Source, error) {
	if subscription == "" {
		return nil, tre.Errorf(tre.CodeInvalid, "costmanagement: the subscription id is required")
	}
	s := &Source{cred: cred, subscription: subscription, log: log, groups: map[string]*armresources.ResourceGroupsClient{}}
	if opts != nil {
		s.opts = *opts
	}
	s.opts.Retry.MaxRetries = -1
	if s.log == nil {
		s.log = slog.Default()
	}
	q, err := armcostmanagement.NewQueryClient(cred, &s.opts)
	if err != nil {
		return nil, fmt.Errorf("costmanagement: query client: %w", err)
	}
	s.query = q
	return s, nil
}

// Costs implements tre.CostSource.
func (s *Source) Costs(ctx context.Context, q tre.CostQuery) ([]tre.CostRow, error) {
	sub := q.Subscription
	if sub == "" {
		sub = s.subscription
	}
	groups, err := s.taggedGroups(ctx, sub, q.Tag)
	if err != nil {
		return nil, err
	}
	resp, err := s.query.Usage(ctx, "/subscriptions/"+sub, definition(q, groups), nil)
	if err != nil {
		return nil, translate(err)
	}
	if resp.Properties == nil {
		return nil, nil
	}
	if resp.Properties.NextLink != nil && *resp.Properties.NextLink != "" {
		s.log.Warn("cost query answer has more pages; only the first is read, as AzureTRE does", "tag", q.Tag.Name, "subscription", sub)
	}
	return rowsOf(resp.Properties, q.Granularity, groups)
}

// taggedGroups returns the resource groups of sub carrying tag, each with
// the tag its untagged resources' costs go to: the group's workspace tag
// if it has one, else its TRE tag (AzureTRE's extract_resource_group_tag).
func (s *Source) taggedGroups(ctx context.Context, sub string, tag tre.CostTag) (map[string]tre.CostTag, error) {
	client, err := s.groupsClient(sub)
	if err != nil {
		return nil, err
	}
	filter := fmt.Sprintf("tagName eq '%s' and tagValue eq '%s'", tag.Name, strings.ReplaceAll(tag.Value, "'", "''"))
	pager := client.NewListPager(&armresources.ResourceGroupsClientListOptions{Filter: &filter})
	out := map[string]tre.CostTag{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, translate(err)
		}
		for _, g := range page.Value {
			if g == nil || g.Name == nil {
				continue
			}
			if v := g.Tags[tre.TagWorkspace]; v != nil {
				out[*g.Name] = tre.CostTag{Name: tre.TagWorkspace, Value: *v}
			} else if v := g.Tags[tre.TagTREID]; v != nil {
				out[*g.Name] = tre.CostTag{Name: tre.TagTREID, Value: *v}
			}
		}
	}
	return out, nil
}

func (s *Source) groupsClient(sub string) (*armresources.ResourceGroupsClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.groups[sub]; ok {
		return c, nil
	}
	c, err := armresources.NewResourceGroupsClient(sub, s.cred, &s.opts)
	if err != nil {
		return nil, fmt.Errorf("costmanagement: resource groups client: %w", err)
	}
	s.groups[sub] = c
	return c, nil
}

// definition is AzureTRE's query (build_query_definition).
func definition(q tre.CostQuery, groups map[string]tre.CostTag) armcostmanagement.QueryDefinition {
	filter := &armcostmanagement.QueryFilter{Tags: &armcostmanagement.QueryComparisonExpression{
		Name: to.Ptr(q.Tag.Name), Operator: to.Ptr(armcostmanagement.QueryOperatorTypeIn), Values: []*string{to.Ptr(q.Tag.Value)},
	}}
	if len(groups) > 0 {
		names := make([]*string, 0, len(groups))
		for _, g := range sortedKeys(groups) {
			names = append(names, to.Ptr(g))
		}
		filter = &armcostmanagement.QueryFilter{Or: []*armcostmanagement.QueryFilter{filter, {
			Dimensions: &armcostmanagement.QueryComparisonExpression{
				Name: to.Ptr("ResourceGroup"), Operator: to.Ptr(armcostmanagement.QueryOperatorTypeIn), Values: names,
			}}}}
	}
	granularity := armcostmanagement.GranularityType(q.Granularity)
	def := armcostmanagement.QueryDefinition{
		Type: to.Ptr(armcostmanagement.ExportTypeActualCost),
		Dataset: &armcostmanagement.QueryDataset{
			Granularity: &granularity,
			Aggregation: map[string]*armcostmanagement.QueryAggregation{
				"totalCost": {Name: to.Ptr("PreTaxCost"), Function: to.Ptr(armcostmanagement.FunctionTypeSum)},
			},
			Grouping: []*armcostmanagement.QueryGrouping{
				{Name: to.Ptr("ResourceGroup"), Type: to.Ptr(armcostmanagement.QueryColumnTypeDimension)},
				{Type: to.Ptr(armcostmanagement.QueryColumnTypeTag)},
			},
			Filter: filter,
		},
	}
	if q.From.IsZero() || q.To.IsZero() {
		def.Timeframe = to.Ptr(armcostmanagement.TimeframeTypeMonthToDate)
	} else {
		def.Timeframe = to.Ptr(armcostmanagement.TimeframeTypeCustom)
		def.TimePeriod = &armcostmanagement.QueryTimePeriod{From: to.Ptr(q.From), To: to.Ptr(q.To)}
	}
	return def
}

// translate turns the SDK's errors into the port's: AzureTRE's 404 for a
// subscription without cost management, CostsBusy for 429 and 503.
func translate(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return tre.WrapError(tre.CodeUnavailable, err, "Azure Cost Management could not be reached")
	}
	switch re.StatusCode {
	case http.StatusNotFound:
		if strings.Contains(err.Error(), "doesn't have valid WebDirect/AIRS") {
			return tre.WrapError(tre.CodeNotFound, err, "Azure subscription doesn't support cost management")
		}
	case http.StatusTooManyRequests:
		return &tre.CostsBusy{Throttled: true, RetryAfter: retryAfter(re.RawResponse, rateLimitRetryAfter, defaultRetryAfter)}
	case http.StatusServiceUnavailable:
		if re.RawResponse != nil && re.RawResponse.Header.Get("Retry-After") != "" {
			return &tre.CostsBusy{RetryAfter: retryAfter(re.RawResponse, "Retry-After", defaultRetryAfter)}
		}
	}
	return fmt.Errorf("costmanagement: %w", err)
}

func retryAfter(resp *http.Response, header string, def time.Duration) time.Duration {
	if resp == nil {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get(header)))
	if err != nil || n < 0 {
		return def
	}
	return time.Duration(n) * time.Second
}
