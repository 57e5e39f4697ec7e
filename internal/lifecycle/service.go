package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// Config holds the deployment facts the service puts into resources.
type Config struct {
	TREID    string
	Location string
	// AddressSpace is the TRE's whole address space; CoreAddressSpace is
	// taken by the core and never given to a workspace.
	AddressSpace     netip.Prefix
	CoreAddressSpace netip.Prefix
	// RecoverAfter is how old a pending operation must be before recovery
	// touches it: longer than any request can take (see MutationTimeout).
	RecoverAfter time.Duration
	// MutationTimeout bounds the work of one mutating request.
	MutationTimeout time.Duration
	// RedispatchAfter is how long an undispatched step waits before the
	// redelivery job sends it.
	RedispatchAfter time.Duration
	// The watchdog's limits: a step not sent for DispatchLimit, not picked
	// up by a processor within PickupLimit of being sent, silent for
	// HeartbeatLimit while running, or not stopped within CancelGrace of a
	// cancel request is failed with a message saying which.
	DispatchLimit  time.Duration
	PickupLimit    time.Duration
	HeartbeatLimit time.Duration
	CancelGrace    time.Duration
	// ClientID and ScopeID are what a workspace's client_id (unless the
	// request gives one) and scope_id properties say: the API's own app
	// registration and the scope a client asks a token for to call this
	// API (AzureTRE's CLI and UI ask for scope_id). With the dev issuer,
	// its audience.
	ClientID string
	ScopeID  string
}

// Service is the resource lifecycle: it validates mutations, writes them as
// operations, dispatches their steps and ingests their results.
type Service struct {
	store    tre.Store
	registry *registry.Registry
	secrets  tre.Secrets
	sender   tre.Sender
	// deadLetters reads the queues' dead letters (nil: none to watch).
	deadLetters tre.DeadLetterQueue
	// firewall is told about firewall work (nil: the firewall service
	// is off).
	firewall FirewallSignal
	// catalog says which templates a workspace may use (nil: all).
	catalog TemplatePolicy
	// outcomes hears of every operation that ends (nil: nobody); records
	// records them.
	outcomes Outcomes
	records  OutcomeRecorder
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	newID    func() string
	// atomic, when the store and the queue share one database, runs an
	// operation's writes and its first send in one transaction
	// (atomically).
	atomic tre.Atomic
	// inTx marks a copy of the service bound to one transaction: its
	// store and sender are the transaction's, and after collects what
	// must wait for the commit (signals), to be run with outer, the
	// context from before the transaction (the transaction's own marks
	// its writes as inside it).
	inTx  bool
	after *[]func()
	outer context.Context
	addr  *addressBook
}

// Options are the optional parts of New.
type Options struct {
	Log   *slog.Logger
	Now   func() time.Time
	NewID func() string
	// DeadLetters gives the watchdog and the admin API the queues' dead
	// letters.
	DeadLetters tre.DeadLetterQueue
	// Firewall is the firewall service's signal: with it, operations of
	// resources that declare egress get firewall steps.
	Firewall FirewallSignal
	// Atomic is the capability of the store and the sender to commit
	// together (the embedded SQLite store and queue): with it, a mutation
	// and its first message, or a status report and everything it
	// changes, are one durable commit. The store and sender given to New
	// must be the ones it commits.
	Atomic tre.Atomic
	// Catalog is the workspaces' catalogues of allowed templates, checked
	// on creation and upgrade in a workspace.
	Catalog TemplatePolicy
	// Outcomes is told of every operation that ends, after the write
	// that ended it (bulk upgrades).
	Outcomes Outcomes
	// Records records every operation that ends, in the write that ended
	// it (the audit trail).
	Records OutcomeRecorder
}

