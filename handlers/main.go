// Command tre-handler is the control plane's Azure Functions custom handler:
// it serves the TRE API (forwarded by the Functions host from /api/...) and
// the trigger functions (deployment-status, the timers). Without Azure settings it runs on embedded
// defaults: a SQLite store under TRE_DATA_DIR and a local dev token issuer.
//
//	tre-handler                      serve (the Functions host starts it this way)
//	tre-handler token --roles R,...  print a dev token (dev issuer only)
//	tre-handler settings             print the settings table (Markdown)
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/audit"
	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/catalog"
	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/cosmos"
	"github.com/tre-go/tre/internal/costs"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/processor"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/roster"
	"github.com/tre-go/tre/internal/servicebus"
	"github.com/tre-go/tre/internal/telemetry"
	"github.com/tre-go/tre/internal/tre"
	"github.com/tre-go/tre/internal/upgrade"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// The identity port's adapter: auth's Validator, on Entra ID's keys or the
// dev issuer's.
var _ tre.Authenticator = (*auth.Validator)(nil)

// gcPercent is the handler's GOGC unless the environment sets one. Its
// live heap is a few MB, and Go's default (collect when the heap has grown
// by 100%, at least 4 MB) collected about ten times per list of 10,000
// resources; at 200 a list takes a third less time for 2 to 4 MB more
// resident memory (docs/PERFORMANCE.md).
const gcPercent = 200

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "", "serve":
		err = serve(ctx, lookup, stdout, stderr)
	case "token":
		err = token(args, lookup, stdout)
	case "user-id":
		if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
			err = errors.New("usage: tre-handler user-id NAME")
		} else {
			fmt.Fprintln(stdout, auth.DevUserID(args[0]))
		}
	case "settings":
		fmt.Fprint(stdout, config.Markdown(settings))
	case "version":
		fmt.Fprintln(stdout, version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tre-handler: %s\n", err)
		return 1
	}
	return 0
}

const usage = `usage:
  tre-handler                         serve the API (FUNCTIONS_CUSTOMHANDLER_PORT, default 8080)
  tre-handler token --roles ROLES     print a dev token, e.g. --roles TREAdmin --user alice
  tre-handler user-id NAME            print the user id (oid) the dev issuer gives NAME
  tre-handler settings                print the table of settings (environment variables)
  tre-handler version
`

func serve(ctx context.Context, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	cfg, err := loadConfig(lookup)
	if err != nil {
		return err
	}
	log := newSplitLogger(stdout, stderr, cfg.LogLevel)
	m := &Main{Config: cfg, Log: log}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

// newSplitLogger logs warnings and errors on stderr, the rest on stdout.
// The Functions host logs a custom handler's stdout lines at Information,
// and its stderr lines at Warning when they contain "warn" (ours say
// "level":"WARN"), at Error otherwise: so an error of the handler is an
// error in Application Insights, not one more Information trace.
func newSplitLogger(stdout, stderr io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	h := levelSplit{low: slog.NewJSONHandler(stdout, opts), high: slog.NewJSONHandler(stderr, opts)}
	return slog.New(telemetry.Handler{Handler: h}).With("service", "tre-handler")
}

// levelSplit sends records of level Warn and above to high, others to low.
type levelSplit struct{ low, high slog.Handler }

func (s levelSplit) Enabled(ctx context.Context, l slog.Level) bool { return s.low.Enabled(ctx, l) }

func (s levelSplit) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return s.high.Handle(ctx, r)
	}
	return s.low.Handle(ctx, r)
}

func (s levelSplit) WithAttrs(a []slog.Attr) slog.Handler {
	return levelSplit{low: s.low.WithAttrs(a), high: s.high.WithAttrs(a)}
}

func (s levelSplit) WithGroup(n string) slog.Handler {
	return levelSplit{low: s.low.WithGroup(n), high: s.high.WithGroup(n)}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	// telemetry.Handler: a line logged with a request's or invocation's
	// context carries its ids (invocation_id, request_id, operation_id)
	// and its trace.
	return slog.New(telemetry.Handler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})}).With("service", "tre-handler")
}

