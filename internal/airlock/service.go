package airlock

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Workspaces finds the workspace of a request; *lifecycle.Service
// implements it.
type Workspaces interface {
	// Get loads an active resource. Returns CodeNotFound with AzureTRE's
	// text.
	Get(ctx context.Context, ref lifecycle.Ref) (*tre.Resource, error)
}

// Members are the workspace role assignments; *assignment.Service
// implements it.
type Members interface {
	// RolesOf returns a user's roles in a workspace. Returns CodeNotFound
	// when the workspace does not exist.
	RolesOf(ctx context.Context, workspaceID, userID string) ([]tre.Role, error)
	// WorkspacesOf returns the workspaces where a user has a role.
	WorkspacesOf(ctx context.Context, userID string) (map[string]bool, error)
	// Users lists the users with roles in a workspace (the recipients of
	// its notifications). Returns CodeNotFound.
	Users(ctx context.Context, workspaceID string) ([]assignment.WorkspaceUser, error)
}

// Config is the airlock's behaviour.
type Config struct {
	Layout Layout
	// RequiredApprovals is how many distinct airlock managers must approve
	// a request (1, as in AzureTRE, or 2).
	RequiredApprovals int
	// LinkExpiry is how long a link's signature is valid (AzureTRE's
	// AIRLOCK_SAS_TOKEN_EXPIRY_PERIOD_IN_HOURS: 1 h).
	LinkExpiry time.Duration
	// ScanLimit is how long the files of a submitted request may wait for
	// the scanner's verdict before the request fails.
	ScanLimit time.Duration
	// ProcessingLimit is how long a request may stay in a status the
	// processor must move it out of before the sweep fails it (its
	// messages dead-lettered, say).
	ProcessingLimit time.Duration
	// Unavailable, when set, is why the airlock cannot work (no storage
	// configured): every call returns CodeUnavailable with it.
	Unavailable string
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
	// NewID makes request and review ids (default: random UUIDs).
	NewID func() string
	// Audit, if set, records every decision: the callers' (create, submit,
	// cancel, approve, reject, revoke) and the processor's outcomes.
	Audit Auditor
}

// Service is the airlock: the requests' lifecycle for the API, and the
// processor that moves their files for the trigger functions.
type Service struct {
	store      tre.Store
	blobs      tre.Blobs
	scanner    tre.Scanner // nil: no malware scanning
	queue      tre.Sender
	workspaces Workspaces
	members    Members
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	newID      func() string
	audit      Auditor
}

// New returns the airlock service. scanner may be nil (no malware
// scanning: submitted files go straight to review, as AzureTRE with
// ENABLE_MALWARE_SCANNING off).
func New(store tre.Store, blobs tre.Blobs, scanner tre.Scanner, queue tre.Sender, ws Workspaces, members Members, cfg Config, opt Options) *Service {
	s := &Service{store: store, blobs: blobs, scanner: scanner, queue: queue, workspaces: ws, members: members, cfg: cfg,
		log: opt.Log, now: opt.Now, newID: opt.NewID, audit: opt.Audit}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.cfg.RequiredApprovals < 1 {
		s.cfg.RequiredApprovals = 1
	}
	if s.cfg.LinkExpiry <= 0 {
		s.cfg.LinkExpiry = time.Hour
	}
	if s.cfg.ScanLimit <= 0 {
		s.cfg.ScanLimit = time.Hour
	}
	if s.cfg.ProcessingLimit <= 0 {
		s.cfg.ProcessingLimit = 2 * time.Hour
	}
	return s
}

// Available returns CodeUnavailable, naming what is missing, when the
// airlock cannot work.
func (s *Service) Available() error {
	if s.cfg.Unavailable != "" {
		return tre.Errorf(tre.CodeUnavailable, "%s", s.cfg.Unavailable)
	}
	return nil
}

// RequiredApprovals is how many distinct airlock managers approve a
// request.
func (s *Service) RequiredApprovals() int { return s.cfg.RequiredApprovals }

func (s *Service) timestamp() float64 { return tre.Timestamp(s.now()) }
