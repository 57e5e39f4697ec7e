package main

import (
	"errors"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/armfirewall"
	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/telemetry"
	"github.com/tre-go/tre/internal/tre"
)

// settings is every environment variable the handler reads. The README's
// settings table and local.settings.sample.json are checked against it.
var settings = []config.Setting{
	{Name: "FUNCTIONS_CUSTOMHANDLER_PORT", Default: "8080", Description: "Port to listen on. The Functions host sets it; 8080 when run alone."},
	{Name: "TRE_LISTEN_ADDRESS", Default: "127.0.0.1", Description: "Address to listen on. The Functions host connects over loopback; set 0.0.0.0 only behind your own proxy, with TRE_TRIGGER_KEY and Entra ID (start-up refuses it otherwise: README, Security)."},
	{Name: "TRE_TRIGGER_KEY", Default: "", Description: "Shared secret the trigger routes (/deployment-status, the timers) require in the X-TRE-Trigger-Key header, at least 32 characters. Required with a non-loopback TRE_LISTEN_ADDRESS. Default: a random key per process when the local stand-in for the Functions host runs (it sends it), else none (behind the Functions host, only loopback peers reach them). Never set it behind the Functions host: the host cannot send it.", Secret: true},
	{Name: "TRE_DATA_DIR", Default: ".tre", Description: "Directory of the embedded store (SQLite file) and the dev issuer's key, relative to the working directory."},
	{Name: "LOG_LEVEL", Default: "info", Description: "debug, info, warn or error. Logs are JSON lines on stdout."},
	{Name: "TRE_ID", Default: "local", Description: "Identifier of this TRE, passed to bundles as tre_id."},
	{Name: "RESOURCE_LOCATION", Default: "local", Description: "Azure region of the TRE, passed to bundles as azure_location."},
	{Name: "TRE_ADDRESS_SPACE", Default: "10.0.0.0/12", Description: "IPv4 range workspaces get their address spaces from."},
	{Name: "CORE_ADDRESS_SPACE", Default: "10.1.0.0/22", Description: "Part of TRE_ADDRESS_SPACE taken by the core network; never given to a workspace."},
	{Name: "TRE_SWEEP_INTERVAL", Default: "10s", Description: "Local mode: how often the dispatch-redelivery timer runs (recover interrupted operations, re-send undispatched steps). In Azure its function.json schedule decides."},
	{Name: "TRE_WATCHDOG_INTERVAL", Default: "30s", Description: "Local mode: how often the operations-watchdog timer runs. In Azure its function.json schedule decides."},
	{Name: "TRE_DISPATCH_LIMIT", Default: "15m", Description: "Watchdog: a step that could not be sent for this long fails. At least 2 × (TRE_QUEUE_LOCK_DURATION + TRE_SWEEP_INTERVAL), so that redelivery gets two tries first."},
	{Name: "TRE_PICKUP_LIMIT", Default: "1h", Description: "Watchdog: a step sent but not picked up by a Resource Processor within this fails (and a processor will not start it later)."},
	{Name: "TRE_HEARTBEAT_LIMIT", Default: "10m", Description: "Watchdog: a running step whose processor has not reported for this long fails."},
	{Name: "TRE_CANCEL_GRACE", Default: "10m", Description: "Watchdog: a cancelled step no processor confirmed within this fails."},
	{Name: "TRE_TEMPLATES_DIR", Default: "templates", Description: "Local mode: the bundles the local runner runs; their templates are registered at start (TRE_REGISTER_TEMPLATES)."},
	{Name: "TRE_REGISTER_TEMPLATES", Default: "", Description: "Register every template of TRE_TEMPLATES_DIR not yet registered, at start. Default: true with the embedded adapters, false with the Azure ones (scripts/register-bundle.sh registers published bundles)."},
	{Name: "TRE_PROCESSOR_WORKERS", Default: "4", Description: "Local mode: workers of the in-process Resource Processor (requests running at once)."},
	{Name: "TRE_PROCESSOR_HEARTBEAT", Default: "5s", Description: "Local mode: how often a running bundle reports progress."},
	{Name: "TRE_AGENT_HEARTBEAT", Default: "30s", Description: "How often Resource Processor agents say they are alive (set the agents' RP_AGENT_HEARTBEAT_INTERVAL to the same): /api/health reports the processor Not OK when none has for 3 intervals."},
	{Name: "TRE_DRAIN_TIMEOUT", Default: "30s", Description: "Local mode: how long shutdown lets running bundles finish before cancelling them (their requests come back)."},
	{Name: "TRE_QUEUE_LOCK_DURATION", Default: "60s", Description: "Session lock of the queues: locally the embedded queue's (a dead processor's request comes back after it); in Azure the queues' lock_duration (PT1M), which the default matches. Every mutation is bounded by it; an operation interrupted by a crash is recovered once twice this old, and a step not sent is re-sent this long after it was committed."},
	{Name: "TRE_QUEUE_MAX_DELIVERY", Default: "10", Description: "Local mode: deliveries of a message before the embedded queue dead-letters it (Service Bus's default)."},
	{Name: "TRE_MAX_BODY_BYTES", Default: "1048576", Description: "Largest request body accepted (bytes); larger bodies get 413."},
	{Name: "TRE_SHUTDOWN_TIMEOUT", Default: "20s", Description: "How long SIGTERM waits for in-flight requests before closing."},
	{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Default: "", Description: "OpenTelemetry: the OTLP/HTTP endpoint traces are exported to (http://collector:4318; they are posted to /v1/traces there): a span per request and invocation, with the invocation id and the TRE operation id, and a span per call to Cosmos DB, Service Bus, Key Vault and ARM. Empty: no traces (logs only). docs/monitoring.md says how to route them to Application Insights."},
	{Name: "OTEL_EXPORTER_OTLP_HEADERS", Default: "", Description: "OpenTelemetry: headers sent with every export, key=value pairs separated by commas (an ingestion key, say).", Secret: true},
	{Name: "OTEL_SERVICE_NAME", Default: "tre-handler", Description: "OpenTelemetry: the service name of the traces (cloud_RoleName in Application Insights)."},
	{Name: "TRE_FUNCTION_TIMEOUT", Default: "5m", Description: "The Functions host's functionTimeout (host.json; keep them equal). A Service Bus trigger whose store or processor is unavailable retries within its invocation, with backoff, for half of it before failing (the host redelivers at once, and dead-letters after the queue's max delivery count); a firewall-reconcile invocation stops its work at half of it and the next one resumes."},
	{Name: "STATE_STORE_ENDPOINT", Default: "", Description: "Cosmos DB account endpoint (https://<account>.documents.azure.com:443/). With SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE (or SERVICE_BUS_CONNECTION_STRING) it selects the Azure adapters; without both, the embedded SQLite store and queue are used."},
	{Name: "STATE_STORE_KEY", Default: "", Description: "Cosmos DB account key. Empty: the managed identity (it needs the Cosmos DB Built-in Data Contributor role). A key is for tests against a local Cosmos-protocol server.", Secret: true},
	{Name: "STATE_STORE_DATABASE", Default: "AzureTRE", Description: "Cosmos DB database; it and its containers are created at start if absent."},
	{Name: "STATE_STORE_SSL_VERIFY", Default: "true", Description: "Verify the Cosmos DB endpoint's TLS certificate. false only for the local Cosmos-protocol server's self-signed one."},
	{Name: "SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE", Default: "", Description: "Service Bus namespace (<name>.servicebus.windows.net) of the workspacequeue and deploymentstatus queues, reached with the managed identity."},
	{Name: "SERVICE_BUS_CONNECTION_STRING", Default: "", Description: "Service Bus connection string instead of the managed identity: for tests against a local broker (UseDevelopmentEmulator=true).", Secret: true},
	{Name: "KEY_VAULT_URL", Default: "", Description: "Key Vault (https://<name>.vault.azure.net/) holding sensitive template properties. Required with the Azure adapters unless TRE_SECRET_STORE=file."},
	{Name: "TRE_SECRET_STORE", Default: "", Description: "keyvault or file (an encrypted file in TRE_DATA_DIR, for one machine). Default: keyvault when KEY_VAULT_URL is set, else file."},
	{Name: "MANAGED_IDENTITY_CLIENT_ID", Default: "", Description: "Client id of the user-assigned managed identity the handler uses for Cosmos DB, Service Bus and Key Vault. Empty: the default credential chain."},
	{Name: "TRE_LOCAL_PROCESSOR", Default: "", Description: "Run the Resource Processor agent (local runner) inside the handler. Default: true with the embedded adapters, false with the Azure ones."},
	{Name: "TRE_SIMULATE_BUNDLES", Default: "", Description: "Local mode: the local runner simulates the bundles it cannot run (steps of the terraform, az, arm, docker... mixins, or templates registered through the API without files in TRE_TEMPLATES_DIR): parameters are checked as Porter checks them, nothing is deployed, declared outputs get placeholder values and the step's message says it was simulated. Default: true with the embedded adapters; refused with the Azure ones."},
	{Name: "TRE_LOCAL_HOST", Default: "", Description: "Run the stand-in for the Functions host (delivers deploymentstatus and the timers to this handler over HTTP). Default: true with the embedded adapters, false with the Azure ones (the Functions host does it)."},
	{Name: "TRE_FIREWALL", Default: "", Description: "Where the firewall service writes egress rules: azure (the Azure Firewall Policy of TRE_FIREWALL_POLICY_ID), file (a JSON file standing in for the firewall, for running on one machine: nothing is enforced) or off (templates that declare egress cannot be installed). Default: azure when TRE_FIREWALL_POLICY_ID is set, file with the embedded adapters; required with the Azure adapters."},
	{Name: "TRE_FIREWALL_POLICY_ID", Default: "", Description: "ARM id of the Azure Firewall Policy (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/firewallPolicies/<name>); the identity must read the policy and write its rule collection groups (infra/ grants a custom role for exactly that)."},
	{Name: "TRE_FIREWALL_FILE", Default: "", Description: "TRE_FIREWALL=file: the JSON file of rule collection groups. Default: firewall.json in TRE_DATA_DIR."},
	{Name: "TRE_FIREWALL_GROUP_PREFIX", Default: "rcg-tre-", Description: "The firewall service manages only the rule collection groups whose names start with this; others (core infrastructure, an admin's own) are never touched."},
	{Name: "TRE_FIREWALL_PRIORITIES", Default: "300,310,400,410", Description: "Priorities of the four rule collection groups: admins' network, admins' application, TRE's network, TRE's application. Admins' must be below TRE's (evaluated first); keep them clear of your own groups' priorities and of AzureTRE's (100 rcg-core, 500 to 599: its core 500, airlock notifier 501, firewall shared service 510 rcg-dynamic-network and 520). infra/ passes the same default."},
	{Name: "TRE_FIREWALL_INTERVAL", Default: "60s", Description: "Local mode: how often the firewall-reconcile timer runs (pending firewall steps, drift). In Azure its function.json schedule decides."},
	{Name: "TRE_AIRLOCK_STORAGE", Default: "", Description: "Where the airlock keeps files: azure (a storage account per stage, AzureTRE's names, https://<account>.blob.STORAGE_ENDPOINT_SUFFIX/, reached with the managed identity), endpoint (one account, TRE_AIRLOCK_BLOB_ENDPOINT with its key: Azurite, which make run starts; each stage is a container name prefix) or off (the airlock's routes answer 503 saying so). Default: azure with the Azure adapters, endpoint when TRE_AIRLOCK_BLOB_ENDPOINT is set, else off."},
	{Name: "STORAGE_ENDPOINT_SUFFIX", Default: "core.windows.net", Description: "TRE_AIRLOCK_STORAGE=azure: the blob endpoint suffix of the airlock's accounts (sovereign clouds differ; AzureTRE's setting)."},
	{Name: "TRE_AIRLOCK_BLOB_ENDPOINT", Default: "", Description: "TRE_AIRLOCK_STORAGE=endpoint: the blob endpoint of the one account (Azurite's: http://127.0.0.1:10000/devstoreaccount1)."},
	{Name: "TRE_AIRLOCK_BLOB_ACCOUNT", Default: "devstoreaccount1", Description: "TRE_AIRLOCK_STORAGE=endpoint: the account's name (Azurite's development account by default)."},
	{Name: "TRE_AIRLOCK_BLOB_KEY", Default: "", Description: "TRE_AIRLOCK_STORAGE=endpoint: the account's key (links are signed with it). Azurite's well-known development key for Azurite.", Secret: true},
	{Name: "TRE_AIRLOCK_SCANNER", Default: "", Description: "Malware scanning of submitted files: defender (Defender for Storage's verdicts, the blob index tag it writes in the in-progress accounts), stand-in (NOT a malware scanner: a stand-in for one machine that finds only the EICAR test string, and says so in every status message; refused with TRE_AIRLOCK_STORAGE=azure) or off (files go straight to review). Default: defender with TRE_AIRLOCK_STORAGE=azure, else off."},
	{Name: "TRE_AIRLOCK_REQUIRED_APPROVALS", Default: "1", Description: "Distinct airlock managers who must approve a request: 1 (AzureTRE's rule) or 2. A rejection needs one."},
	{Name: "TRE_AIRLOCK_LINK_EXPIRY", Default: "1h", Description: "How long an airlock link (a container URL with a SAS) is valid (AzureTRE's AIRLOCK_SAS_TOKEN_EXPIRY_PERIOD_IN_HOURS)."},
	{Name: "TRE_AIRLOCK_SCAN_LIMIT", Default: "1h", Description: "A submitted request whose files have no scan verdict this long after they were copied fails, saying so."},
	{Name: "TRE_AIRLOCK_PROCESSING_LIMIT", Default: "2h", Description: "A request the airlock processor has not moved on from submitted, approval_in_progress, rejection_in_progress or blocking_in_progress this long fails (its messages dead-lettered, say)."},
	{Name: "TRE_AIRLOCK_SWEEP_INTERVAL", Default: "10s", Description: "Local mode: how often the airlock-sweep timer runs (unsent messages, pending scan verdicts, requests stuck in progress). In Azure its function.json schedule decides."},
	{Name: "WEBSITE_INSTANCE_ID", Default: "", Platform: true, Description: "Set by Azure App Service on every Function App instance: when present, the dev token issuer is refused (Entra ID is required), whatever TRE_DEV_ISSUER says."},
	{Name: "AAD_TENANT_ID", Default: "", Description: "Entra ID tenant. When set, tokens are validated against Entra ID; when empty, the local dev issuer is used, where TRE_DEV_ISSUER allows it."},
	{Name: "TRE_DEV_ISSUER", Default: "", Description: "Allow the local dev token issuer (tokens minted by `tre-handler token`) when AAD_TENANT_ID is empty. Default: allowed only when no Azure adapter setting is present (" + strings.Join(azureSettings, ", ") + ") and none chooses an Azure adapter (TRE_SECRET_STORE=keyvault, TRE_FIREWALL=azure, TRE_AIRLOCK_STORAGE=azure, TRE_AIRLOCK_SCANNER=defender, TRE_COSTS=azure); true allows it beside them, for tests against local protocol servers (Terraform never sets it); false refuses it. Never allowed on App Service."},
	{Name: "AAD_AUTHORITY_URL", Default: "https://login.microsoftonline.com", Description: "Entra ID authority (sovereign clouds differ)."},
	{Name: "API_CLIENT_ID", Default: "", Description: "Application (client) id of the API's app registration. Required with AAD_TENANT_ID."},
	{Name: "API_AUDIENCE", Default: "", Description: "Audience tokens must carry. Defaults to API_CLIENT_ID (Entra) or api://tre-dev (dev issuer)."},
	{Name: "TRE_COSTS", Default: "", Description: "Where the cost routes (/api/costs) get costs: azure (Azure Cost Management, in AZURE_SUBSCRIPTION_ID and the workspaces' own subscriptions; the identity needs Cost Management Reader and Reader there) or none (no cost source: the cost lists are empty and the answers say so). Default: azure when AZURE_SUBSCRIPTION_ID is set, else none."},
	{Name: "AZURE_SUBSCRIPTION_ID", Default: "", Description: "The TRE's Azure subscription, whose costs the cost routes report (AzureTRE's SUBSCRIPTION_ID)."},
	{Name: "TRE_UPGRADE_INTERVAL", Default: "10s", Description: "Local mode: how often the upgrade-batches timer advances bulk upgrades (besides each operation's end). In Azure its function.json schedule decides."},
	{Name: "TRE_COSTS_CACHE_TTL", Default: "2h", Description: "How long an answer of the cost source is reused for the same query (AzureTRE: 2 hours), per handler instance."},
}

