package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/porter"
)

// newPorterRunner returns the porter runner, with porter set up as
// AzureTRE's Resource Processor runs it. The split follows AzureTRE's:
// what its image build does (porter, its mixins and the azure plugin, at
// the image's versions) cloud-init does once on the VM
// (processor-vm/cloud-init.yaml); what its runner does at start and before
// every action, the agent does, so that a new agent package brings its
// porter configuration with it:
//
//   - at start (porter.Runner.Setup): check the versions cloud-init
//     installed, write PORTER_HOME/config.yaml (storage in Cosmos DB's API
//     for MongoDB, secrets in the Key Vault) and the arm_auth and aad_auth
//     credential sets, then run the prelude once, so that a broken identity,
//     vault or store stops the agent before it takes work;
//   - before every job (the prelude): az cloud set, az login with the VM's
//     identity, az acr login, then `porter credentials apply` of both sets,
//     in AzureTRE's order (runner.py run_porter).
//
// Porter's home is ~/.porter of the HOME in porter's environment (the
// agent's user's, where cloud-init installed porter).
func newPorterRunner(ctx context.Context, cfg Config, log *slog.Logger) (*porter.Runner, error) {
	var home string
	for _, kv := range cfg.PorterEnv {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	if home == "" || !filepath.IsAbs(home) {
		return nil, fmt.Errorf("porter runner: HOME is %q: porter's home is $HOME/.porter, an absolute path", home)
	}
	setup := porter.Setup{Home: filepath.Join(home, ".porter"), Versions: porter.AzureTREVersions}
	var prelude [][]string
	if cfg.MSIClientID != "" {
		prelude = append(prelude,
			[]string{"az", "cloud", "set", "--name", cfg.AzureEnvironment},
			[]string{"az", "login", "--identity", "--client-id", cfg.MSIClientID},
			[]string{"az", "acr", "login", "--name", acrName(cfg.Registry)},
		)
	}
	prelude = append(prelude, setup.ApplyCommands(cfg.Porter)...)
	r, err := porter.New(porter.Config{
		Porter: cfg.Porter, Registry: cfg.Registry, Env: cfg.PorterEnv,
		AgentParameters:  agentParameters(cfg),
		BundleParameters: cfg.BundleParameters,
		Prelude:          prelude,
		Logger:           log.With("component", "porter"),
	})
	if err != nil {
		return nil, errors.Join(errors.New("porter runner"), err)
	}
	if err := r.Setup(ctx, setup); err != nil {
		return nil, err
	}
	return r, nil
}

// porterEnv is the whole environment porter (and the prelude's az) runs
// with: AzureTRE's list (shared/config.py, porter_env under a managed
// identity), nothing else of the agent's. ARM_CLIENT_SECRET is empty but
// set: the arm_auth credential set reads it, and porter fails on an unset
// variable. The azure plugin signs in to the Key Vault with the VM's
// identity (its only one), so porter needs no AZURE_* variable.
func (c Config) porterEnv(lookup func(string) (string, bool)) []string {
	env := map[string]string{
		"KEY_VAULT_URL":       c.KeyVaultURL,
		"ARM_ENVIRONMENT":     c.ARMEnvironment,
		"AZURE_ENVIRONMENT":   c.AzureEnvironment,
		"ARM_CLIENT_ID":       c.ARMClientID,
		"ARM_CLIENT_SECRET":   "",
		"ARM_SUBSCRIPTION_ID": c.SubscriptionID,
		"ARM_TENANT_ID":       c.TenantID,
	}
	for _, k := range []string{"HOME", "PATH"} {
		if v, ok := lookup(k); ok {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// acrName is the registry's short name (the first label of its host).
func acrName(registry string) string {
	name, _, _ := strings.Cut(registry, ".")
	return name
}

// agentParameters are the bundle parameters the processor's own settings
// give (bundle.FromAgent), as AzureTRE's processor gives them.
func agentParameters(cfg Config) map[string]string {
	return map[string]string{
		"tfstate_container_name":       cfg.StateContainer,
		"tfstate_resource_group_name":  cfg.StateRG,
		"tfstate_storage_account_name": cfg.StateAccount,
		"arm_use_msi":                  boolString(cfg.ARMUseMSI),
		"arm_environment":              cfg.ARMEnvironment,
		"azure_environment":            cfg.AzureEnvironment,
		"aad_authority_url":            cfg.AADAuthorityURL,
		"microsoft_graph_fqdn":         cfg.GraphFQDN,
		"key_vault_url":                cfg.KeyVaultURL,
		"arm_subscription_id":          cfg.SubscriptionID,
		"arm_client_id":                cfg.ARMClientID,
		"arm_tenant_id":                cfg.TenantID,
		"vmss_msi_id":                  cfg.MSIClientID,
	}
}
