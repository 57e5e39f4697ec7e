// Command tre-processor is the Resource Processor agent: it takes requests
// from the request queue, runs each one's bundle action (with porter, or
// the local runner for development) and reports progress and results on
// the status queue. On the VM it runs under systemd (see tre-processor.service
// in this directory); SIGTERM drains running bundles (RP_DRAIN_TIMEOUT).
//
//	tre-processor             run the agent
//	tre-processor settings    print the settings table (Markdown)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tre-go/tre/internal/azcred"
	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/keyvault"
	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/processor"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/servicebus"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), environ []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	var err error
	switch cmd {
	case "", "run":
		err = serve(ctx, lookup, environ, stdout)
	case "settings":
		fmt.Fprint(stdout, config.Markdown(settings))
	case "version":
		fmt.Fprintln(stdout, version)
	default:
		err = fmt.Errorf("unknown command %q (usage: tre-processor [run|settings|version])", cmd)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tre-processor: %s\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, lookup func(string) (string, bool), environ []string, stdout io.Writer) error {
	cfg, err := loadConfig(lookup, environ)
	if err != nil {
		return err
	}
	m := &Main{Config: cfg, Log: newLogger(stdout, cfg.LogLevel, cfg.AgentID)}
	if err := m.Open(ctx); err != nil {
		return err
	}
	err = m.Run(ctx)
	return errors.Join(err, m.Close())
}

func newLogger(w io.Writer, level, agentID string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", "tre-processor", "agent", agentID)
}

// Main is the running agent: its health endpoint, adapters, bundle runner
// and workers. Tests run the real Main with a temporary data directory and
// the health endpoint on port 0.
type Main struct {
	Config Config
	Log    *slog.Logger

	closers []func() error // closed in reverse order
	cred    azcore.TokenCredential
	queue   tre.Queue
	secrets tre.Secrets
	agent   *processor.Agent
	ln      net.Listener
	serving bool // Run has handed ln to the health server, which closes it
}

// Open listens for health probes first, so that a bind error is
// immediate, then opens the adapters and builds the agent. On error what
// was opened is closed.
func (m *Main) Open(ctx context.Context) error {
	if err := m.open(ctx); err != nil {
		return errors.Join(err, m.Close())
	}
	return nil
}

func (m *Main) open(ctx context.Context) error {
	ln, err := net.Listen("tcp", m.Config.HealthAddress)
	if err != nil {
		return fmt.Errorf("health endpoint on %s: %w", m.Config.HealthAddress, err)
	}
	m.ln = ln
	m.closers = append(m.closers, func() error {
		if m.serving {
			return nil
		}
		return ln.Close()
	})
	if err := m.openAdapters(ctx); err != nil {
		return err
	}
	runner, err := newRunner(ctx, m.Config, m.Log)
	if err != nil {
		return err
	}
	m.agent = processor.New(m.queue, runner, m.secrets, processor.Config{
		AgentID: m.Config.AgentID, Workers: m.Config.Workers, HeartbeatEvery: m.Config.Heartbeat, RenewEvery: m.Config.RenewEvery,
		DrainTimeout: m.Config.DrainTimeout, TransientRetries: m.Config.TransientRetries, TransientBackoff: m.Config.TransientBackoff,
		AgentHeartbeatEvery: m.Config.AgentHeartbeat, Version: version,
	}, m.Log)
	queueName := "sqlite"
	if m.Config.ServiceBusNS != "" || m.Config.ServiceBusConn != "" {
		queueName = "servicebus"
	}
	m.Log.Info("processor ready", "version", version, "runner", m.Config.Runner, "queue", queueName, "data_dir", m.Config.DataDir,
		"workers", m.Config.Workers, "health", m.HealthURL())
	return nil
}

// HealthURL is the URL of the health endpoint.
func (m *Main) HealthURL() string { return "http://" + m.ln.Addr().String() + "/health" }

// Run runs the workers and serves health probes until ctx ends, then
// drains (running bundles get DrainTimeout; health probes are still
// answered meanwhile) and shuts the health endpoint down. If the health
// endpoint fails, the agent stops too: the VM's probe would find it dead.
// It returns nil on a clean stop, once everything it started has ended.
func (m *Main) Run(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	health := &http.Server{Handler: healthHandler(m.agent), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn)}
	m.serving = true
	var serveErr error
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := health.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("health endpoint: %w", err)
			stop()
		}
	}()
	err := m.agent.Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := health.Shutdown(sctx); serr != nil {
		m.Log.Warn("health endpoint shutdown deadline passed; closing its connections", "error", serr.Error())
		_ = health.Close()
	}
	<-served
	return errors.Join(serveErr, err)
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

// openAdapters opens the queues (Service Bus when configured, else the
// embedded queue shared with tre-handler) and the secret store (Key Vault
// when configured, else the secret file).
func (m *Main) openAdapters(ctx context.Context) error {
	q, err := m.openQueue(ctx)
	if err != nil {
		return err
	}
	m.queue = q
	m.closers = append(m.closers, q.Close)
	if m.Config.KeyVaultURL != "" {
		c, err := m.credential()
		if err != nil {
			return err
		}
		if m.secrets, err = keyvault.New(m.Config.KeyVaultURL, c, nil); err != nil {
			return err
		}
	} else if m.secrets, err = secretfile.Open(m.Config.DataDir); err != nil {
		return err
	}
	if c, ok := m.secrets.(io.Closer); ok {
		m.closers = append(m.closers, c.Close)
	}
	return nil
}

func (m *Main) openQueue(ctx context.Context) (tre.Queue, error) {
	switch {
	case m.Config.ServiceBusConn != "":
		return servicebus.NewFromConnectionString(m.Config.ServiceBusConn, nil)
	case m.Config.ServiceBusNS != "":
		c, err := m.credential()
		if err != nil {
			return nil, err
		}
		return servicebus.New(m.Config.ServiceBusNS, c, nil)
	}
	return sqlite.OpenQueue(ctx, m.Config.DataDir, sqlite.QueueOptions{LockDuration: m.Config.LockDuration})
}

// credential is the agent's Azure identity (VMSS_MSI_ID), made once when
// an adapter first needs it.
func (m *Main) credential() (azcore.TokenCredential, error) {
	if m.cred == nil {
		cred, err := azcred.New(m.Config.MSIClientID)
		if err != nil {
			return nil, err
		}
		m.cred = cred
	}
	return m.cred, nil
}

// healthHandler answers 200 while a worker is alive, 503 otherwise (the
// VM's health probe, and systemd's watchdog through curl if configured).
func healthHandler(agent *processor.Agent) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := agent.Healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"Not OK","message":%q}`+"\n", err.Error())
			return
		}
		fmt.Fprintln(w, `{"status":"OK","message":""}`)
	})
}

func newRunner(ctx context.Context, cfg Config, log *slog.Logger) (tre.Runner, error) {
	if cfg.Runner == "local" {
		return localrunner.New(localrunner.Config{
			TemplatesDir: cfg.TemplatesDir,
			StateDir:     filepath.Join(cfg.DataDir, "local-runner"),
			WorkDir:      filepath.Join(cfg.DataDir, "work"),
		})
	}
	return newPorterRunner(ctx, cfg, log)
}
