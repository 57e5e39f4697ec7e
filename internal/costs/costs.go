// Package costs reports what the TRE's Azure resources cost, in AzureTRE's
// shapes (GET /api/costs and /api/workspaces/{id}/costs): per core
// services, shared service, workspace, workspace service and user
// resource, from a cost source (the tre.CostSource port: Azure Cost
// Management, or none).
//
// As AzureTRE does, it asks the source for the costs tagged with the TRE's
// id (or a workspace's id), in every subscription that holds the TRE's
// resources, and attributes each row to the resources by their tags; each
// source answer is cached for two hours per query, in this instance's
// memory. Without a source the reports list the resources with no cost
// rows and say that no cost source is configured: nothing is made up.
package costs

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Resources is what the costs service needs of the resource lifecycle;
// *lifecycle.Service implements it.
type Resources interface {
	// Get loads an active resource. Returns CodeNotFound.
	Get(ctx context.Context, ref lifecycle.Ref) (*tre.Resource, error)
	// List returns the active resources of a type under a parent.
	List(ctx context.Context, ref lifecycle.Ref) ([]*tre.Resource, error)
}

// Config configures the service.
type Config struct {
	// TREID is the TRE's id: the value of the tre_id and
	// tre_core_service_id tags.
	TREID string
	// SourceName names the cost source in reports ("azure-cost-management").
	SourceName string
	// CacheTTL is how long a source's answer is reused (AzureTRE: 2 h).
	CacheTTL time.Duration
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
}

// Service builds cost reports.
type Service struct {
	source tre.CostSource
	res    Resources
	cfg    Config
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	rows    []tre.CostRow
	expires time.Time
}

