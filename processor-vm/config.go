package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/config"
)

// settings is every environment variable the agent reads; the VM's env
// file (processor.env) and the README are checked against it. AzureTRE's
// names are kept where the Resource Processor had one.
var settings = []config.Setting{
	{Name: "LOG_LEVEL", Default: "info", Description: "debug, info, warn or error. Logs are JSON lines on stdout (journald on the VM)."},
	{Name: "TRE_PROCESSOR_ID", Default: "", Description: "Name of this agent in status messages and logs. Defaults to the host name."},
	{Name: "NUMBER_PROCESSES", Default: "2", Description: "Workers: requests (of different resources) run at once."},
	{Name: "RP_HEALTH_ADDRESS", Default: "127.0.0.1:8080", Description: "Address of the health endpoint (GET /health: 200 while a worker is alive, 503 otherwise)."},
	{Name: "RP_HEARTBEAT_INTERVAL", Default: "30s", Description: "How often a running bundle reports progress (with the tail of its output)."},
	{Name: "RP_LOCK_RENEW_INTERVAL", Default: "20s", Description: "How often the session lock is renewed while a bundle runs: well under the queue's lock duration."},
	{Name: "RP_DRAIN_TIMEOUT", Default: "5m", Description: "On SIGTERM, how long running bundles may finish before they are cancelled and their requests abandoned (they come back)."},
	{Name: "RP_TRANSIENT_RETRIES", Default: "3", Description: "Runs again of a bundle that failed with a transient error (ARM 429, AnotherOperationInProgress, RetryableError, network timeouts)."},
	{Name: "RP_TRANSIENT_BACKOFF", Default: "30s", Description: "First wait before such a rerun; doubled each time, with jitter, up to 5m."},
	{Name: "RP_RUNNER", Default: "", Description: "porter (runs bundles from REGISTRY_SERVER) or local (runs exec-only bundles from TRE_TEMPLATES_DIR without Docker, for development). Defaults to porter when REGISTRY_SERVER is set, else local."},
	{Name: "RP_AGENT_HEARTBEAT_INTERVAL", Default: "30s", Description: "How often the agent tells the control plane it is alive (the handler's TRE_AGENT_HEARTBEAT must match)."},
	{Name: "SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE", Default: "", Description: "Service Bus namespace (<name>.servicebus.windows.net) of the queues, reached with the VM's identity (VMSS_MSI_ID). Empty: the embedded queue in TRE_DATA_DIR."},
	{Name: "SERVICE_BUS_CONNECTION_STRING", Default: "", Description: "Service Bus connection string instead of the identity: for tests against a local broker (UseDevelopmentEmulator=true).", Secret: true},
	{Name: "TRE_DATA_DIR", Default: ".tre", Description: "Local mode: the data directory shared with tre-handler (embedded queue, secrets)."},
	{Name: "TRE_QUEUE_LOCK_DURATION", Default: "60s", Description: "Local mode: session lock of the embedded queue (set the handler's TRE_QUEUE_LOCK_DURATION to the same); RP_LOCK_RENEW_INTERVAL must be under it. With Service Bus the queue's lock duration decides."},
	{Name: "TRE_TEMPLATES_DIR", Default: "templates", Description: "Local runner: directory of the bundles."},
	{Name: "REGISTRY_SERVER", Default: "", Description: "Porter runner: the container registry of the bundles (e.g. acrtre.azurecr.io)."},
	{Name: "PORTER_PATH", Default: "porter", Description: "Porter runner: the porter binary."},
	{Name: "VMSS_MSI_ID", Default: "", Description: "Client id of the VM's user-assigned identity: the agent reaches Service Bus and Key Vault with it, and `az login --identity` runs with it before each bundle."},
	{Name: "AZURE_ENVIRONMENT", Default: "AzureCloud", Description: "Porter runner: Azure cloud for `az cloud set`, passed to bundles as azure_environment."},
	{Name: "ARM_ENVIRONMENT", Default: "public", Description: "Porter runner: Terraform's cloud name, passed to bundles as arm_environment."},
	{Name: "AAD_AUTHORITY_URL", Default: "https://login.microsoftonline.com", Description: "Porter runner: Entra ID's authority (sovereign clouds differ), passed to bundles as aad_authority_url (AzureTRE's setting)."},
	{Name: "MICROSOFT_GRAPH_FQDN", Default: "graph.microsoft.com", Description: "Porter runner: Microsoft Graph's host name (sovereign clouds differ; a URL is taken for its host), passed to bundles as microsoft_graph_fqdn (AzureTRE's setting)."},
	{Name: "ARM_USE_MSI", Default: "true", Description: "Porter runner: bundles authenticate to Azure with the VM's managed identity. Must be true: the arm_auth credential set gives porter an empty client secret (AzureTRE's service-principal mode is for its local debugging only)."},
	{Name: "ARM_CLIENT_ID", Default: "", Description: "Porter runner: the identity bundles use (the VM identity's client id under MSI)."},
	{Name: "AZURE_SUBSCRIPTION_ID", Default: "", Description: "Porter runner: subscription bundles deploy into (ARM_SUBSCRIPTION_ID for porter)."},
	{Name: "AZURE_TENANT_ID", Default: "", Description: "Porter runner: Entra ID tenant (ARM_TENANT_ID for porter)."},
	{Name: "KEY_VAULT_URL", Default: "", Description: "The TRE's Key Vault: sensitive template properties are read from it (empty: the secret file in TRE_DATA_DIR); passed to bundles as key_vault_url."},
	{Name: "MGMT_RESOURCE_GROUP_NAME", Default: "", Description: "Porter runner: resource group of the Terraform state (tfstate_resource_group_name)."},
	{Name: "MGMT_STORAGE_ACCOUNT_NAME", Default: "", Description: "Porter runner: storage account of the Terraform state (tfstate_storage_account_name)."},
	{Name: "TERRAFORM_STATE_CONTAINER_NAME", Default: "tfstate", Description: "Porter runner: blob container of the Terraform state (tfstate_container_name)."},
}

