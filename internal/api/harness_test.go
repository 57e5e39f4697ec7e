package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/audit"
	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/blobtest"
	"github.com/tre-go/tre/internal/catalog"
	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/costs"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/roster"
	"github.com/tre-go/tre/internal/scanstub"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
	"github.com/tre-go/tre/internal/upgrade"
)

// env is the API over one data directory.
type env struct {
	t      testing.TB
	dir    string
	db     *sqlite.DB
	queue  *sqlite.Queue
	store  *sqlite.Store
	reg    *registry.Registry
	svc    *lifecycle.Service
	roles  *assignment.Service
	agents *roster.Service
	dead   *deadletter.Service
	fw     *egress.Service
	// airlock runs on blobs, an in-memory store of its own for each env
	// (the access cases need no files).
	airlock *airlock.Service
	blobs   *blobtest.Fake
	// stopFW stops the firewall service's Run and waits for it; it may be
	// called more than once.
	stopFW func()
	keys   *auth.DevKeys
	srv    *httptest.Server
	api    *api.API
	logs   *strings.Builder
}

func openEnv(t testing.TB, dir string) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), dir)
	require.NoError(t, err)
	st := sqlite.NewStore(db)
	q := sqlite.NewQueue(db, sqlite.QueueOptions{LockDuration: 5 * time.Second, MaxDeliveryCount: 3})
	sec, err := secretfile.Open(dir)
	require.NoError(t, err)
	keys, err := auth.LoadDevKeys(dir)
	require.NoError(t, err)
	logs := &strings.Builder{}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := registry.New(st, nil)
	signal := egress.NewSignal()
	cat := catalog.New(st, catalog.Options{Log: log})
	trail := audit.New(st, audit.Options{Log: log})
	svc := lifecycle.New(st, reg, sec, q, lifecycle.Config{TREID: "tre1", Location: "local",
		AddressSpace: cidr.MustParse("10.0.0.0/12"), CoreAddressSpace: cidr.MustParse("10.1.0.0/22")}, lifecycle.Options{Log: log, DeadLetters: q,
		Firewall: signal, Catalog: cat, Records: trail})
	fw, err := egress.New(st, &firewallfile.Backend{Path: filepath.Join(dir, "firewall.json")}, svc, signal,
		egress.Config{Holder: "api-test"}, egress.Options{Log: log})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	fwDone := make(chan struct{})
	go func() { defer close(fwDone); _ = fw.Run(ctx) }()
	roles := assignment.New(st, svc, assignment.Options{Log: log})
	agents := roster.New(st, nil)
	dead := deadletter.New(st, q, svc, deadletter.Options{Log: log})
	blobs := blobtest.NewFake()
	al := airlock.New(st, blobs, &scanstub.Scanner{Blobs: blobs}, q, svc, roles, airlock.Config{Layout: airlock.Layout{TREID: "tre1"}}, airlock.Options{Log: log, Audit: trail})
	a := &api.API{Log: log, Auth: &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: keys},
		ListStreamPage: 3, // unpaged lists of more than 3 read pages ahead
		Registry:       reg, Resources: svc, Operations: svc, Triggers: svc, Assignments: roles, Agents: agents, DeadLetters: dead, Firewall: fw, Airlock: al, Costs: costs.New(nil, svc, costs.Config{TREID: "tre1"}, costs.Options{}), Catalogs: cat, Audit: trail, Upgrades: upgrade.New(st, svc, upgrade.Config{Holder: "api-test"}, upgrade.Options{Log: log}), MaxBodyBytes: 64 << 10, EventPoll: 20 * time.Millisecond,
		Metadata: api.Metadata{APIRootScope: "api://tre-dev/user_impersonation"},
		Health:   []api.HealthCheck{{Name: "store", Check: st.Ping}}}
	srv := httptest.NewServer(a.Handler())
	e := &env{t: t, dir: dir, db: db, queue: q, store: st, reg: reg, svc: svc, roles: roles, agents: agents, dead: dead, fw: fw, airlock: al, blobs: blobs, stopFW: sync.OnceFunc(func() { cancel(); <-fwDone }), keys: keys, srv: srv, api: a, logs: logs}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
		e.stopFW()
		e.queue.Close()
		e.db.Close()
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *env) token(name string, roles ...string) string {
	e.t.Helper()
	tok, err := e.keys.Mint(name, roles, time.Hour, time.Now())
	require.NoError(e.t, err)
	return tok
}

func (e *env) do(method, path, token, body string, headers ...string) (int, string, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, string(b), resp.Header
}

// reconcile makes the firewall match the store now, as the firewall
// service does in the background when signalled.
func (e *env) reconcile() {
	e.t.Helper()
	_, err := e.fw.Sync(context.Background())
	require.NoError(e.t, err)
}

// complete drives every step of an operation to success, as the
// Resource Processor would.
func (e *env) complete(op *tre.Operation) {
	e.t.Helper()
	ctx := context.Background()
	for i := 0; ; i++ {
		cur, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, op.ID)
		require.NoError(e.t, err)
		if i >= len(cur.Steps) {
			return
		}
		st := cur.Steps[i]
		for _, status := range []tre.Status{tre.StatusesFor(st.ResourceAction).Running, tre.StatusesFor(st.ResourceAction).Succeeded} {
			_, err := e.svc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: op.ID, StepID: st.ID, ID: st.ResourceID, Status: status})
			require.NoError(e.t, err)
		}
	}
}

// copyDir copies a closed data directory for a test case.
func copyDir(t testing.TB, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, en := range entries {
		if en.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, en.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, en.Name()), b, 0o600))
	}
	return to
}

// patternOf returns the route pattern a request would match.
func (e *env) patternOf(method, path string) string {
	mux := http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range e.api.Routes() {
		if !seen[rt.Pattern] {
			seen[rt.Pattern] = true
			mux.Handle(rt.Pattern, http.NotFoundHandler())
		}
	}
	req := httptest.NewRequest(method, path, nil)
	_, pattern := mux.Handler(req)
	return pattern
}