// azureSettings point the handler at Azure resources or an Azure identity.
// With any of them the handler is meant for Azure, where a dev issuer would
// accept admin tokens minted by anyone who can read the data directory: it
// is refused unless TRE_DEV_ISSUER=true says this is a test.
var azureSettings = []string{"STATE_STORE_ENDPOINT", "STATE_STORE_KEY", "SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE",
	"SERVICE_BUS_CONNECTION_STRING", "KEY_VAULT_URL", "MANAGED_IDENTITY_CLIENT_ID", "TRE_FIREWALL_POLICY_ID",
	"AZURE_SUBSCRIPTION_ID"}

// Config is the handler's validated configuration.
type Config struct {
	fleetConfig
	ListenAddress   string
	TriggerKey      string
	Port            int
	DataDir         string
	LogLevel        string
	Telemetry       telemetry.Config
	TREID           string
	Location        string
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	FunctionTimeout time.Duration
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
	AgentHeartbeat    time.Duration
	DrainTimeout      time.Duration
	LockDuration      time.Duration
	MaxDelivery       int

	// Azure adapters (empty: embedded ones).
	CosmosEndpoint    string
	CosmosKey         string
	CosmosDatabase    string
	CosmosVerifyTLS   bool
	ServiceBusNS      string
	ServiceBusConn    string
	KeyVaultURL       string
	SecretStore       string // keyvault or file
	ManagedIdentityID string
	LocalProcessor    bool
	SimulateBundles   bool
	LocalHost         bool
	OnAppService      bool

	// Firewall service: azure, file or off.
	Firewall            string
	FirewallPolicy      armfirewall.Config
	FirewallFile        string
	FirewallGroupPrefix string
	FirewallPriorities  [4]int32 // manual network, manual application, TRE network, TRE application
	FirewallInterval    time.Duration

	// Airlock.
	Airlock AirlockConfig

	// Entra ID; empty TenantID selects the dev issuer.
	TenantID     string
	AuthorityURL string
	APIClientID  string
	APIAudience  string
}

