// Package audit is the control plane's audit trail (AzureTRE #4686,
// #1633): an append-only record of every accepted request that changed
// state (written by the API) and of every operation's outcome (written
// when lifecycle reports it), each saying who (user id, name, roles), what
// (route, resource, operation, the names of the properties changed, never
// their values), when, and from where (request id, client IP).
//
// Records are written once, with ids that sort by time, to a collection no
// route changes or deletes; each is also logged as one structured line
// ("audit") for Log Analytics. List filters by user, resource, workspace,
// action and time range, newest first, a page at a time: it reads the
// store in time windows that widen until a page is full, so a page costs
// about what it holds, not the whole trail.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Kinds of record.
const (
	KindRequest   = "request"
	KindOperation = "operation"
)

// Who is the caller of a request, or who started an operation.
type Who struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// Record is one entry of the trail, stored as is.
type Record struct {
	// ID sorts by time: 20 digits of Unix nanoseconds, a dash, 8 random
	// hex digits.
	ID   string  `json:"id"`
	When float64 `json:"when"`
	Time string  `json:"time"`
	Kind string  `json:"kind"`
	User Who     `json:"user"`
	// Action is what was done: create, update, enable, disable, upgrade,
	// delete, invoke-action, retry, cancel, fail, ... for requests;
	// operation-<action> for operation outcomes.
	Action string `json:"action"`
	// The request: method, route pattern, path, answer status.
	Method string `json:"method,omitempty"`
	Route  string `json:"route,omitempty"`
	Path   string `json:"path,omitempty"`
	Status int    `json:"status,omitempty"`
	// What it was about.
	ResourceID      string `json:"resourceId,omitempty"`
	ResourceType    string `json:"resourceType,omitempty"`
	ResourcePath    string `json:"resourcePath,omitempty"`
	WorkspaceID     string `json:"workspaceId,omitempty"`
	OperationID     string `json:"operationId,omitempty"`
	OperationStatus string `json:"operationStatus,omitempty"`
	// Changed names the members of the request body (properties as
	// properties.<name>); values are never recorded.
	Changed   []string `json:"changed,omitempty"`
	RequestID string   `json:"requestId,omitempty"`
	ClientIP  string   `json:"clientIp,omitempty"`
}

// Service writes and reads the trail.
type Service struct {
	store tre.Store
	log   *slog.Logger
	now   func() time.Time
}

// Options are the optional parts of New.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
}