// New returns the service on source (nil: no cost source).
func New(source tre.CostSource, res Resources, cfg Config, opt Options) *Service {
	s := &Service{source: source, res: res, cfg: cfg, log: opt.Log, now: opt.Now, cache: map[string]cached{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.CacheTTL <= 0 {
		s.cfg.CacheTTL = 2 * time.Hour
	}
	return s
}

// Source says where costs come from.
type Source struct {
	Name       string
	Configured bool
	Message    string
}

// NoSourceMessage is what reports say without a cost source.
const NoSourceMessage = "No cost source is configured (TRE_COSTS=none): costs are not known here, so every cost list is empty. With TRE_COSTS=azure they come from Azure Cost Management."

// Source returns where the reports' costs come from.
func (s *Service) Source() Source {
	if s.source == nil {
		return Source{Name: "none", Message: NoSourceMessage}
	}
	return Source{Name: s.cfg.SourceName, Configured: true}
}

// Row is one cost: an amount in a currency, on a day (daily granularity)
// or over the whole period (Date zero).
type Row struct {
	Cost     float64
	Currency string
	Date     time.Time
}

// Item is the costs of one resource.
type Item struct {
	ID    string
	Name  string
	Costs []Row
}

// Report is the TRE's costs: core services, shared services, workspaces.
type Report struct {
	Source         Source
	CoreServices   []Row
	SharedServices []Item
	Workspaces     []Item
}

// ServiceItem is a workspace service's costs and its user resources'.
type ServiceItem struct {
	Item
	UserResources []Item
}

// WorkspaceReport is one workspace's costs, its services' and their user
// resources'.
type WorkspaceReport struct {
	Source Source
	Item
	WorkspaceServices []ServiceItem
}

// Overall returns the TRE's costs over p. Returns CodeInvalid (period),
// CodeNotFound (the subscription does not support cost management), a
// *tre.CostsBusy, CodeUnavailable.
func (s *Service) Overall(ctx context.Context, p Period) (*Report, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	workspaces, err := s.res.List(ctx, lifecycle.Ref{Type: tre.TypeWorkspace})
	if err != nil {
		return nil, err
	}
	shared, err := s.res.List(ctx, lifecycle.Ref{Type: tre.TypeSharedService})
	if err != nil {
		return nil, err
	}
	byTag := map[tre.CostTag][]tre.CostRow{}
	if s.source != nil {
		// The TRE's own subscription, and every workspace's own.
		subs := []string{""}
		seen := map[string]bool{}
		for _, ws := range workspaces {
			if sub, _ := ws.Properties["workspace_subscription_id"].(string); sub != "" && !seen[sub] {
				seen[sub] = true
				subs = append(subs, sub)
			}
		}
		sort.Strings(subs[1:])
		for _, sub := range subs {
			rows, err := s.query(ctx, tre.CostQuery{Subscription: sub, Tag: tre.CostTag{Name: tre.TagTREID, Value: s.cfg.TREID}}, p)
			if err != nil {
				return nil, err
			}
			group(byTag, rows)
		}
	}
	rep := &Report{Source: s.Source(), CoreServices: rowsOf(byTag[tre.CostTag{Name: tre.TagCoreService, Value: s.cfg.TREID}])}
	for _, r := range shared {
		rep.SharedServices = append(rep.SharedServices, itemOf(r, byTag, tre.TagSharedService))
	}
	for _, r := range workspaces {
		rep.Workspaces = append(rep.Workspaces, itemOf(r, byTag, tre.TagWorkspace))
	}
	return rep, nil
}

// Workspace returns one workspace's costs over p. Returns CodeInvalid,
// CodeNotFound ("Workspace does not exist", or no cost management), a
// *tre.CostsBusy, CodeUnavailable.
func (s *Service) Workspace(ctx context.Context, workspaceID string, p Period) (*WorkspaceReport, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	ws, err := s.res.Get(ctx, lifecycle.WorkspaceRef(workspaceID))
	if err != nil {
		return nil, err
	}
	byTag := map[tre.CostTag][]tre.CostRow{}
	if s.source != nil {
		// A workspace in a subscription of its own is queried there.
		sub, _ := ws.Properties["workspace_subscription_id"].(string)
		rows, err := s.query(ctx, tre.CostQuery{Subscription: sub, Tag: tre.CostTag{Name: tre.TagWorkspace, Value: ws.ID}}, p)
		if err != nil {
			return nil, err
		}
		group(byTag, rows)
	}
	rep := &WorkspaceReport{Source: s.Source(), Item: itemOf(ws, byTag, tre.TagWorkspace)}
	services, err := s.res.List(ctx, lifecycle.Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID})
	if err != nil {
		return nil, err
	}
	for _, svc := range services {
		item := ServiceItem{Item: itemOf(svc, byTag, tre.TagWorkspaceService)}
		urs, err := s.res.List(ctx, lifecycle.Ref{Type: tre.TypeUserResource, WorkspaceID: ws.ID, ServiceID: svc.ID})
		if err != nil {
			return nil, err
		}
		for _, ur := range urs {
			item.UserResources = append(item.UserResources, itemOf(ur, byTag, tre.TagUserResource))
		}
		rep.WorkspaceServices = append(rep.WorkspaceServices, item)
	}
	return rep, nil
}

// query asks the source, or the cache.
func (s *Service) query(ctx context.Context, q tre.CostQuery, p Period) ([]tre.CostRow, error) {
	q.Granularity, q.From, q.To = p.Granularity, p.From, p.To
	key := fmt.Sprintf("%s=%s|%s|%s|%s|%s", q.Tag.Name, q.Tag.Value, q.Granularity, stamp(q.From), stamp(q.To), q.Subscription)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.rows, nil
	}
	rows, err := s.source.Costs(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("costs: %s=%s: %w", q.Tag.Name, q.Tag.Value, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.cache {
		if !now.Before(c.expires) {
			delete(s.cache, k)
		}
	}
	s.cache[key] = cached{rows: rows, expires: now.Add(s.cfg.CacheTTL)}
	return rows, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

func group(byTag map[tre.CostTag][]tre.CostRow, rows []tre.CostRow) {
	for _, r := range rows {
		byTag[r.Tag] = append(byTag[r.Tag], r)
	}
}

func rowsOf(rows []tre.CostRow) []Row {
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, Row{Cost: r.Cost, Currency: r.Currency, Date: r.Date})
	}
	return out
}

func itemOf(r *tre.Resource, byTag map[tre.CostTag][]tre.CostRow, tag string) Item {
	return Item{ID: r.ID, Name: nameOf(r), Costs: rowsOf(byTag[tre.CostTag{Name: tag, Value: r.ID}])}
}

// nameOf is AzureTRE's name of a resource in cost reports: its
// display_name, else its template's name.
func nameOf(r *tre.Resource) string {
	if n, ok := r.Properties["display_name"].(string); ok {
		return n
	}
	return r.TemplateName
}