// DevAuth reports whether tokens come from the local dev issuer.
func (c Config) DevAuth() bool { return c.TenantID == "" }

// Azure reports whether the Azure adapters (Cosmos DB, Service Bus) are
// configured.
func (c Config) Azure() bool { return c.CosmosEndpoint != "" }

// loadConfig reads and validates every setting, reporting all problems at once.
func loadConfig(lookup func(string) (string, bool)) (Config, error) {
	e := config.New(settings, lookup)
	c := Config{
		Port:            e.Int("FUNCTIONS_CUSTOMHANDLER_PORT", 0, 65535),
		ListenAddress:   e.String("TRE_LISTEN_ADDRESS"),
		DataDir:         e.String("TRE_DATA_DIR"),
		LogLevel:        e.OneOf("LOG_LEVEL", "debug", "info", "warn", "error"),
		Telemetry:       telemetryConfig(e),
		TREID:           e.String("TRE_ID"),
		Location:        e.String("RESOURCE_LOCATION"),
		MaxBodyBytes:    int64(e.Int("TRE_MAX_BODY_BYTES", 1024, 64<<20)),
		ShutdownTimeout: e.Duration("TRE_SHUTDOWN_TIMEOUT", 0, 10*time.Minute),
		FunctionTimeout: e.Duration("TRE_FUNCTION_TIMEOUT", 10*time.Second, 24*time.Hour),
		SweepInterval:   e.Duration("TRE_SWEEP_INTERVAL", time.Second, time.Hour),

		WatchdogInterval: e.Duration("TRE_WATCHDOG_INTERVAL", time.Second, time.Hour),
		DispatchLimit:    e.Duration("TRE_DISPATCH_LIMIT", time.Second, 24*time.Hour),
		PickupLimit:      e.Duration("TRE_PICKUP_LIMIT", time.Second, 7*24*time.Hour),
		HeartbeatLimit:   e.Duration("TRE_HEARTBEAT_LIMIT", time.Second, 24*time.Hour),
		CancelGrace:      e.Duration("TRE_CANCEL_GRACE", time.Second, 24*time.Hour),

		TemplatesDir: e.String("TRE_TEMPLATES_DIR"),

		Workers:        e.Int("TRE_PROCESSOR_WORKERS", 1, 64),
		Heartbeat:      e.Duration("TRE_PROCESSOR_HEARTBEAT", 100*time.Millisecond, time.Hour),
		AgentHeartbeat: e.Duration("TRE_AGENT_HEARTBEAT", 100*time.Millisecond, time.Hour),
		DrainTimeout:   e.Duration("TRE_DRAIN_TIMEOUT", 0, time.Hour),
		LockDuration:   e.Duration("TRE_QUEUE_LOCK_DURATION", time.Second, 5*time.Minute),
		MaxDelivery:    e.Int("TRE_QUEUE_MAX_DELIVERY", 1, 100),
		TenantID:       e.String("AAD_TENANT_ID"),
		AuthorityURL:   strings.TrimRight(e.String("AAD_AUTHORITY_URL"), "/"),
		APIClientID:    e.String("API_CLIENT_ID"),
		APIAudience:    e.String("API_AUDIENCE"),
	}
	c.addressSettings(e)
	c.listenSettings(e)
	c.timingSettings(e)
	c.adapterSettings(e)
	c.secretStoreSettings(e)
	c.localModeSettings(e)
	c.firewallSettings(e)
	c.airlockSettings(e)
	c.fleetSettings(e)
	c.resolvePaths(e)
	c.devIssuerSettings(e)
	c.entraSettings(e)
	return c, e.Err()
}