// Main is the running handler: its adapters, API and listener. Tests run
// the real Main on port 0 with a temporary data directory.
type Main struct {
	Config Config
	Log    *slog.Logger

	closers   []func() error // closed in reverse order
	cred      azcore.TokenCredential
	store     tre.Store
	queue     tre.Queue
	atomic    tre.Atomic // the store and queue's shared transactions, if they have them
	devKeys   *auth.PendingDevKeys
	secrets   tre.Secrets
	lifecycle *lifecycle.Service
	firewall  *egress.Service
	roles     *assignment.Service
	roster    *roster.Service
	dead      *deadletter.Service
	costs     *costs.Service
	catalog   *catalog.Service
	audit     *audit.Service
	upgrades  *upgrade.Service
	airlock   *airlock.Service
	blobs     tre.Blobs                // the airlock's storage, if any
	notify    *airlock.NotificationLog // the local consumer of airlock notifications, if any
	agent     *processor.Agent         // the in-process processor, if any
	host      *funchost.Host           // the Functions host stand-in, if any
	api       *api.API
	front     http.Handler // the web UI, the dev sign-in and the API
	trigger   string       // the key the trigger routes require (triggerKey)
	ln        net.Listener
	server    *http.Server

	// ConnectBackoff is the first wait between attempts to connect to
	// Cosmos DB and Service Bus (1 s if 0); it doubles up to 30 s.
	ConnectBackoff time.Duration
	// ConnectTimeout bounds each attempt (30 s if 0).
	ConnectTimeout time.Duration
	cosmos         *cosmos.Store     // the store, when it is Cosmos DB
	serviceBus     *servicebus.Queue // the queue, when it is Service Bus
	conns          []*connection     // opened by Run, in the background
	telemetry      *telemetry.Telemetry
}

// Open builds the adapters and listens, so that a bind error is immediate
// and URL is known before Run.
func (m *Main) Open(ctx context.Context) error {
	if err := m.open(ctx); err != nil {
		m.Close()
		return err
	}
	return nil
}

