// Package egress is the firewall service of the control plane: it keeps the
// firewall (the tre.Firewall port) equal to the egress rules that resources
// and admins declare, and runs the firewall steps of operations.
//
// The desired state is a pure function of the store: every enabled
// resource that is being installed, is installed or is being uninstalled
// contributes the rules its template declares (substituted with the
// resource's values) and those its bundle reported in the egress_rules
// output; admins add manual rule sets, which take precedence. An owner
// whose rules are invalid is left out (and its operation's firewall step
// fails naming the rule); nobody else is affected.
//
// Operations of resources that declare egress get a firewall step
// (package lifecycle builds them): before the main step of an install (the
// bundle may need the egress while it runs) or an upgrade (the new set
// applies), and after the main step of an uninstall (rules stay until the
// resources that used them are gone). Lifecycle only marks such a step
// sent, in the store, and raises the Signal; Run picks the signal up and
// runs every due step with one reconcile under a lease, so that several
// handler instances write one at a time. The firewall-reconcile timer runs
// due steps too (RunSteps), so a step survives the crash of the instance
// that marked it.
package egress

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/lock"
	"github.com/tre-go/tre/internal/pipeline"
	"github.com/tre-go/tre/internal/tre"
)

// Operations is what the firewall service needs of the resource
// lifecycle; *lifecycle.Service implements it.
type Operations interface {
	// ApplyStatus reports a firewall step's progress and outcome.
	ApplyStatus(ctx context.Context, upd tre.StatusUpdate) (lifecycle.Outcome, error)
	// TemplateOf loads the template version a resource was made from.
	TemplateOf(ctx context.Context, r *tre.Resource) (*tre.Template, error)
	// SubstitutionSource is what {{ resource.… }} sees for a resource.
	SubstitutionSource(ctx context.Context, r *tre.Resource) (pipeline.Source, error)
}

// Config configures the firewall service.
type Config struct {
	// Firewall places and names the managed groups.
	Firewall firewall.Config
	// Holder names this instance in the lease document.
	Holder string
	// BeatEvery is how often a running firewall step reports that it is
	// alive while the firewall applies the rules (Azure Firewall can take
	// minutes): well within the watchdog's heartbeat limit.
	BeatEvery time.Duration
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
}

// Service is the firewall service. With no firewall (TRE_FIREWALL=off) it
// is off: the manual rule sets can be read, everything else answers
// CodeUnavailable, and Run only waits for its context to end.
type Service struct {
	store      tre.Store
	firewall   tre.Firewall
	ops        Operations
	signal     *Signal
	cfg        Config
	reconciler *firewall.Reconciler
	log        *slog.Logger
	now        func() time.Time
}

// New returns the firewall service writing to fw (nil: off) and woken by
// signal, which lifecycle raises. Returns CodeInvalid for an invalid
// configuration.
func New(store tre.Store, fw tre.Firewall, ops Operations, signal *Signal, cfg Config, opt Options) (*Service, error) {
	s := &Service{store: store, firewall: fw, ops: ops, signal: signal, cfg: cfg, log: opt.Log, now: opt.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.BeatEvery <= 0 {
		s.cfg.BeatEvery = 150 * time.Second
	}
	if fw == nil {
		return s, nil
	}
	if err := cfg.Firewall.Validate(); err != nil {
		return nil, err
	}
	lease := &lock.Lease{Store: store, Name: "firewall", Holder: cfg.Holder, Now: s.now}
	s.reconciler = &firewall.Reconciler{Firewall: fw, Lease: lease, Config: cfg.Firewall, Now: s.now}
	return s, nil
}

// Enabled reports whether the firewall service is on.
func (s *Service) Enabled() bool { return s.firewall != nil }

// errOff is the answer of an off firewall service.
func errOff() error {
	return tre.Errorf(tre.CodeUnavailable, "The firewall service is off on this control plane (TRE_FIREWALL=off)")
}

// workTimeout bounds one round of background work.
const workTimeout = 15 * time.Minute

// Run does the firewall work lifecycle signals, one round at a time, until
// ctx ends; it returns nil then. A round it interrupts is done again by the
// firewall-reconcile timer of this or another instance.
func (s *Service) Run(ctx context.Context) error {
	if s.signal == nil || s.firewall == nil {
		<-ctx.Done()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.signal.wake:
		}
		s.work(ctx)
	}
}

// work does what the signal asked for since the last round.
func (s *Service) work(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, workTimeout)
	defer cancel()
	if s.signal.steps.Swap(false) {
		if err := s.RunSteps(ctx); err != nil {
			s.log.Warn("firewall steps", "error", err.Error())
		}
	}
	if s.signal.resync.Swap(false) {
		// Sync logs and records its own outcome.
		_, _ = s.Sync(ctx)
	}
}

// Signal carries wake-ups to the firewall service's Run: lifecycle raises
// them (it implements lifecycle.FirewallSignal), and so do the manual rule
// routes. Raising never blocks; raises while Run is busy merge into one
// more round.
type Signal struct {
	wake   chan struct{}
	steps  atomic.Bool
	resync atomic.Bool
}

// NewSignal returns a signal nobody raised yet.
func NewSignal() *Signal { return &Signal{wake: make(chan struct{}, 1)} }

// StepsDue says firewall steps were marked sent: run them.
func (g *Signal) StepsDue() {
	g.steps.Store(true)
	g.poke()
}

// EgressChanged says the declared egress changed outside an operation's
// firewall step (a bundle reported rules, an admin changed a rule set):
// reconcile.
func (g *Signal) EgressChanged() {
	g.resync.Store(true)
	g.poke()
}

func (g *Signal) poke() {
	select {
	case g.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

var _ lifecycle.FirewallSignal = (*Signal)(nil)