// addressSettings reads the TRE's address space and the core network's
// part of it.
func (c *Config) addressSettings(e *config.Env) {
	c.AddressSpace = prefixSetting(e, "TRE_ADDRESS_SPACE")
	c.CoreSpace = prefixSetting(e, "CORE_ADDRESS_SPACE")
	if c.AddressSpace.IsValid() && c.CoreSpace.IsValid() && !c.AddressSpace.Contains(c.CoreSpace.Addr()) {
		e.Problemf("CORE_ADDRESS_SPACE: %s is not inside TRE_ADDRESS_SPACE %s", c.CoreSpace, c.AddressSpace)
	}
}

// adapterSettings reads the Azure adapters' settings, which go together:
// Cosmos DB and Service Bus (by namespace or connection string, not both).
func (c *Config) adapterSettings(e *config.Env) {
	c.CosmosEndpoint, c.CosmosKey, c.CosmosDatabase = e.String("STATE_STORE_ENDPOINT"), e.String("STATE_STORE_KEY"), e.String("STATE_STORE_DATABASE")
	c.CosmosVerifyTLS = e.Bool("STATE_STORE_SSL_VERIFY")
	c.ServiceBusNS, c.ServiceBusConn = e.String("SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE"), e.String("SERVICE_BUS_CONNECTION_STRING")
	c.KeyVaultURL, c.ManagedIdentityID = e.String("KEY_VAULT_URL"), e.String("MANAGED_IDENTITY_CLIENT_ID")
	c.OnAppService = e.Set("WEBSITE_INSTANCE_ID")
	azureStore, azureQueue := c.CosmosEndpoint != "", c.ServiceBusNS != "" || c.ServiceBusConn != ""
	switch {
	case azureStore && !azureQueue:
		e.Problemf("SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE: required with STATE_STORE_ENDPOINT (the Azure adapters go together: Cosmos DB and Service Bus)")
	case azureQueue && !azureStore:
		e.Problemf("STATE_STORE_ENDPOINT: required with SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE (the Azure adapters go together: Cosmos DB and Service Bus)")
	}
	if c.ServiceBusNS != "" && c.ServiceBusConn != "" {
		e.Problemf("SERVICE_BUS_CONNECTION_STRING: give either it or SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE, not both")
	}
}

