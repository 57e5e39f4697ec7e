package main

import (
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/tre"
)

// settings is every environment variable the handler reads. The README's
// settings table and local.settings.sample.json are checked against it.
var settings = []config.Setting{
	{Name: "FUNCTIONS_CUSTOMHANDLER_PORT", Default: "8080", Description: "Port to listen on. The Functions host sets it; 8080 when run alone."},
	{Name: "TRE_LISTEN_ADDRESS", Default: "127.0.0.1", Description: "Address to listen on. The Functions host connects over loopback; set 0.0.0.0 only behind your own proxy."},
	{Name: "TRE_DATA_DIR", Default: ".tre", Description: "Directory of the embedded store (SQLite file) and the dev issuer's key, relative to the working directory."},
	{Name: "LOG_LEVEL", Default: "info", Description: "debug, info, warn or error. Logs are JSON lines on stdout."},
	{Name: "TRE_ID", Default: "local", Description: "Identifier of this TRE, passed to bundles as tre_id."},
	{Name: "RESOURCE_LOCATION", Default: "local", Description: "Azure region of the TRE, passed to bundles as azure_location."},
	{Name: "TRE_ADDRESS_SPACE", Default: "10.0.0.0/12", Description: "IPv4 range workspaces get their address spaces from."},
	{Name: "CORE_ADDRESS_SPACE", Default: "10.1.0.0/22", Description: "Part of TRE_ADDRESS_SPACE taken by the core network; never given to a workspace."},
	{Name: "TRE_SWEEP_INTERVAL", Default: "10s", Description: "Local mode: how often the dispatch-redelivery timer runs (recover interrupted operations, re-send undispatched steps). In Azure its function.json schedule decides."},
	{Name: "TRE_WATCHDOG_INTERVAL", Default: "30s", Description: "Local mode: how often the operations-watchdog timer runs. In Azure its function.json schedule decides."},
	{Name: "TRE_DISPATCH_LIMIT", Default: "15m", Description: "Watchdog: a step that could not be sent for this long fails."},
	{Name: "TRE_PICKUP_LIMIT", Default: "1h", Description: "Watchdog: a step sent but not picked up by a Resource Processor within this fails (and a processor will not start it later)."},
	{Name: "TRE_HEARTBEAT_LIMIT", Default: "10m", Description: "Watchdog: a running step whose processor has not reported for this long fails."},
	{Name: "TRE_CANCEL_GRACE", Default: "10m", Description: "Watchdog: a cancelled step no processor confirmed within this fails."},
	{Name: "TRE_TEMPLATES_DIR", Default: "templates", Description: "Local mode: the bundles the local runner runs; their templates are registered at start (TRE_REGISTER_TEMPLATES)."},
	{Name: "TRE_REGISTER_TEMPLATES", Default: "true", Description: "Local mode: register every template of TRE_TEMPLATES_DIR not yet registered, at start."},
	{Name: "TRE_PROCESSOR_WORKERS", Default: "4", Description: "Local mode: workers of the in-process Resource Processor (requests running at once)."},
	{Name: "TRE_PROCESSOR_HEARTBEAT", Default: "5s", Description: "Local mode: how often a running bundle reports progress."},
	{Name: "TRE_DRAIN_TIMEOUT", Default: "30s", Description: "Local mode: how long shutdown lets running bundles finish before cancelling them (their requests come back)."},
	{Name: "TRE_QUEUE_LOCK_DURATION", Default: "60s", Description: "Local mode: session lock of the embedded queue; a dead processor's request comes back after it."},
	{Name: "TRE_QUEUE_MAX_DELIVERY", Default: "10", Description: "Local mode: deliveries of a message before the embedded queue dead-letters it (Service Bus's default)."},
	{Name: "TRE_MAX_BODY_BYTES", Default: "1048576", Description: "Largest request body accepted (bytes); larger bodies get 413."},
	{Name: "TRE_SHUTDOWN_TIMEOUT", Default: "20s", Description: "How long SIGTERM waits for in-flight requests before closing."},
	{Name: "AAD_TENANT_ID", Default: "", Description: "Entra ID tenant. When set, tokens are validated against Entra ID; when empty, the local dev issuer is used."},
	{Name: "AAD_AUTHORITY_URL", Default: "https://login.microsoftonline.com", Description: "Entra ID authority (sovereign clouds differ)."},
	{Name: "API_CLIENT_ID", Default: "", Description: "Application (client) id of the API's app registration. Required with AAD_TENANT_ID."},
	{Name: "API_AUDIENCE", Default: "", Description: "Audience tokens must carry. Defaults to API_CLIENT_ID (Entra) or api://tre-dev (dev issuer)."},
}

