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
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/keyvault"
	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/porter"
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
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level})).With("service", "tre-processor", "agent", cfg.AgentID)

	queue, secrets, err := openAdapters(ctx, cfg)
	if err != nil {
		return err
	}
	defer queue.Close()
	runner, err := newRunner(cfg, lookup, log)
	if err != nil {
		return err
	}
	agent := processor.New(queue, runner, secrets, processor.Config{
		AgentID: cfg.AgentID, Workers: cfg.Workers, HeartbeatEvery: cfg.Heartbeat, RenewEvery: cfg.RenewEvery,
		DrainTimeout: cfg.DrainTimeout, TransientRetries: cfg.TransientRetries, TransientBackoff: cfg.TransientBackoff,
		AgentHeartbeatEvery: cfg.AgentHeartbeat, Version: version,
	}, log)

	ln, err := net.Listen("tcp", cfg.HealthAddress)
	if err != nil {
		return fmt.Errorf("health endpoint on %s: %w", cfg.HealthAddress, err)
	}
	health := &http.Server{Handler: healthHandler(agent), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = health.Serve(ln) }()
	queueName := "sqlite"
	if cfg.ServiceBusNS != "" || cfg.ServiceBusConn != "" {
		queueName = "servicebus"
	}
	log.Info("processor ready", "version", version, "runner", cfg.Runner, "queue", queueName, "data_dir", cfg.DataDir,
		"workers", cfg.Workers, "health", "http://"+ln.Addr().String()+"/health")

	err = agent.Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = health.Shutdown(sctx)
	return err
}

// openAdapters opens the queues (Service Bus when configured, else the
// embedded queue shared with tre-handler) and the secret store (Key Vault
// when configured, else the secret file).
func openAdapters(ctx context.Context, cfg Config) (tre.Queue, tre.Secrets, error) {
	var cred azcore.TokenCredential
	credential := func() (azcore.TokenCredential, error) {
		if cred != nil {
			return cred, nil
		}
		var err error
		if cfg.MSIClientID != "" {
			cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(cfg.MSIClientID)})
		} else {
			cred, err = azidentity.NewDefaultAzureCredential(nil)
		}
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		return cred, nil
	}
	var queue tre.Queue
	switch {
	case cfg.ServiceBusConn != "":
		q, err := servicebus.NewFromConnectionString(cfg.ServiceBusConn, nil)
		if err != nil {
			return nil, nil, err
		}
		queue = q
	case cfg.ServiceBusNS != "":
		c, err := credential()
		if err != nil {
			return nil, nil, err
		}
		q, err := servicebus.New(cfg.ServiceBusNS, c, nil)
		if err != nil {
			return nil, nil, err
		}
		queue = q
	default:
		q, err := sqlite.OpenQueue(ctx, cfg.DataDir, sqlite.QueueOptions{})
		if err != nil {
			return nil, nil, err
		}
		queue = q
	}
	if cfg.KeyVaultURL != "" {
		c, err := credential()
		if err != nil {
			queue.Close()
			return nil, nil, err
		}
		kv, err := keyvault.New(cfg.KeyVaultURL, c, nil)
		if err != nil {
			queue.Close()
			return nil, nil, err
		}
		return queue, kv, nil
	}
	s, err := secretfile.Open(cfg.DataDir)
	if err != nil {
		queue.Close()
		return nil, nil, err
	}
	return queue, s, nil
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

func newRunner(cfg Config, lookup func(string) (string, bool), log *slog.Logger) (tre.Runner, error) {
	if cfg.Runner == "local" {
		return localrunner.New(localrunner.Config{
			TemplatesDir: cfg.TemplatesDir,
			StateDir:     filepath.Join(cfg.DataDir, "local-runner"),
			WorkDir:      filepath.Join(cfg.DataDir, "work"),
		})
	}
	var prelude [][]string
	if cfg.MSIClientID != "" {
		prelude = append(prelude,
			[]string{"az", "cloud", "set", "--name", cfg.AzureEnvironment},
			[]string{"az", "login", "--identity", "--client-id", cfg.MSIClientID},
			[]string{"az", "acr", "login", "--name", acrName(cfg.Registry)},
		)
	}
	r, err := porter.New(porter.Config{
		Porter: cfg.Porter, Registry: cfg.Registry, Env: cfg.porterEnv(lookup),
		AgentParameters: map[string]string{
			"tfstate_container_name":       cfg.StateContainer,
			"tfstate_resource_group_name":  cfg.StateRG,
			"tfstate_storage_account_name": cfg.StateAccount,
			"arm_use_msi":                  boolString(cfg.ARMUseMSI),
			"arm_environment":              cfg.ARMEnvironment,
			"azure_environment":            cfg.AzureEnvironment,
			"key_vault_url":                cfg.KeyVaultURL,
			"arm_subscription_id":          cfg.SubscriptionID,
			"arm_client_id":                cfg.ARMClientID,
			"arm_tenant_id":                cfg.TenantID,
			"vmss_msi_id":                  cfg.MSIClientID,
		},
		BundleParameters: cfg.BundleParameters,
		Prelude:          prelude,
		Logger:           log.With("component", "porter"),
	})
	if err != nil {
		return nil, errors.Join(errors.New("porter runner"), err)
	}
	return r, nil
}

// acrName is the registry's short name (the first label of its host).
func acrName(registry string) string {
	for i := 0; i < len(registry); i++ {
		if registry[i] == '.' {
			return registry[:i]
		}
	}
	return registry
}