// New returns the service.
func New(store tre.Store, reg *registry.Registry, secrets tre.Secrets, sender tre.Sender, cfg Config, opt Options) *Service {
	s := &Service{store: store, registry: reg, secrets: secrets, sender: sender, cfg: cfg,
		log: opt.Log, now: opt.Now, newID: opt.NewID, deadLetters: opt.DeadLetters, firewall: opt.Firewall,
		atomic: opt.Atomic, addr: newAddressBook(cfg.AddressSpace, cfg.CoreAddressSpace),
		catalog: opt.Catalog, outcomes: opt.Outcomes, records: opt.Records}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.cfg.RecoverAfter == 0 {
		s.cfg.RecoverAfter = 5 * time.Minute
	}
	if s.cfg.MutationTimeout == 0 {
		s.cfg.MutationTimeout = time.Minute
	}
	if s.cfg.RedispatchAfter == 0 {
		s.cfg.RedispatchAfter = 30 * time.Second
	}
	if s.cfg.DispatchLimit == 0 {
		s.cfg.DispatchLimit = 15 * time.Minute
	}
	if s.cfg.PickupLimit == 0 {
		s.cfg.PickupLimit = time.Hour
	}
	if s.cfg.HeartbeatLimit == 0 {
		s.cfg.HeartbeatLimit = 10 * time.Minute
	}
	if s.cfg.CancelGrace == 0 {
		s.cfg.CancelGrace = 10 * time.Minute
	}
	if s.cfg.RecoverAfter < 2*s.cfg.MutationTimeout {
		s.cfg.RecoverAfter = 2 * s.cfg.MutationTimeout
	}
	return s
}

// Ref names a resource by the ids in its API path.
type Ref struct {
	Type        tre.ResourceType
	WorkspaceID string
	ServiceID   string
	ID          string
}

// WorkspaceRef names a workspace.
func WorkspaceRef(id string) Ref { return Ref{Type: tre.TypeWorkspace, ID: id} }

// Path is the ref's resource path.
func (r Ref) Path() string { return tre.ResourcePath(r.Type, r.WorkspaceID, r.ServiceID, r.ID) }

var uuidPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
})

// CheckID validates an id from a path: ids are UUIDs, and a malformed one
// is a 400 naming the parameter, never a lookup. Returns CodeInvalid.
func CheckID(param, id string) error {
	if !uuidPattern().MatchString(id) {
		return tre.FieldErrorf(tre.CodeInvalid, param, "%s must be a UUID, not %q", param, id)
	}
	return nil
}

// notFound is AzureTRE's 404 text per resource type.
func notFound(t tre.ResourceType) error {
	switch t {
	case tre.TypeWorkspace:
		return tre.Errorf(tre.CodeNotFound, "Workspace does not exist")
	case tre.TypeWorkspaceService:
		return tre.Errorf(tre.CodeNotFound, "Workspace service does not exist")
	case tre.TypeUserResource:
		return tre.Errorf(tre.CodeNotFound, "User Resource does not exist")
	default:
		return tre.Errorf(tre.CodeNotFound, "Shared service does not exist")
	}
}

// Get loads the active resource ref names, checking that it is of the
// ref's type and sits under the ref's parents. Returns CodeNotFound with
// AzureTRE's texts.
func (s *Service) Get(ctx context.Context, ref Ref) (*tre.Resource, error) {
	return s.get(ctx, ref, false)
}

// GetForRecords is Get that also finds deleted resources (and resources of
// deleted parents): their operations and history stay readable, so the
// outcome of a deletion can be seen after it.
func (s *Service) GetForRecords(ctx context.Context, ref Ref) (*tre.Resource, error) {
	return s.get(ctx, ref, true)
}

func (s *Service) get(ctx context.Context, ref Ref, deleted bool) (*tre.Resource, error) {
	l, err := s.find(ctx, ref, deleted)
	if err != nil {
		return nil, err
	}
	return l.Resource()
}

// Find is Get that returns the resource as stored (Listed), for an answer
// that copies it rather than decoding and encoding it again.
func (s *Service) Find(ctx context.Context, ref Ref) (*Listed, error) {
	return s.find(ctx, ref, false)
}

// find reads the resource ref names, checked as get says.
func (s *Service) find(ctx context.Context, ref Ref, deleted bool) (*Listed, error) {
	if ref.WorkspaceID != "" && ref.Type != tre.TypeWorkspace {
		if _, err := s.find(ctx, WorkspaceRef(ref.WorkspaceID), deleted); err != nil {
			return nil, err
		}
	}
	if ref.ServiceID != "" {
		if _, err := s.find(ctx, Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ref.WorkspaceID, ID: ref.ServiceID}, deleted); err != nil {
			return nil, err
		}
	}
	d, err := s.store.Get(ctx, tre.Resources, ref.ID)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, notFound(ref.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("lifecycle: get resource %s: %w", ref.ID, err)
	}
	l, err := listedOf(d)
	if err != nil {
		return nil, err
	}
	if l.ResourceType != ref.Type || (l.DeploymentStatus == tre.StatusDeleted && !deleted) ||
		(ref.Type != tre.TypeWorkspace && l.WorkspaceID != ref.WorkspaceID) ||
		(ref.Type == tre.TypeUserResource && l.ParentWorkspaceServiceID != ref.ServiceID) {
		return nil, notFound(ref.Type)
	}
	return l, nil
}