// Config is the handler's validated configuration.
type Config struct {
	ListenAddress   string
	Port            int
	DataDir         string
	LogLevel        string
	TREID           string
	Location        string
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	AddressSpace    netip.Prefix
	CoreSpace       netip.Prefix
	SweepInterval   time.Duration

	WatchdogInterval time.Duration
	DispatchLimit    time.Duration
	PickupLimit      time.Duration
	HeartbeatLimit   time.Duration
	CancelGrace      time.Duration

	// Local mode.
	TemplatesDir      string
	RegisterTemplates bool
	Workers           int
	Heartbeat         time.Duration
	DrainTimeout      time.Duration
	LockDuration      time.Duration
	MaxDelivery       int

	// Entra ID; empty TenantID selects the dev issuer.
	TenantID     string
	AuthorityURL string
	APIClientID  string
	APIAudience  string
}

// DevAuth reports whether tokens come from the local dev issuer.
func (c Config) DevAuth() bool { return c.TenantID == "" }

// loadConfig reads and validates every setting, reporting all problems at once.
func loadConfig(lookup func(string) (string, bool)) (Config, error) {
	e := config.New(settings, lookup)
	c := Config{
		Port:            e.Int("FUNCTIONS_CUSTOMHANDLER_PORT", 0, 65535),
		ListenAddress:   e.String("TRE_LISTEN_ADDRESS"),
		DataDir:         e.String("TRE_DATA_DIR"),
		LogLevel:        e.OneOf("LOG_LEVEL", "debug", "info", "warn", "error"),
		TREID:           e.String("TRE_ID"),
		Location:        e.String("RESOURCE_LOCATION"),
		MaxBodyBytes:    int64(e.Int("TRE_MAX_BODY_BYTES", 1024, 64<<20)),
		ShutdownTimeout: e.Duration("TRE_SHUTDOWN_TIMEOUT", 0, 10*time.Minute),
		SweepInterval:   e.Duration("TRE_SWEEP_INTERVAL", time.Second, time.Hour),

		WatchdogInterval: e.Duration("TRE_WATCHDOG_INTERVAL", time.Second, time.Hour),
		DispatchLimit:    e.Duration("TRE_DISPATCH_LIMIT", time.Second, 24*time.Hour),
		PickupLimit:      e.Duration("TRE_PICKUP_LIMIT", time.Second, 7*24*time.Hour),
		HeartbeatLimit:   e.Duration("TRE_HEARTBEAT_LIMIT", time.Second, 24*time.Hour),
		CancelGrace:      e.Duration("TRE_CANCEL_GRACE", time.Second, 24*time.Hour),

		TemplatesDir:      e.String("TRE_TEMPLATES_DIR"),
		RegisterTemplates: e.Bool("TRE_REGISTER_TEMPLATES"),
		Workers:           e.Int("TRE_PROCESSOR_WORKERS", 1, 64),
		Heartbeat:         e.Duration("TRE_PROCESSOR_HEARTBEAT", 100*time.Millisecond, time.Hour),
		DrainTimeout:      e.Duration("TRE_DRAIN_TIMEOUT", 0, time.Hour),
		LockDuration:      e.Duration("TRE_QUEUE_LOCK_DURATION", time.Second, 5*time.Minute),
		MaxDelivery:       e.Int("TRE_QUEUE_MAX_DELIVERY", 1, 100),
		TenantID:          e.String("AAD_TENANT_ID"),
		AuthorityURL:      strings.TrimRight(e.String("AAD_AUTHORITY_URL"), "/"),
		APIClientID:       e.String("API_CLIENT_ID"),
		APIAudience:       e.String("API_AUDIENCE"),
	}
	c.AddressSpace = prefixSetting(e, "TRE_ADDRESS_SPACE")
	c.CoreSpace = prefixSetting(e, "CORE_ADDRESS_SPACE")
	if c.AddressSpace.IsValid() && c.CoreSpace.IsValid() && !c.AddressSpace.Contains(c.CoreSpace.Addr()) {
		e.Problemf("CORE_ADDRESS_SPACE: %s is not inside TRE_ADDRESS_SPACE %s", c.CoreSpace, c.AddressSpace)
	}
	if abs, err := filepath.Abs(c.TemplatesDir); err == nil {
		c.TemplatesDir = abs
	}
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	} else {
		e.Problemf("TRE_DATA_DIR: %q cannot be resolved: %s", c.DataDir, err)
	}
	if !c.DevAuth() {
		if c.APIClientID == "" {
			e.Problemf("API_CLIENT_ID: required when AAD_TENANT_ID is set (the API's app registration)")
		}
		if !strings.HasPrefix(c.AuthorityURL, "https://") {
			e.Problemf("AAD_AUTHORITY_URL: %q must be an https URL", c.AuthorityURL)
		}
		if c.APIAudience == "" {
			c.APIAudience = c.APIClientID
		}
	}
	return c, e.Err()
}

func prefixSetting(e *config.Env, name string) netip.Prefix {
	raw := e.String(name)
	p, err := cidr.Parse(raw)
	if err != nil {
		e.Problemf("%s: %s", name, tre.ErrorMessage(err))
	}
	return p
}
