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
	{Name: "TRE_SWEEP_INTERVAL", Default: "10s", Description: "How often the handler recovers interrupted operations and re-sends undispatched steps (locally; in Azure a timer function does it)."},
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
		TenantID:        e.String("AAD_TENANT_ID"),
		AuthorityURL:    strings.TrimRight(e.String("AAD_AUTHORITY_URL"), "/"),
		APIClientID:     e.String("API_CLIENT_ID"),
		APIAudience:     e.String("API_AUDIENCE"),
	}
	c.AddressSpace = prefixSetting(e, "TRE_ADDRESS_SPACE")
	c.CoreSpace = prefixSetting(e, "CORE_ADDRESS_SPACE")
	if c.AddressSpace.IsValid() && c.CoreSpace.IsValid() && !c.AddressSpace.Contains(c.CoreSpace.Addr()) {
		e.Problemf("CORE_ADDRESS_SPACE: %s is not inside TRE_ADDRESS_SPACE %s", c.CoreSpace, c.AddressSpace)
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
