package airlock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/blobtest"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// clock is the injected time: every reading moves it on a millisecond.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// workspaces stands in for lifecycle: the workspaces by id.
type workspaces map[string]*tre.Resource

func (w workspaces) Get(_ context.Context, ref lifecycle.Ref) (*tre.Resource, error) {
	if r, ok := w[ref.ID]; ok {
		return r, nil
	}
	return nil, tre.Errorf(tre.CodeNotFound, "Workspace does not exist")
}

// members stands in for the assignments: roles by workspace and user.
type members map[string]map[string][]tre.Role

func (m members) RolesOf(_ context.Context, ws, user string) ([]tre.Role, error) {
	return m[ws][user], nil
}

func (m members) WorkspacesOf(_ context.Context, user string) (map[string]bool, error) {
	out := map[string]bool{}
	for ws, users := range m {
		if len(users[user]) > 0 {
			out[ws] = true
		}
	}
	return out, nil
}

func (m members) Users(_ context.Context, ws string) ([]assignment.WorkspaceUser, error) {
	var out []assignment.WorkspaceUser
	for id, roles := range m[ws] {
		u := assignment.WorkspaceUser{ID: id}
		for _, r := range roles {
			u.Roles = append(u.Roles, assignment.RoleInfo{ID: string(r)})
		}
		out = append(out, u)
	}
	return out, nil
}

// sender sends to the embedded queue, or fails while fail is set.
type sender struct {
	mu   sync.Mutex
	q    tre.Queue
	fail error
}

func (s *sender) Send(ctx context.Context, queue string, msgs ...tre.Message) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.q.Send(ctx, queue, msgs...)
}

func (s *sender) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// scanner is a scanner whose verdicts the test sets (pending by default).
type scanner struct {
	mu       sync.Mutex
	verdicts map[string]tre.ScanVerdict
}

func (s *scanner) Verdict(_ context.Context, c tre.BlobContainer, name string) (tre.ScanResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tre.ScanResult{Verdict: s.verdicts[name]}, nil
}

func (s *scanner) StandIn() bool { return false }

func (s *scanner) set(name string, v tre.ScanVerdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verdicts[name] = v
}

const (
	wsID  = "11111111-2222-4333-8444-55555555abcd"
	wsID2 = "11111111-2222-4333-8444-55555555ef01"
)

var (
	owner      = tre.User{ID: "owner-1", Name: "Olivia", Email: "olivia@example.com", Roles: []string{"TREUser"}}
	researcher = tre.User{ID: "researcher-1", Name: "Rita", Roles: []string{"TREUser"}}
	manager    = tre.User{ID: "manager-1", Name: "Manu", Roles: []string{"TREUser"}}
	manager2   = tre.User{ID: "manager-2", Name: "Mia", Roles: []string{"TREUser"}}
	outsider   = tre.User{ID: "outsider-1", Name: "Otto", Roles: []string{"TREUser"}}
)

type fixture struct {
	t       *testing.T
	svc     *airlock.Service
	store   tre.Store
	queue   *sqlite.Queue
	send    *sender
	blobs   *blobtest.Fake
	clock   *clock
	ws      workspaces
	members members
	layout  airlock.Layout
}

type option func(*airlock.Config, *tre.Scanner)

func withApprovals(n int) option {
	return func(c *airlock.Config, _ *tre.Scanner) { c.RequiredApprovals = n }
}

func withScanner(s tre.Scanner) option {
	return func(_ *airlock.Config, sc *tre.Scanner) { *sc = s }
}

func newFixture(t *testing.T, opts ...option) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	require.NoError(t, err)
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	q := sqlite.NewQueue(db, sqlite.QueueOptions{LockDuration: time.Minute, MaxDeliveryCount: 5})
	t.Cleanup(func() { q.Close(); db.Close() })
	f := &fixture{t: t, store: sqlite.NewStore(db), queue: q, send: &sender{q: q}, blobs: blobtest.NewFake(), clock: clk,
		layout: airlock.Layout{TREID: "tre1"},
		ws: workspaces{
			wsID:  {ID: wsID, ResourceType: tre.TypeWorkspace, DeploymentStatus: tre.StatusDeployed, IsEnabled: true, Properties: map[string]any{"display_name": "Genomics", "description": "d"}},
			wsID2: {ID: wsID2, ResourceType: tre.TypeWorkspace, DeploymentStatus: tre.StatusDeployed, IsEnabled: true, Properties: map[string]any{"display_name": "Other", "description": "d"}},
		},
		members: members{wsID: {owner.ID: {tre.RoleWorkspaceOwner}, researcher.ID: {tre.RoleWorkspaceResearcher},
			manager.ID: {tre.RoleAirlockManager}, manager2.ID: {tre.RoleAirlockManager}}},
	}
	cfg := airlock.Config{Layout: f.layout, RequiredApprovals: 1, LinkExpiry: time.Hour, ScanLimit: time.Hour, ProcessingLimit: 2 * time.Hour}
	var sc tre.Scanner
	for _, o := range opts {
		o(&cfg, &sc)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.svc = airlock.New(f.store, f.blobs, sc, f.send, f.ws, f.members, cfg, airlock.Options{Log: log, Now: clk.now})
	return f
}

