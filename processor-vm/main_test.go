package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/config"
)

// The README documents every setting the agent reads: its table is what
// `tre-processor settings` prints.
func TestReadmeListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, s := range settings {
		require.True(t, strings.Contains(string(data), "| `"+s.Name+"` |"), "README.md's processor settings lack %s", s.Name)
	}
	require.Contains(t, string(data), config.Markdown(settings), "README.md's processor table is `go run ./processor-vm settings`, verbatim")
}

func TestConfigProblemsReportedTogether(t *testing.T) {
	env := map[string]string{"NUMBER_PROCESSES": "many", "RP_RUNNER": "porter", "RP_DRAIN_TIMEOUT": "soon", "RP_BUNDLE_FOO": "bar"}
	_, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, []string{"RP_BUNDLE_FOO=bar"})
	require.Error(t, err)
	for _, want := range []string{"NUMBER_PROCESSES", "REGISTRY_SERVER", "RP_DRAIN_TIMEOUT", "3 problem(s)"} {
		require.Contains(t, err.Error(), want)
	}
	cfg, err := loadConfig(func(k string) (string, bool) { return "", false }, []string{"RP_BUNDLE_FIREWALL_POLICY_ID=/subs/x", "PATH=/bin"})
	require.NoError(t, err)
	require.Equal(t, "local", cfg.Runner, "no registry: the local runner")
	require.Equal(t, map[string]string{"firewall_policy_id": "/subs/x"}, cfg.BundleParameters)
}

func TestPorterEnvIsAzureTREsList(t *testing.T) {
	cfg, err := loadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{
			"REGISTRY_SERVER": "acr.azurecr.io", "KEY_VAULT_URL": "https://kv", "ARM_CLIENT_ID": "msi-1",
			"AZURE_SUBSCRIPTION_ID": "sub-1", "AZURE_TENANT_ID": "tenant-1",
		}[k]
		return v, ok
	}, nil)
	require.NoError(t, err)
	env := cfg.porterEnv(func(k string) (string, bool) {
		return map[string]string{"PATH": "/usr/bin", "HOME": "/home/rp", "SECRET_OF_THE_AGENT": "x"}[k], k != "NOPE"
	})
	// AzureTRE's porter_env under a managed identity
	// (resource_processor/shared/config.py), and nothing else of the
	// agent's environment.
	require.Equal(t, []string{
		"ARM_CLIENT_ID=msi-1",
		"ARM_CLIENT_SECRET=",
		"ARM_ENVIRONMENT=public",
		"ARM_SUBSCRIPTION_ID=sub-1",
		"ARM_TENANT_ID=tenant-1",
		"AZURE_ENVIRONMENT=AzureCloud",
		"HOME=/home/rp",
		"KEY_VAULT_URL=https://kv",
		"PATH=/usr/bin",
	}, env)
	require.Equal(t, "acr", acrName("acr.azurecr.io"))
}

func TestPorterRunnerNeedsTheManagedIdentity(t *testing.T) {
	env := map[string]string{"REGISTRY_SERVER": "acr.azurecr.io", "ARM_USE_MSI": "false"}
	_, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	require.ErrorContains(t, err, "ARM_USE_MSI: false is not supported by the porter runner")
	env["RP_RUNNER"] = "local"
	_, err = loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	require.NoError(t, err, "the local runner does not care")
}

func TestSettingsCommand(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"settings"}, func(string) (string, bool) { return "", false }, nil, &out, &errb))
	require.Contains(t, out.String(), "| `NUMBER_PROCESSES` |")
}

// The embedded queue's lock comes from TRE_QUEUE_LOCK_DURATION (it was
// fixed at 60 s), and renewals must come within it.
func TestEmbeddedQueueLockIsASetting(t *testing.T) {
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	cfg, err := loadConfig(env(map[string]string{"TRE_QUEUE_LOCK_DURATION": "10s", "RP_LOCK_RENEW_INTERVAL": "3s"}), nil)
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, cfg.LockDuration)
	_, err = loadConfig(env(map[string]string{"TRE_QUEUE_LOCK_DURATION": "10s"}), nil)
	require.ErrorContains(t, err, "RP_LOCK_RENEW_INTERVAL: 20s must be under TRE_QUEUE_LOCK_DURATION 10s")
}

// Sovereign clouds: the authority and Graph's host reach bundles as
// AzureTRE's processor passes them (Graph's as a host name, also when
// given as a URL); the public cloud's by default.
func TestCloudEndpointsForBundles(t *testing.T) {
	for _, tc := range []struct {
		env                map[string]string
		authority, graphFQ string
	}{
		{map[string]string{}, "https://login.microsoftonline.com", "graph.microsoft.com"},
		{map[string]string{"AAD_AUTHORITY_URL": "https://login.microsoftonline.us/", "MICROSOFT_GRAPH_FQDN": "https://graph.microsoft.us/"},
			"https://login.microsoftonline.us", "graph.microsoft.us"},
		{map[string]string{"MICROSOFT_GRAPH_FQDN": "microsoftgraph.chinacloudapi.cn"}, "https://login.microsoftonline.com", "microsoftgraph.chinacloudapi.cn"},
	} {
		cfg, err := loadConfig(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, nil)
		require.NoError(t, err)
		require.Equal(t, tc.authority, cfg.AADAuthorityURL)
		require.Equal(t, tc.graphFQ, cfg.GraphFQDN)
		params := agentParameters(cfg)
		require.Equal(t, tc.authority, params["aad_authority_url"])
		require.Equal(t, tc.graphFQ, params["microsoft_graph_fqdn"])
	}
}