func (m *Main) open(ctx context.Context) error {
	tcfg := m.Config.Telemetry
	tcfg.InstanceID = leaseHolder()
	tel, err := telemetry.New(tcfg)
	if err != nil {
		return err
	}
	m.telemetry = tel
	m.closers = append(m.closers, func() error {
		// The spans not yet exported go now, or are lost after 5 s.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tel.Shutdown(ctx)
	})
	if err := m.openAdapters(ctx); err != nil {
		return err
	}
	validator, mode, err := m.validator()
	if err != nil {
		return err
	}
	reg := registry.New(m.store, nil)
	if err := m.services(reg); err != nil {
		return err
	}
	startup := func(ctx context.Context) error { return m.startupWrites(ctx, reg) }
	if m.cosmos != nil {
		m.connectInBackground(startup)
	} else if err := startup(ctx); err != nil {
		return err
	}
	if m.Config.LocalProcessor {
		if m.agent, err = m.localAgent(reg); err != nil {
			return err
		}
	}
	m.trigger = m.triggerKey()
	if m.Config.LocalHost {
		m.host = m.localHost()
		m.notify = m.notificationLog()
	}
	m.api = m.newAPI(validator, mode, reg)
	if m.front, err = m.webFront(mode); err != nil {
		return err
	}
	addr := net.JoinHostPort(m.Config.ListenAddress, strconv.Itoa(m.Config.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	m.ln = ln
	m.closers = append(m.closers, func() error {
		if m.server == nil {
			return ln.Close()
		}
		return nil
	})
	m.Log.Info("handler ready", "version", version, "url", m.URL(), "adapters", m.adapterNames(), "auth", mode,
		"traces", m.telemetry.Enabled(), "local_processor", m.agent != nil, "local_host", m.host != nil, "firewall", m.Config.Firewall,
		"airlock_storage", m.Config.Airlock.Storage, "airlock_scanner", m.Config.Airlock.Scanner, "connecting", m.connNames())
	if mode == "dev" {
		m.Log.Info("dev issuer in use: open " + m.URL() + "/ and sign in there, or get a token with `tre-handler token --roles TREAdmin` (same TRE_DATA_DIR)")
	}
	return nil
}

// startupWrites are the start-up's writes to the store: the firewall
// shared service, and the templates when TRE_REGISTER_TEMPLATES is on.
func (m *Main) startupWrites(ctx context.Context, reg *registry.Registry) error {
	if err := m.firewall.EnsureFirewallService(ctx, reg, m.Config.TREID); err != nil {
		return err
	}
	if m.Config.RegisterTemplates {
		return m.registerTemplates(ctx, reg)
	}
	return nil
}

// connectInBackground sets up the connections Run opens after the handler
// listens: Cosmos DB (then the start-up's writes), and Service Bus.
func (m *Main) connectInBackground(startup func(ctx context.Context) error) {
	m.conns = append(m.conns, &connection{name: "Cosmos DB", open: func(ctx context.Context) error {
		if err := m.cosmos.Connect(ctx); err != nil {
			return err
		}
		return startup(ctx)
	}})
	if m.serviceBus != nil {
		m.conns = append(m.conns, &connection{name: "Service Bus", open: m.serviceBus.Ping})
	}
}

// checkOf is the health check of a service: through its connection while
// it is not connected, live otherwise.
func (m *Main) checkOf(name string, live func(ctx context.Context) error) func(ctx context.Context) error {
	for _, c := range m.conns {
		if c.name == name {
			return c.check(live)
		}
	}
	return live
}

// services builds the control plane's services on the adapters. The
// firewall service is woken by lifecycle through a signal, and Run runs it.
func (m *Main) services(reg *registry.Registry) error {
	backend, err := m.firewallAdapter()
	if err != nil {
		return err
	}
	m.catalog = catalog.New(m.store, catalog.Options{Log: m.Log.With("component", "catalog")})
	m.audit = audit.New(m.store, audit.Options{Log: m.Log.With("component", "audit")})
	opts := lifecycle.Options{Log: m.Log.With("component", "lifecycle"), DeadLetters: m.queue, Atomic: m.atomic,
		Catalog: m.catalog, Outcomes: m.outcomes(), Records: m.audit}
	var signal *egress.Signal
	if backend != nil {
		signal = egress.NewSignal()
		opts.Firewall = signal
	}
	m.lifecycle = lifecycle.New(m.store, reg, m.secrets, m.queue, m.Config.withTimings(lifecycle.Config{
		TREID: m.Config.TREID, Location: m.Config.Location,
		AddressSpace: m.Config.AddressSpace, CoreAddressSpace: m.Config.CoreSpace,
		DispatchLimit: m.Config.DispatchLimit, PickupLimit: m.Config.PickupLimit,
		HeartbeatLimit: m.Config.HeartbeatLimit, CancelGrace: m.Config.CancelGrace,
		ClientID: workspaceClientID(m.Config), ScopeID: workspaceScopeID(m.Config),
	}), opts)
	m.firewall, err = egress.New(m.store, backend, m.lifecycle, signal, egress.Config{
		Firewall: m.Config.FirewallConfig(), Holder: leaseHolder(), BeatEvery: m.Config.HeartbeatLimit / 4,
	}, egress.Options{Log: m.Log.With("component", "firewall")})
	if err != nil {
		return err
	}
	m.roles = assignment.New(m.store, m.lifecycle, assignment.Options{Log: m.Log.With("component", "assignment")})
	m.roster = roster.New(m.store, nil)
	m.dead = deadletter.New(m.store, m.queue, m.lifecycle, deadletter.Options{Log: m.Log.With("component", "deadletter")})
	m.upgrades = m.upgradeService()
	if m.costs, err = m.costService(); err != nil {
		return err
	}
	m.airlock, m.blobs, err = m.airlockService()
	return err
}

// newAPI wires the services into the API.
func (m *Main) newAPI(auth tre.Authenticator, mode string, reg *registry.Registry) *api.API {
	// AzureTRE's service names in every mode; what stands in for them
	// locally is named apart.
	storeBackend, queueBackend, processorBackend := "", "", ""
	if !m.Config.Azure() {
		storeBackend, queueBackend = "SQLite (embedded configuration store)", "SQLite (embedded queues)"
	}
	if m.Config.LocalProcessor {
		processorBackend = "in-process Resource Processor (local runner)"
	}
	health := []api.HealthCheck{
		{Name: "Cosmos DB", Check: m.checkOf("Cosmos DB", m.store.Ping), Backend: storeBackend},
		{Name: "Service Bus", Check: m.checkOf("Service Bus", m.queue.Ping), Backend: queueBackend},
		{Name: "Resource Processor", Check: func(ctx context.Context) error {
			return m.roster.Health(ctx, 3*m.Config.AgentHeartbeat+5*time.Second)
		}, Backend: processorBackend},
	}
	if m.blobs != nil {
		health = append(health, api.HealthCheck{Name: "Airlock Storage", Check: airlockHealth(m.blobs), Additional: true})
	}
	return &api.API{
		Log:          m.Log,
		Auth:         auth,
		Registry:     reg,
		Resources:    m.lifecycle,
		Operations:   m.lifecycle,
		Triggers:     m.lifecycle,
		Assignments:  m.roles,
		Agents:       m.roster,
		DeadLetters:  m.dead,
		Firewall:     m.firewall,
		Costs:        m.costs,
		Catalogs:     m.catalog,
		Audit:        m.audit,
		Upgrades:     m.upgrades,
		Airlock:      m.airlock,
		MaxBodyBytes: m.Config.MaxBodyBytes,
		TriggerKey:   m.trigger,
		Tracer:       m.telemetry.Tracer("github.com/tre-go/tre/internal/api"),
		// Half the host's functionTimeout: the other half is the work's.
		TriggerRetry: api.TriggerRetry{Budget: m.Config.FunctionTimeout / 2},
		TimerBudget:  m.Config.FunctionTimeout / 2,
		Health:       health,
		Metadata: api.Metadata{
			APIVersion: version, APIClientID: m.Config.APIClientID, AADTenantID: m.Config.TenantID, AuthMode: mode,
			APIRootScope: rootScope(m.Config),
		},
	}
}

// workspaceScopeID is the scope_id of workspaces: the scope AzureTRE's
// clients ask a token for to call this API about a workspace (this API's
// app registration, or the dev issuer's audience).
func workspaceScopeID(c Config) string {
	if c.DevAuth() {
		return auth.DevAudience
	}
	return "api://" + c.APIClientID
}

// workspaceClientID is the client_id of workspaces created without one.
func workspaceClientID(c Config) string {
	if c.DevAuth() {
		return strings.TrimPrefix(auth.DevAudience, "api://")
	}
	return c.APIClientID
}

func rootScope(c Config) string {
	if c.DevAuth() {
		return auth.DevAudience + "/user_impersonation"
	}
	return "api://" + c.APIClientID + "/user_impersonation"
}

func (m *Main) validator() (*auth.Validator, string, error) {
	if m.Config.DevAuth() {
		// Generating the key (first start) is not start-up's to wait for.
		keys := auth.LoadDevKeysInBackground(m.Config.DataDir)
		m.devKeys = keys
		m.closers = append(m.closers, func() error {
			_, err := keys.Wait(context.Background())
			return err
		})
		aud := m.Config.APIAudience
		if aud == "" {
			aud = auth.DevAudience
		}
		return &auth.Validator{Issuer: auth.DevIssuer, Audience: aud, Keys: keys, Leeway: time.Minute, Cache: &auth.TokenCache{}}, "dev", nil
	}
	issuer := auth.EntraIssuer(m.Config.AuthorityURL, m.Config.TenantID)
	keys := auth.NewOIDCKeys(issuer, auth.OIDCOptions{
		Client: &http.Client{Timeout: 15 * time.Second},
		Log:    m.Log.With("component", "auth"),
	})
	m.closers = append(m.closers, keys.Close)
	return &auth.Validator{Issuer: issuer, Audience: m.Config.APIAudience, Keys: keys, Leeway: time.Minute, Cache: &auth.TokenCache{}}, "entra", nil
}

func (m *Main) connectBackoff() time.Duration {
	if m.ConnectBackoff <= 0 {
		return time.Second
	}
	return m.ConnectBackoff
}

func (m *Main) connNames() []string {
	var names []string
	for _, c := range m.conns {
		names = append(names, c.name)
	}
	return names
}

// URL is the base URL the handler listens on.
func (m *Main) URL() string { return "http://" + m.ln.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: the in-process
// processor drains its running bundles while the API still serves (their
// final statuses are ingested), then the API stops taking connections and
// in-flight requests get ShutdownTimeout to finish.
func (m *Main) Run(ctx context.Context) error {
	m.server = m.newServer()
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.ln) }()
	// The firewall service stops after the API, as the requests it may
	// serve until then signal it.
	fwCtx, stopFirewall := context.WithCancel(context.WithoutCancel(ctx))
	fwDone := make(chan struct{})
	go func() { defer close(fwDone); _ = m.firewall.Run(fwCtx) }()
	defer func() { stopFirewall(); <-fwDone }()
	// Bulk upgrades go on where they were; they stop with the firewall.
	upDone := make(chan struct{})
	go func() { defer close(upDone); _ = m.upgrades.Run(fwCtx) }()
	defer func() { stopFirewall(); <-upDone }()
	var conns sync.WaitGroup
	for _, c := range m.conns {
		conns.Add(1)
		go func() {
			defer conns.Done()
			c.run(ctx, m.Log.With("component", "connect"), m.connectBackoff(), cmp.Or(m.ConnectTimeout, 30*time.Second))
		}()
	}
	defer conns.Wait()
	localCtx, stopLocal := context.WithCancel(ctx)
	var local sync.WaitGroup
	if m.agent != nil {
		local.Add(1)
		go func() { defer local.Done(); _ = m.agent.Run(localCtx) }()
	}
	if m.host != nil {
		m.host.HandlerURL = m.URL()
		local.Add(1)
		go func() { defer local.Done(); _ = m.host.Run(localCtx) }()
	}
	if m.notify != nil {
		local.Add(1)
		go func() { defer local.Done(); _ = m.notify.Run(localCtx) }()
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if m.agent != nil {
		m.Log.Info("draining the local processor", "timeout", m.Config.DrainTimeout.String())
	}
	stopLocal()
	local.Wait()
	if serveErr != nil {
		return serveErr
	}
	m.Log.Info("shutting down", "timeout", m.Config.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if err := m.server.Shutdown(sctx); err != nil {
		m.Log.Warn("shutdown deadline passed; closing open connections", "error", err.Error())
		m.server.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	m.Log.Info("stopped")
	return nil
}

// Close releases the adapters, last opened first.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		if err := m.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	m.closers = nil
	return errors.Join(errs...)
}

// token prints a dev token. It refuses when the handler is configured for
// Entra ID: dev tokens would not be accepted there, and must not exist.
func token(args []string, lookup func(string) (string, bool), stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	roles := fs.String("roles", "", "comma-separated TRE roles: TREAdmin, TREUser (empty for none)")
	user := fs.String("user", "dev-user", "user name; the user id (oid) is derived from it")
	ttl := fs.Duration("ttl", 8*time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("token: %w (usage: tre-handler token --roles TREAdmin [--user NAME] [--ttl 8h])", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		return err
	}
	if !cfg.DevAuth() {
		return errors.New("token: the dev issuer is not in use (AAD_TENANT_ID is set): get a token from Entra ID instead")
	}
	var list []string
	for _, r := range strings.Split(*roles, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if r != string(tre.RoleTREAdmin) && r != string(tre.RoleTREUser) {
			return fmt.Errorf("token: unknown role %q: tokens carry TRE roles (TREAdmin, TREUser); workspace roles are assigned through /api/workspaces/{id}/users", r)
		}
		list = append(list, r)
	}
	if strings.TrimSpace(*user) == "" || *ttl <= 0 {
		return errors.New("token: --user must not be empty and --ttl must be positive")
	}
	keys, err := auth.LoadDevKeys(cfg.DataDir)
	if err != nil {
		return err
	}
	tok, err := keys.Mint(*user, list, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