// New returns the service.
func New(store tre.Store, opt Options) *Service {
	s := &Service{store: store, log: opt.Log, now: opt.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// idOf is the sortable id of a record made at t.
func idOf(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s", keyOf(t), hex.EncodeToString(b[:]))
}

// keyOf is the id prefix of time t: ids of records made at or after t are
// >= it, and those made before are below.
func keyOf(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("%020d", n)
}

// Write appends a record, giving it its id and time, and logs it.
func (s *Service) Write(ctx context.Context, rec Record) error {
	rec = s.stamp(rec)
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrsOf(rec)...)
	return s.create(ctx, s.store, rec)
}

// stamp gives a record its id and time.
func (s *Service) stamp(rec Record) Record {
	t := s.now().UTC()
	rec.ID, rec.When, rec.Time = idOf(t), tre.Timestamp(t), t.Format(time.RFC3339Nano)
	return rec
}

// create stores a record through store.
func (s *Service) create(ctx context.Context, store tre.Store, rec Record) error {
	if _, err := tre.CreateAs(ctx, store, tre.AuditRecords, rec.ID, rec); err != nil {
		s.log.ErrorContext(ctx, "audit record not stored", "audit_id", rec.ID, "error", err.Error())
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
}

// attrsOf is a record as the fields of its log line.
func attrsOf(r Record) []slog.Attr {
	attrs := []slog.Attr{slog.String("audit_id", r.ID), slog.String("audit_kind", r.Kind), slog.String("action", r.Action),
		slog.String("user_id", r.User.ID), slog.String("user_name", r.User.Name), slog.Any("user_roles", r.User.Roles)}
	for _, kv := range [][2]string{{"method", r.Method}, {"route", r.Route}, {"path", r.Path}, {"resource_id", r.ResourceID},
		{"resource_type", r.ResourceType}, {"resource_path", r.ResourcePath}, {"workspace_id", r.WorkspaceID},
		{"operation_id", r.OperationID}, {"operation_status", r.OperationStatus}, {"request_id", r.RequestID}, {"client_ip", r.ClientIP}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if r.Status != 0 {
		attrs = append(attrs, slog.Int("status", r.Status))
	}
	if len(r.Changed) > 0 {
		attrs = append(attrs, slog.Any("changed", r.Changed))
	}
	return attrs
}

// RecordEnded writes the record of an ended operation through store (the
// transaction that ended it: lifecycle.OutcomeRecorder); its log line is
// written by after, once the record is committed.
func (s *Service) RecordEnded(ctx context.Context, store tre.Store, op tre.Operation) (after func(), err error) {
	rec := Record{Kind: KindOperation, User: Who{ID: op.User.ID, Name: op.User.Name, Roles: op.User.Roles},
		Action: "operation-" + op.Action, ResourceID: op.ResourceID, ResourcePath: op.ResourcePath,
		OperationID: op.ID, OperationStatus: string(op.Status)}
	rec.ResourceType, rec.WorkspaceID = PlaceOf(op.ResourcePath)
	if len(op.Attempts) > 0 {
		// Who ran this attempt (a retry's starter).
		u := op.Attempts[len(op.Attempts)-1].StartedBy
		rec.User = Who{ID: u.ID, Name: u.Name, Roles: u.Roles}
	}
	rec = s.stamp(rec)
	if err := s.create(ctx, store, rec); err != nil {
		return nil, err
	}
	return func() { s.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrsOf(rec)...) }, nil
}

// PlaceOf reads a resource path: the resource's type and its workspace.
func PlaceOf(path string) (typ, workspaceID string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) >= 2 && segs[0] == "workspaces" {
		workspaceID = segs[1]
	}
	switch {
	case len(segs) >= 6 && segs[4] == "user-resources":
		return string(tre.TypeUserResource), workspaceID
	case len(segs) >= 4 && segs[2] == "workspace-services":
		return string(tre.TypeWorkspaceService), workspaceID
	case len(segs) >= 2 && segs[0] == "workspaces":
		return string(tre.TypeWorkspace), workspaceID
	case len(segs) >= 2 && segs[0] == "shared-services":
		return string(tre.TypeSharedService), ""
	}
	return "", workspaceID
}

// Filter selects records; empty fields select everything.
type Filter struct {
	UserID      string
	ResourceID  string
	WorkspaceID string
	Action      string
	// From (inclusive) and To (exclusive) bound the time; zero: open.
	From, To time.Time
	// Limit is the page size (default 100, at most 1000).
	Limit int
	// Continuation is the token of the previous page.
	Continuation string
}

// Page is one page of records, newest first; Continuation is empty on the
// last page.
type Page struct {
	Records      []Record
	Continuation string
}

// epoch is before any record: the oldest a listing looks.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// firstWindow is the span the first query of a page covers.
const firstWindow = time.Hour

// List returns one page of the records f selects. Returns CodeInvalid
// (a bad continuation token or range).
func (s *Service) List(ctx context.Context, f Filter) (*Page, error) {
	f.Limit = min(max(f.Limit, 0), 1000)
	if f.Limit == 0 {
		f.Limit = 100
	}
	lo, hi, hiKey, err := s.span(f)
	if err != nil {
		return nil, err
	}
	if !lo.Before(hi) {
		return &Page{Records: []Record{}}, nil
	}
	var out []Record
	for window := firstWindow; ; window *= 2 {
		wlo := hi.Add(-window)
		if wlo.Before(lo) {
			wlo = lo
		}
		batch, err := s.query(ctx, f, keyOf(wlo), hiKey)
		if err != nil {
			return nil, err
		}
		out = append(out, batch...)
		if len(out) > f.Limit || !wlo.After(lo) {
			break
		}
		hi, hiKey = wlo, keyOf(wlo)
	}
	page := &Page{Records: out}
	if len(out) > f.Limit {
		page.Records = out[:f.Limit]
		page.Continuation = encodeToken(page.Records[f.Limit-1].ID)
	}
	if page.Records == nil {
		page.Records = []Record{}
	}
	return page, nil
}

// span is the time range a listing covers, [lo, hi), and the id below
// which it starts (the continuation's, if any).
func (s *Service) span(f Filter) (lo, hi time.Time, hiKey string, err error) {
	lo, hi = epoch, s.now().Add(time.Minute)
	if !f.From.IsZero() && f.From.After(lo) {
		lo = f.From
	}
	if !f.To.IsZero() && f.To.Before(hi) {
		hi = f.To
	}
	hiKey = keyOf(hi)
	if f.Continuation == "" {
		return lo, hi, hiKey, nil
	}
	last, err := decodeToken(f.Continuation)
	if err != nil {
		return lo, hi, "", err
	}
	hiKey = min(hiKey, last)
	n, _ := strconv.ParseInt(last[:20], 10, 64)
	if t := time.Unix(0, n); t.Before(hi) {
		hi = t.Add(time.Nanosecond)
	}
	return lo, hi, hiKey, nil
}

// query reads the records of [loKey, hiKey) that f selects, newest first.
func (s *Service) query(ctx context.Context, f Filter, loKey, hiKey string) ([]Record, error) {
	where := []tre.Cond{tre.Ge("id", loKey), tre.Lt("id", hiKey)}
	for path, v := range map[string]string{"user.id": f.UserID, "resourceId": f.ResourceID, "workspaceId": f.WorkspaceID, "action": f.Action} {
		if v != "" {
			where = append(where, tre.Eq(path, v))
		}
	}
	recs, err := tre.QueryAs[Record](ctx, s.store, tre.AuditRecords, tre.Query{Where: where})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func encodeToken(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 21 || b[20] != '-' {
		return "", tre.FieldErrorf(tre.CodeInvalid, "continuation", "continuation is not a token this API gave")
	}
	if _, err := strconv.ParseInt(string(b[:20]), 10, 64); err != nil {
		return "", tre.FieldErrorf(tre.CodeInvalid, "continuation", "continuation is not a token this API gave")
	}
	return string(b), nil
}