func (s *Service) getResource(ctx context.Context, id string) (*tre.Resource, error) {
	r, err := tre.GetAs[tre.Resource](ctx, s.store, tre.Resources, id)
	if err != nil {
		if tre.IsCode(err, tre.CodeNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("lifecycle: get resource %s: %w", id, err)
	}
	return r, nil
}

// ListOptions narrows and pages a list of resources.
type ListOptions struct {
	// PageSize caps a page (0: DefaultPageSize).
	PageSize int
	// Continuation is the token of the page to read, from the previous
	// page ("" for the first).
	Continuation string
	// TemplateName and DeploymentStatus, when set, keep only the
	// resources that have them.
	TemplateName     string
	DeploymentStatus tre.Status
}

// DefaultPageSize is a page's size when the caller names none.
const DefaultPageSize = 100

// MaxPageSize is the largest page a caller may ask for.
const MaxPageSize = 1000

// ResourcePage is one page of a list of resources.
type ResourcePage struct {
	docs []tre.Document
	// Continuation is the token of the next page; "" after the last.
	Continuation string
}

// Resources splits the page's stored resources into their members. It is
// left to the caller so that a list streamed on two cores splits one page
// while the store reads the next (the store's reading was the longer half).
func (p ResourcePage) Resources() ([]*Listed, error) {
	return listedAll(p.docs)
}

// ListPage returns a page of the active resources of a type under a
// parent (workspaces, the services of a workspace, the user resources of a
// service, or shared services), in the store's order (creation order on
// SQLite): walking every page from the first reads each resource that
// stays active meanwhile once, in memory one page at a time. Parents are
// checked (CodeNotFound); CodeInvalid for a page size out of 1 to
// MaxPageSize or a token the store did not issue.
func (s *Service) ListPage(ctx context.Context, ref Ref, opts ListOptions) (ResourcePage, error) {
	where := []tre.Cond{tre.Eq("resourceType", string(ref.Type)), tre.Ne("deploymentStatus", string(tre.StatusDeleted))}
	switch ref.Type {
	case tre.TypeWorkspaceService:
		if _, err := s.Get(ctx, WorkspaceRef(ref.WorkspaceID)); err != nil {
			return ResourcePage{}, err
		}
		where = append(where, tre.Eq("workspaceId", ref.WorkspaceID))
	case tre.TypeUserResource:
		if _, err := s.Get(ctx, Ref{Type: tre.TypeWorkspaceService, WorkspaceID: ref.WorkspaceID, ID: ref.ServiceID}); err != nil {
			return ResourcePage{}, err
		}
		where = append(where, tre.Eq("workspaceId", ref.WorkspaceID), tre.Eq("parentWorkspaceServiceId", ref.ServiceID))
	}
	if opts.TemplateName != "" {
		where = append(where, tre.Eq("templateName", opts.TemplateName))
	}
	if opts.DeploymentStatus != "" {
		where = append(where, tre.Eq("deploymentStatus", string(opts.DeploymentStatus)))
	}
	size := opts.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	if size < 0 || size > MaxPageSize {
		return ResourcePage{}, tre.FieldErrorf(tre.CodeInvalid, "pageSize", "pageSize must be 1 to %d, not %d", MaxPageSize, size)
	}
	page, err := s.store.QueryPage(ctx, tre.Resources, tre.Query{Where: where}, size, opts.Continuation)
	if err != nil {
		if tre.IsCode(err, tre.CodeInvalid) {
			return ResourcePage{}, err
		}
		return ResourcePage{}, fmt.Errorf("lifecycle: list %s: %w", ref.Type, err)
	}
	return ResourcePage{docs: page.Documents, Continuation: page.Next}, nil
}

// listedAll splits each document with listedOf.
func listedAll(docs []tre.Document) ([]*Listed, error) {
	out := make([]*Listed, len(docs))
	for i, d := range docs {
		l, err := listedOf(d)
		if err != nil {
			return nil, err
		}
		out[i] = l
	}
	return out, nil
}

// List returns every active resource of a type under a parent, decoded
// and sorted as sortResources does (what a service over all of them
// needs, costs' reports): it reads ListPage's pages, MaxPageSize at a time.
func (s *Service) List(ctx context.Context, ref Ref) ([]*tre.Resource, error) {
	var out []*tre.Resource
	opts := ListOptions{PageSize: MaxPageSize}
	for {
		page, err := s.ListPage(ctx, ref, opts)
		if err != nil {
			return nil, err
		}
		listed, err := page.Resources()
		if err != nil {
			return nil, err
		}
		for _, l := range listed {
			r, err := l.Resource()
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if page.Continuation == "" {
			break
		}
		opts.Continuation = page.Continuation
	}
	sortResources(out)
	return out, nil
}

// descendants returns the active resources under a resource path, deepest
// first (user resources, then services).
func (s *Service) descendants(ctx context.Context, r *tre.Resource) ([]*tre.Resource, error) {
	if r.ResourceType != tre.TypeWorkspace && r.ResourceType != tre.TypeWorkspaceService {
		return nil, nil
	}
	list, err := tre.QueryAs[tre.Resource](ctx, s.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Prefix("resourcePath", r.ResourcePath+"/"), tre.Ne("deploymentStatus", string(tre.StatusDeleted)),
	}})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: descendants of %s: %w", r.ID, err)
	}
	sortResources(list)
	sortDeepestFirst(list)
	return list, nil
}