// secretStoreSettings chooses where sensitive properties live: Key Vault
// when it is configured (required with the Azure adapters), else a file,
// unless TRE_SECRET_STORE says.
func (c *Config) secretStoreSettings(e *config.Env) {
	c.SecretStore = "file"
	if c.KeyVaultURL != "" {
		c.SecretStore = "keyvault"
	}
	if e.Set("TRE_SECRET_STORE") {
		c.SecretStore = e.OneOf("TRE_SECRET_STORE", "keyvault", "file")
	}
	if c.SecretStore == "keyvault" && c.KeyVaultURL == "" {
		e.Problemf("KEY_VAULT_URL: required with TRE_SECRET_STORE=keyvault")
	}
	if c.Azure() && c.SecretStore == "file" && !e.Set("TRE_SECRET_STORE") {
		e.Problemf("KEY_VAULT_URL: required with the Azure adapters (sensitive properties live in Key Vault); TRE_SECRET_STORE=file only for tests on one machine")
	}
}

// localModeSettings reads what runs inside the handler: on by default
// with the embedded adapters, off with the Azure ones; simulated bundles
// are refused with the Azure adapters.
func (c *Config) localModeSettings(e *config.Env) {
	c.LocalProcessor, c.LocalHost, c.RegisterTemplates = !c.Azure(), !c.Azure(), !c.Azure()
	if e.Set("TRE_REGISTER_TEMPLATES") {
		c.RegisterTemplates = e.Bool("TRE_REGISTER_TEMPLATES")
	}
	if e.Set("TRE_LOCAL_PROCESSOR") {
		c.LocalProcessor = e.Bool("TRE_LOCAL_PROCESSOR")
	}
	c.SimulateBundles = !c.Azure()
	if e.Set("TRE_SIMULATE_BUNDLES") {
		c.SimulateBundles = e.Bool("TRE_SIMULATE_BUNDLES")
		if c.SimulateBundles && c.Azure() {
			e.Problemf("TRE_SIMULATE_BUNDLES: simulating bundles is for local mode; it is refused with the Azure adapters")
		}
	}
	if e.Set("TRE_LOCAL_HOST") {
		c.LocalHost = e.Bool("TRE_LOCAL_HOST")
	}
}