// container is a request's container in the account of a status.
func (f *fixture) container(r *tre.AirlockRequest, s tre.AirlockStatus) tre.BlobContainer {
	f.t.Helper()
	c, err := f.layout.Container(r, s)
	require.NoError(f.t, err)
	return c
}

// processAll delivers the processor's queue to Process as the Functions
// host would (complete on success, abandon on an error, in session
// order) until it is empty, and returns what each delivery did.
func (f *fixture) processAll() []string {
	f.t.Helper()
	ctx := context.Background()
	var outcomes []string
	for {
		actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		sess, err := f.queue.AcceptNextSession(actx, tre.QueueAirlockStatus)
		cancel()
		if errors.Is(err, tre.ErrNoSession) {
			return outcomes
		}
		require.NoError(f.t, err)
		for {
			rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			msgs, err := sess.Receive(rctx, 1)
			cancel()
			require.NoError(f.t, err)
			if len(msgs) == 0 {
				break
			}
			out, err := f.svc.Process(ctx, decode(f.t, msgs[0].Body))
			if err != nil {
				outcomes = append(outcomes, "error: "+err.Error())
				require.NoError(f.t, sess.Abandon(ctx, msgs[0]))
				break
			}
			outcomes = append(outcomes, string(out))
			require.NoError(f.t, sess.Complete(ctx, msgs[0]))
		}
		require.NoError(f.t, sess.Close(ctx))
	}
}

// decode reads a status-changed message as the trigger does.
func decode(t *testing.T, body []byte) tre.AirlockStatusChanged {
	t.Helper()
	var ev struct {
		EventType string                   `json:"eventType"`
		Data      tre.AirlockStatusChanged `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, tre.EventStatusChanged, ev.EventType)
	return ev.Data
}

// notifications returns the notification events sent so far, in order.
func (f *fixture) notifications() []tre.AirlockNotification {
	f.t.Helper()
	ctx := context.Background()
	var out []tre.AirlockNotification
	for {
		actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		sess, err := f.queue.AcceptNextSession(actx, tre.QueueAirlockNotification)
		cancel()
		if errors.Is(err, tre.ErrNoSession) {
			return out
		}
		require.NoError(f.t, err)
		for {
			rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			msgs, err := sess.Receive(rctx, 10)
			cancel()
			require.NoError(f.t, err)
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				var ev struct {
					EventType   string                  `json:"eventType"`
					DataVersion string                  `json:"dataVersion"`
					Data        tre.AirlockNotification `json:"data"`
				}
				require.NoError(f.t, json.Unmarshal(m.Body, &ev))
				require.Equal(f.t, tre.EventAirlockNotification, ev.EventType)
				require.Equal(f.t, "4.0", ev.DataVersion)
				out = append(out, ev.Data)
				require.NoError(f.t, sess.Complete(ctx, m))
			}
		}
		require.NoError(f.t, sess.Close(ctx))
	}
}

func (f *fixture) get(id string) *tre.AirlockRequest {
	f.t.Helper()
	r, err := tre.GetAs[tre.AirlockRequest](context.Background(), f.store, tre.AirlockRequests, id)
	require.NoError(f.t, err)
	return r
}

// draft creates a request and lets the processor create its container.
func (f *fixture) draft(typ tre.AirlockType, by tre.User) *tre.AirlockRequest {
	f.t.Helper()
	r, err := f.svc.Create(context.Background(), wsID, airlock.NewRequest{Type: typ, Title: "t", BusinessJustification: "why"}, by)
	require.NoError(f.t, err)
	require.Equal(f.t, tre.AirlockDraft, r.Status)
	f.processAll()
	require.True(f.t, f.blobs.Exists(f.container(r, tre.AirlockDraft)), "the processor created the draft's container")
	return r
}

func requireCode(t *testing.T, err error, code tre.Code, msg string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, tre.ErrorCode(err), "error: %v", err)
	if msg != "" {
		require.Equal(t, msg, tre.ErrorMessage(err))
	}
}

func statuses(list []tre.AirlockNotification) []tre.AirlockStatus {
	var out []tre.AirlockStatus
	for _, n := range list {
		out = append(out, n.Request.Status)
	}
	return out
}
