package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README documents every setting the agent reads.
func TestReadmeListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, s := range settings {
		require.True(t, strings.Contains(string(data), "| `"+s.Name+"` |"), "README.md's processor settings lack %s", s.Name)
	}
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
		v, ok := map[string]string{"REGISTRY_SERVER": "acr.azurecr.io", "KEY_VAULT_URL": "https://kv"}[k]
		return v, ok
	}, nil)
	require.NoError(t, err)
	env := cfg.porterEnv(func(k string) (string, bool) {
		return map[string]string{"PATH": "/usr/bin", "HOME": "/home/rp", "SECRET_OF_THE_AGENT": "x"}[k], k != "NOPE"
	})
	joined := strings.Join(env, "\n")
	require.Contains(t, joined, "KEY_VAULT_URL=https://kv")
	require.Contains(t, joined, "PATH=/usr/bin")
	require.NotContains(t, joined, "SECRET_OF_THE_AGENT", "nothing else of the agent's environment")
	require.Equal(t, "acr", acrName("acr.azurecr.io"))
}

func TestSettingsCommand(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"settings"}, func(string) (string, bool) { return "", false }, nil, &out, &errb))
	require.Contains(t, out.String(), "| `NUMBER_PROCESSES` |")
}