func (s *Service) ts() float64 { return tre.Timestamp(s.now()) }

// atomically runs fn with a copy of the service bound to one transaction
// of the store and sender (Options.Atomic): everything fn writes and sends
// commits together, and what it defers with afterCommit runs once it has.
// Without the capability, or already in a transaction, fn gets s itself:
// the intent record of commit keeps its writes consistent instead.
func (s *Service) atomically(ctx context.Context, fn func(ctx context.Context, tx *Service) error) error {
	return s.inTransaction(ctx, false, fn)
}

// atomicallyAhead is atomically for a fn the store may run twice (see
// tre.Ahead): one whose only effects outside the store and sender are
// what it defers with afterCommit and the results it sets anew on each
// run. Status ingestion is one; with the embedded store most of its work
// then runs beside the one writer instead of inside its turn.
func (s *Service) atomicallyAhead(ctx context.Context, fn func(ctx context.Context, tx *Service) error) error {
	return s.inTransaction(ctx, true, fn)
}

func (s *Service) inTransaction(ctx context.Context, ahead bool, fn func(ctx context.Context, tx *Service) error) error {
	if s.atomic == nil || s.inTx {
		return fn(ctx, s)
	}
	var after []func()
	outer := ctx
	run := s.atomic.Atomically
	if a, ok := s.atomic.(tre.Ahead); ok && ahead {
		run = a.AtomicallyAhead
	}
	err := run(ctx, func(ctx context.Context, store tre.Store, sender tre.Sender) error {
		after = after[:0]
		tx := *s
		tx.store, tx.sender, tx.inTx, tx.after, tx.outer = store, sender, true, &after, outer
		if s.firewall != nil {
			tx.firewall = deferredSignal{s.firewall, &after}
		}
		return fn(ctx, &tx)
	})
	if err != nil {
		return err
	}
	for _, f := range after {
		f()
	}
	return nil
}

// afterCommit runs f once the transaction s is bound to has committed
// (at once outside one). Work f does through the store takes its context
// from afterCtx.
// afterCtx is the context for work after the commit: ctx outside a
// transaction, the one from before it inside.
func (s *Service) afterCtx(ctx context.Context) context.Context {
	if s.inTx {
		return s.outer
	}
	return ctx
}

func (s *Service) afterCommit(f func()) {
	if s.inTx {
		*s.after = append(*s.after, f)
		return
	}
	f()
}

// deferredSignal raises the firewall service's signals after the commit:
// raised before, the service could look before the work is visible.
type deferredSignal struct {
	FirewallSignal
	after *[]func()
}

func (d deferredSignal) StepsDue() {
	*d.after = append(*d.after, d.FirewallSignal.StepsDue)
}

func (d deferredSignal) EgressChanged() {
	*d.after = append(*d.after, d.FirewallSignal.EgressChanged)
}