// Config is the agent's validated configuration.
type Config struct {
	LogLevel         string
	AgentID          string
	Workers          int
	HealthAddress    string
	Heartbeat        time.Duration
	RenewEvery       time.Duration
	DrainTimeout     time.Duration
	TransientRetries int
	TransientBackoff time.Duration
	AgentHeartbeat   time.Duration
	ServiceBusNS     string
	ServiceBusConn   string

	Runner       string // porter or local
	DataDir      string
	LockDuration time.Duration // of the embedded queue
	TemplatesDir string

	Registry         string
	Porter           string
	MSIClientID      string
	AzureEnvironment string
	ARMEnvironment   string
	AADAuthorityURL  string
	GraphFQDN        string
	ARMUseMSI        bool
	ARMClientID      string
	SubscriptionID   string
	TenantID         string
	KeyVaultURL      string
	StateRG          string
	StateAccount     string
	StateContainer   string
	// BundleParameters are the RP_BUNDLE_<X> variables, by lower-case <x>.
	BundleParameters map[string]string
	// PorterEnv is the whole environment porter runs with (porterEnv).
	PorterEnv []string
}

// loadConfig reads and validates every setting, reporting all problems at
// once. environ lists the environment (for RP_BUNDLE_* variables).
func loadConfig(lookup func(string) (string, bool), environ []string) (Config, error) {
	e := config.New(settings, lookup)
	c := Config{
		LogLevel:         e.OneOf("LOG_LEVEL", "debug", "info", "warn", "error"),
		AgentID:          e.String("TRE_PROCESSOR_ID"),
		Workers:          e.Int("NUMBER_PROCESSES", 1, 64),
		HealthAddress:    e.String("RP_HEALTH_ADDRESS"),
		Heartbeat:        e.Duration("RP_HEARTBEAT_INTERVAL", time.Second, time.Hour),
		RenewEvery:       e.Duration("RP_LOCK_RENEW_INTERVAL", time.Second, 10*time.Minute),
		DrainTimeout:     e.Duration("RP_DRAIN_TIMEOUT", 0, 2*time.Hour),
		TransientRetries: e.Int("RP_TRANSIENT_RETRIES", 0, 20),
		TransientBackoff: e.Duration("RP_TRANSIENT_BACKOFF", time.Second, time.Hour),
		AgentHeartbeat:   e.Duration("RP_AGENT_HEARTBEAT_INTERVAL", time.Second, time.Hour),
		ServiceBusNS:     e.String("SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE"),
		ServiceBusConn:   e.String("SERVICE_BUS_CONNECTION_STRING"),
		DataDir:          e.String("TRE_DATA_DIR"),
		LockDuration:     e.Duration("TRE_QUEUE_LOCK_DURATION", time.Second, 5*time.Minute),
		TemplatesDir:     e.String("TRE_TEMPLATES_DIR"),
		Registry:         e.String("REGISTRY_SERVER"),
		Porter:           e.String("PORTER_PATH"),
		MSIClientID:      e.String("VMSS_MSI_ID"),
		AzureEnvironment: e.String("AZURE_ENVIRONMENT"),
		ARMEnvironment:   e.String("ARM_ENVIRONMENT"),
		AADAuthorityURL:  strings.TrimRight(e.String("AAD_AUTHORITY_URL"), "/"),
		GraphFQDN:        hostOf(e.String("MICROSOFT_GRAPH_FQDN")),
		ARMUseMSI:        e.Bool("ARM_USE_MSI"),
		ARMClientID:      e.String("ARM_CLIENT_ID"),
		SubscriptionID:   e.String("AZURE_SUBSCRIPTION_ID"),
		TenantID:         e.String("AZURE_TENANT_ID"),
		KeyVaultURL:      e.String("KEY_VAULT_URL"),
		StateRG:          e.String("MGMT_RESOURCE_GROUP_NAME"),
		StateAccount:     e.String("MGMT_STORAGE_ACCOUNT_NAME"),
		StateContainer:   e.String("TERRAFORM_STATE_CONTAINER_NAME"),
		BundleParameters: map[string]string{},
	}
	if c.AgentID == "" {
		c.AgentID, _ = os.Hostname()
	}
	c.Runner = "local"
	if c.Registry != "" {
		c.Runner = "porter"
	}
	if e.Set("RP_RUNNER") {
		c.Runner = e.OneOf("RP_RUNNER", "porter", "local")
	}
	if c.Runner == "porter" && c.Registry == "" {
		e.Problemf("REGISTRY_SERVER: required with the porter runner (where the bundles are)")
	}
	if c.Runner == "porter" && !c.ARMUseMSI {
		e.Problemf("ARM_USE_MSI: false is not supported by the porter runner (porter runs with the VM's managed identity)")
	}
	if c.ServiceBusNS != "" && c.ServiceBusConn != "" {
		e.Problemf("SERVICE_BUS_CONNECTION_STRING: give either it or SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE, not both")
	}
	if c.ServiceBusNS == "" && c.ServiceBusConn == "" && c.RenewEvery >= c.LockDuration {
		e.Problemf("RP_LOCK_RENEW_INTERVAL: %s must be under TRE_QUEUE_LOCK_DURATION %s (the embedded queue's lock would lapse between renewals)", c.RenewEvery, c.LockDuration)
	}
	if c.RenewEvery >= c.Heartbeat*10 {
		e.Problemf("RP_LOCK_RENEW_INTERVAL: %s is far longer than the heartbeat; keep it under the queue's lock duration", c.RenewEvery)
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "RP_BUNDLE_"); ok && name != "" {
			c.BundleParameters[strings.ToLower(name)] = v
		}
	}
	for _, p := range []*string{&c.DataDir, &c.TemplatesDir} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	c.PorterEnv = c.porterEnv(lookup)
	return c, e.Err()
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// hostOf is the host of a URL, or s itself when it is a bare host name:
// AzureTRE passes bundles the host of MICROSOFT_GRAPH_FQDN.
func hostOf(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Hostname()
	}
	return strings.TrimSuffix(s, "/")
}