// resolvePaths makes the directories absolute and puts the firewall file
// in the data directory unless it is set.
func (c *Config) resolvePaths(e *config.Env) {
	if abs, err := filepath.Abs(c.TemplatesDir); err == nil {
		c.TemplatesDir = abs
	}
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	} else {
		e.Problemf("TRE_DATA_DIR: %q cannot be resolved: %s", c.DataDir, err)
	}
	if c.FirewallFile == "" {
		c.FirewallFile = filepath.Join(c.DataDir, "firewall.json")
	}
}

// entraSettings checks the Entra ID settings when AAD_TENANT_ID is set;
// the audience defaults to the API's client id.
func (c *Config) entraSettings(e *config.Env) {
	if c.DevAuth() {
		return
	}
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

// devIssuerSettings refuses the dev issuer where it must not run: on App
// Service always, beside Azure adapter settings unless TRE_DEV_ISSUER=true,
// anywhere with TRE_DEV_ISSUER=false.
func (c *Config) devIssuerSettings(e *config.Env) {
	explicit := e.Set("TRE_DEV_ISSUER")
	allowed := explicit && e.Bool("TRE_DEV_ISSUER")
	if !c.DevAuth() {
		if allowed {
			e.Problemf("TRE_DEV_ISSUER: true, but AAD_TENANT_ID is set: tokens come from Entra ID or from the dev issuer, not both")
		}
		return
	}
	var present []string
	for _, name := range azureSettings {
		if e.Set(name) {
			present = append(present, name)
		}
	}
	present = append(present, c.azureChoices()...)
	switch {
	case c.OnAppService:
		e.Problemf("AAD_TENANT_ID: required on Azure App Service (WEBSITE_INSTANCE_ID is set): the dev token issuer is for running on one machine only")
	case explicit && !allowed:
		e.Problemf("AAD_TENANT_ID: required with TRE_DEV_ISSUER=false (the dev token issuer is refused)")
	case !explicit && len(present) > 0:
		e.Problemf("AAD_TENANT_ID: required with the Azure adapter settings %s: the dev token issuer would accept admin tokens "+
			"minted by anyone who can read TRE_DATA_DIR; set TRE_DEV_ISSUER=true only to test against local protocol servers",
			strings.Join(present, ", "))
	}
}

// azureChoices names the settings that chose an Azure adapter by their
// value (set, or derived from another setting), as NAME=value.
func (c *Config) azureChoices() []string {
	var chosen []string
	for _, ch := range []struct{ name, value, want string }{
		{"TRE_SECRET_STORE", c.SecretStore, "keyvault"},
		{"TRE_FIREWALL", c.Firewall, "azure"},
		{"TRE_AIRLOCK_STORAGE", c.Airlock.Storage, "azure"},
		{"TRE_AIRLOCK_SCANNER", c.Airlock.Scanner, "defender"},
		{"TRE_COSTS", c.Costs, "azure"},
	} {
		if ch.value == ch.want {
			chosen = append(chosen, ch.name+"="+ch.want)
		}
	}
	return chosen
}

func (c *Config) firewallSettings(e *config.Env) {
	c.FirewallGroupPrefix = e.String("TRE_FIREWALL_GROUP_PREFIX")
	c.FirewallInterval = e.Duration("TRE_FIREWALL_INTERVAL", time.Second, time.Hour)
	if err := (firewall.Config{GroupPrefix: c.FirewallGroupPrefix}).Validate(); err != nil {
		e.Problemf("TRE_FIREWALL_GROUP_PREFIX: %s", tre.ErrorMessage(err))
	}
	raw := strings.Split(e.String("TRE_FIREWALL_PRIORITIES"), ",")
	if len(raw) != 4 {
		e.Problemf("TRE_FIREWALL_PRIORITIES: %q must be four comma-separated numbers (admins' network, admins' application, TRE's network, TRE's application)", strings.Join(raw, ","))
	} else {
		for i, r := range raw {
			n, err := strconv.ParseInt(strings.TrimSpace(r), 10, 32)
			if err != nil {
				e.Problemf("TRE_FIREWALL_PRIORITIES: %q is not a number", r)
			}
			c.FirewallPriorities[i] = int32(n)
		}
		if err := c.FirewallConfig().Validate(); err != nil {
			e.Problemf("TRE_FIREWALL_PRIORITIES: %s", invalidText(err))
		}
	}
	policy := e.String("TRE_FIREWALL_POLICY_ID")
	switch {
	case e.Set("TRE_FIREWALL"):
		c.Firewall = e.OneOf("TRE_FIREWALL", "azure", "file", "off")
	case policy != "":
		c.Firewall = "azure"
	case c.Azure():
		e.Problemf("TRE_FIREWALL_POLICY_ID: required with the Azure adapters (the firewall service writes the egress rules there); TRE_FIREWALL=off runs without a firewall service")
	default:
		c.Firewall = "file"
	}
	if policy != "" {
		p, err := armfirewall.ParsePolicyID(policy)
		if err != nil {
			e.Problemf("TRE_FIREWALL_POLICY_ID: %s", tre.ErrorMessage(err))
		}
		c.FirewallPolicy = p
	} else if c.Firewall == "azure" {
		e.Problemf("TRE_FIREWALL_POLICY_ID: required with TRE_FIREWALL=azure")
	}
	c.FirewallFile = e.String("TRE_FIREWALL_FILE")
}

// FirewallConfig places the firewall service's groups.
func (c Config) FirewallConfig() firewall.Config {
	p := c.FirewallPriorities
	return firewall.Config{GroupPrefix: c.FirewallGroupPrefix, ManualNetworkPriority: p[0], ManualApplicationPriority: p[1],
		TRENetworkPriority: p[2], TREApplicationPriority: p[3], CoreIPGroups: c.coreResourceGroup()}
}

// coreResourceGroup is the ARM id of the resource group whose IP groups
// rules name in source_ip_groups_in_core: the firewall policy's (the core
// resource group, as in AzureTRE). Without a policy (the file firewall,
// which enforces nothing) it is a placeholder in a zero subscription
// named after AzureTRE's rg-<tre_id>, so the file shows what Azure would get.
func (c Config) coreResourceGroup() string {
	if p := c.FirewallPolicy; p.SubscriptionID != "" {
		return "/subscriptions/" + p.SubscriptionID + "/resourceGroups/" + p.ResourceGroup
	}
	return "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-" + c.TREID
}

// invalidText lists every field problem of a validation error.
func invalidText(err error) string {
	var te *tre.Error
	if errors.As(err, &te) && len(te.Fields) > 0 {
		parts := make([]string, len(te.Fields))
		for i, f := range te.Fields {
			parts[i] = f.Field + " " + f.Message
		}
		return strings.Join(parts, "; ")
	}
	return tre.ErrorMessage(err)
}

func prefixSetting(e *config.Env, name string) netip.Prefix {
	raw := e.String(name)
	p, err := cidr.Parse(raw)
	if err != nil {
		e.Problemf("%s: %s", name, tre.ErrorMessage(err))
	}
	return p
}

// AirlockConfig is the airlock's part of the configuration.
type AirlockConfig struct {
	Storage           string // azure, endpoint or off
	EndpointSuffix    string
	BlobEndpoint      string
	BlobAccount       string
	BlobKey           string
	Scanner           string // defender, stand-in or off
	RequiredApprovals int
	LinkExpiry        time.Duration
	ScanLimit         time.Duration
	ProcessingLimit   time.Duration
	SweepInterval     time.Duration
}

func (c *Config) airlockSettings(e *config.Env) {
	a := &c.Airlock
	a.EndpointSuffix = e.String("STORAGE_ENDPOINT_SUFFIX")
	a.BlobEndpoint, a.BlobAccount, a.BlobKey = strings.TrimRight(e.String("TRE_AIRLOCK_BLOB_ENDPOINT"), "/"), e.String("TRE_AIRLOCK_BLOB_ACCOUNT"), e.String("TRE_AIRLOCK_BLOB_KEY")
	a.RequiredApprovals = e.Int("TRE_AIRLOCK_REQUIRED_APPROVALS", 1, 2)
	a.LinkExpiry = e.Duration("TRE_AIRLOCK_LINK_EXPIRY", time.Minute, 7*24*time.Hour)
	a.ScanLimit = e.Duration("TRE_AIRLOCK_SCAN_LIMIT", time.Minute, 7*24*time.Hour)
	a.ProcessingLimit = e.Duration("TRE_AIRLOCK_PROCESSING_LIMIT", time.Minute, 7*24*time.Hour)
	a.SweepInterval = e.Duration("TRE_AIRLOCK_SWEEP_INTERVAL", time.Second, time.Hour)
	switch {
	case e.Set("TRE_AIRLOCK_STORAGE"):
		a.Storage = e.OneOf("TRE_AIRLOCK_STORAGE", "azure", "endpoint", "off")
	case a.BlobEndpoint != "":
		a.Storage = "endpoint"
	case c.Azure():
		a.Storage = "azure"
	default:
		a.Storage = "off"
	}
	if a.Storage == "endpoint" {
		if a.BlobEndpoint == "" {
			e.Problemf("TRE_AIRLOCK_BLOB_ENDPOINT: required with TRE_AIRLOCK_STORAGE=endpoint")
		} else if u, err := url.Parse(a.BlobEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.Problemf("TRE_AIRLOCK_BLOB_ENDPOINT: %q is not an http(s) URL", a.BlobEndpoint)
		}
		if a.BlobKey == "" {
			e.Problemf("TRE_AIRLOCK_BLOB_KEY: required with TRE_AIRLOCK_STORAGE=endpoint (the account's key signs the links)")
		}
	}
	a.Scanner = "off"
	if a.Storage == "azure" {
		a.Scanner = "defender"
	}
	if e.Set("TRE_AIRLOCK_SCANNER") {
		a.Scanner = e.OneOf("TRE_AIRLOCK_SCANNER", "defender", "stand-in", "off")
	}
	if a.Scanner == "stand-in" && a.Storage == "azure" {
		e.Problemf("TRE_AIRLOCK_SCANNER: the stand-in is not a malware scanner (it finds only the EICAR test string): it is refused with TRE_AIRLOCK_STORAGE=azure; use defender")
	}
	if a.Scanner == "defender" && a.Storage != "azure" {
		e.Problemf("TRE_AIRLOCK_SCANNER: defender reads Defender for Storage's verdicts, which exist only with TRE_AIRLOCK_STORAGE=azure")
	}
}

// telemetryConfig reads the OpenTelemetry settings (their standard names).
func telemetryConfig(e *config.Env) telemetry.Config {
	c := telemetry.Config{Endpoint: e.String("OTEL_EXPORTER_OTLP_ENDPOINT"), ServiceName: e.String("OTEL_SERVICE_NAME"),
		Version: version, Headers: map[string]string{}}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.Problemf("OTEL_EXPORTER_OTLP_ENDPOINT: %q is not an http(s) URL", c.Endpoint)
		}
	}
	for _, pair := range strings.Split(e.String("OTEL_EXPORTER_OTLP_HEADERS"), ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(strings.TrimSpace(k))
		val, verr := url.QueryUnescape(strings.TrimSpace(v))
		if !ok || key == "" || kerr != nil || verr != nil {
			// The value may be a key: only the header's name is shown.
			e.Problemf("OTEL_EXPORTER_OTLP_HEADERS: each header must be name=value (URL-encoded), not %q=...", strings.TrimSpace(k))
			continue
		}
		c.Headers[key] = val
	}
	return c
}
