package upgrade

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/lock"
	"github.com/tre-go/tre/internal/tre"
)

// Lifecycle is what bulk upgrades need of the resource lifecycle;
// *lifecycle.Service implements it.
type Lifecycle interface {
	// CheckUpgrade applies every rule of an upgrade to one resource and
	// returns the target template. Returns CodeInvalid, CodeForbidden.
	CheckUpgrade(ctx context.Context, r *tre.Resource, target string, force bool) (*tre.Template, error)
	// TemplateOf loads the template version a resource was made from.
	TemplateOf(ctx context.Context, r *tre.Resource) (*tre.Template, error)
	// Patch starts an upgrade.
	Patch(ctx context.Context, req lifecycle.PatchRequest) (*tre.Operation, error)
}

// Config tunes the runner.
type Config struct {
	// Interval is how often Run advances the batches without a signal.
	Interval time.Duration
	// Holder names this instance in the lease.
	Holder string
}

// Options are the optional parts of New.
type Options struct {
	Log   *slog.Logger
	Now   func() time.Time
	NewID func() string
}

// Service plans, applies and runs bulk upgrades.
type Service struct {
	store tre.Store
	lc    Lifecycle
	cfg   Config
	lease *lock.Lease
	wake  chan struct{}
	log   *slog.Logger
	now   func() time.Time
	newID func() string
}

// New returns the service.
func New(store tre.Store, lc Lifecycle, cfg Config, opt Options) *Service {
	s := &Service{store: store, lc: lc, cfg: cfg, wake: make(chan struct{}, 1), log: opt.Log, now: opt.Now, newID: opt.NewID}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.cfg.Interval <= 0 {
		s.cfg.Interval = 10 * time.Second
	}
	if s.cfg.Holder == "" {
		s.cfg.Holder = "tre-handler"
	}
	s.lease = &lock.Lease{Store: store, Name: "upgrade-batches", Holder: s.cfg.Holder, Now: s.now}
	return s
}

// Run advances the batches when signalled and every Interval until ctx
// ends; it returns nil then. It starts with a round: a batch a crash
// interrupted goes on at once.
func (s *Service) Run(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		if err := s.Advance(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("upgrade batches not advanced", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// poke wakes Run; it never blocks, and pokes while Run is busy merge.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// OperationEnded wakes Run: an upgrade of a batch may have ended (it
// implements lifecycle.Outcomes).
func (s *Service) OperationEnded(_ context.Context, op tre.Operation) {
	if op.Action == tre.ActionUpgrade {
		s.poke()
	}
}

func (s *Service) ts() float64 { return tre.Timestamp(s.now()) }
