//go:build unix

package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/porter"
	"github.com/tre-go/tre/internal/porter/portertest"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// The fake porter and az of these tests are this test binary (portertest).
func TestMain(m *testing.M) {
	portertest.Main()
	os.Exit(m.Run())
}

// vmSettings are the agent's settings as Terraform gives them on the VM
// (infra/modules/processor), with the VM's paths replaced by the test's.
func vmSettings(fake *portertest.Fake, home, data string) map[string]string {
	return map[string]string{
		"LOG_LEVEL":                             "info",
		"TRE_PROCESSOR_ID":                      "vm-rp-test",
		"NUMBER_PROCESSES":                      "1",
		"RP_HEALTH_ADDRESS":                     "127.0.0.1:0",
		"RP_RUNNER":                             "porter",
		"RP_AGENT_HEARTBEAT_INTERVAL":           "30s",
		"REGISTRY_SERVER":                       "acrtest.azurecr.io",
		"PORTER_PATH":                           fake.Porter(),
		"VMSS_MSI_ID":                           "msi-client-1",
		"AZURE_ENVIRONMENT":                     "AzureCloud",
		"ARM_ENVIRONMENT":                       "public",
		"ARM_USE_MSI":                           "true",
		"ARM_CLIENT_ID":                         "msi-client-1",
		"AZURE_SUBSCRIPTION_ID":                 "sub-1",
		"AZURE_TENANT_ID":                       "tenant-1",
		"KEY_VAULT_URL":                         "https://kv-test.vault.azure.net/",
		"MGMT_RESOURCE_GROUP_NAME":              "rg-test",
		"MGMT_STORAGE_ACCOUNT_NAME":             "stteststate",
		"TERRAFORM_STATE_CONTAINER_NAME":        "tfstate",
		"SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE": "",
		"TRE_DATA_DIR":                          data, // the embedded queue stands in for Service Bus
		// What systemd gives the unit's user, and what it must not pass on.
		"HOME":                          home,
		"PATH":                          fake.Dir + ":/usr/bin:/bin",
		"RP_BUNDLE_FIREWALL_POLICY_ID":  "/subscriptions/sub-1/fw",
		"SERVICE_BUS_CONNECTION_STRING": "",
	}
}

// TestAgentRunsAnInstallAsAzureTREsProcessor starts the agent as the VM
// runs it, on the fake porter, gives it one install request and follows
// it to its final status; then it checks everything porter and az were
// asked to do, with which environment, and the files porter read.
func TestAgentRunsAnInstallAsAzureTREsProcessor(t *testing.T) {
	fake := portertest.Install(t, portertest.Spec{
		PorterVersion: porter.AzureTREVersions.Porter,
		Mixins:        maps.Clone(porter.AzureTREVersions.Mixins),
		Plugins:       maps.Clone(porter.AzureTREVersions.Plugins),
		Vault: map[string]string{
			"porter-db-connection-string":     "mongodb://cosmos-mongo-test:key@cosmos-mongo-test.mongo.cosmos.azure.com:10255/?ssl=true",
			"auth-tenant-id":                  "tenant-1",
			"application-admin-client-id":     "app-admin",
			"application-admin-client-secret": "app-admin-secret",
		},
		Explain: `{"name": "tre-workspace-base", "parameters": [
			{"name": "id"}, {"name": "tre_id"}, {"name": "tfstate_resource_group_name"}, {"name": "tfstate_storage_account_name"},
			{"name": "tfstate_container_name"}, {"name": "arm_use_msi"}, {"name": "key_vault_url"}, {"name": "firewall_policy_id"}]}`,
		Outputs: `[{"name": "workspace_vnet", "type": "string", "value": "vnet-test-ws-1234"}]`,
	})
	home, data := t.TempDir(), t.TempDir()
	env := vmSettings(fake, home, data)
	env["TRE_ID"] = "test" // read by nobody: a bundle parameter only through the request
	// The agent looks "az" up on its own PATH, as on the VM.
	t.Setenv("PATH", env["PATH"])
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" }
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}

	// The queue first: the agent opens the same SQLite file.
	q, err := sqlite.OpenQueue(context.Background(), data, sqlite.QueueOptions{PollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run"}, lookup, environ, &stdout, &stderr) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent's stderr: %s\nagent's log:\n%s", stderr.String(), stdout.String())
		}
	})

	req := tre.ResourceRequest{
		OperationID: "op-1", StepID: "main", Action: "install", ID: "ws-1234",
		Name: "tre-workspace-base", Version: "1.2.3",
		Parameters:   map[string]any{"tre_id": "test", "display_name": "Demo"},
		ResourceType: tre.TypeWorkspace, Attempt: 1,
	}
	body, err := json.Marshal(req)
	require.NoError(t, err)
	require.NoError(t, q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: "op-1-main-1", SessionID: req.ID, Body: body}))

	final := finalStatus(t, q, req.OperationID)
	require.Equal(t, tre.StatusDeployed, final.Status, final.Message)
	require.Equal(t, []tre.Output{{Name: "workspace_vnet", Value: "vnet-test-ws-1234", Type: "string"}}, final.Outputs)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop")
	}

	// Everything porter and az were asked, in order: the set-up at start,
	// then the job as AzureTRE's runner.py runs it (logins, credential
	// sets, explain, the action, its outputs).
	porterHome := filepath.Join(home, ".porter")
	ref := "acrtest.azurecr.io/tre-workspace-base:v1.2.3"
	prelude := [][]string{
		{"az", "cloud", "set", "--name", "AzureCloud"},
		{"az", "login", "--identity", "--client-id", "msi-client-1"},
		{"az", "acr", "login", "--name", "acrtest"},
		{"porter", "credentials", "apply", filepath.Join(porterHome, "credential-sets", "arm_auth.json")},
		{"porter", "credentials", "apply", filepath.Join(porterHome, "credential-sets", "aad_auth.json")},
	}
	want := slices.Concat(
		[][]string{
			{"porter", "version", "--output", "json"},
			{"porter", "mixins", "list", "--output", "json"},
			{"porter", "plugins", "list", "--output", "json"},
		},
		prelude, // once at start, to check the identity, the vault and the store
		prelude, // before the job
		[][]string{
			{"porter", "explain", "--reference", ref, "--output", "json"},
			{"porter", "install", "ws-1234", "--reference", ref,
				"--param", "arm_use_msi=true",
				"--param", "firewall_policy_id=/subscriptions/sub-1/fw",
				"--param", "id=ws-1234",
				"--param", "key_vault_url=https://kv-test.vault.azure.net/",
				"--param", "tfstate_container_name=tfstate",
				"--param", "tfstate_resource_group_name=rg-test",
				"--param", "tfstate_storage_account_name=stteststate",
				"--param", "tre_id=test",
				"--force", "--credential-set", "arm_auth", "--credential-set", "aad_auth"},
			{"porter", "installations", "output", "list", "--installation", "ws-1234", "--output", "json"},
		},
	)
	calls := fake.Calls(t)
	var got [][]string
	for _, c := range calls {
		got = append(got, c.Argv())
	}
	require.Equal(t, want, got)

	// Each ran with AzureTRE's porter environment, exactly: the agent's
	// other settings (its Service Bus, its bundle values) stay out.
	wantEnv := []string{
		"ARM_CLIENT_ID=msi-client-1",
		"ARM_CLIENT_SECRET=",
		"ARM_ENVIRONMENT=public",
		"ARM_SUBSCRIPTION_ID=sub-1",
		"ARM_TENANT_ID=tenant-1",
		"AZURE_ENVIRONMENT=AzureCloud",
		"HOME=" + home,
		"KEY_VAULT_URL=https://kv-test.vault.azure.net/",
		"PATH=" + env["PATH"],
	}
	for _, c := range calls {
		require.Equal(t, wantEnv, slices.Sorted(slices.Values(c.Env)), "environment of %v", c.Argv())
	}

	// The files porter read: its configuration, and the credential sets
	// as applied.
	config, err := os.ReadFile(filepath.Join(porterHome, "config.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(porter.DefaultConfigFile()), string(config))
	require.Contains(t, string(config), "plugin: mongodb\n    config:\n      url: ${secret.porter-db-connection-string}")
	require.Contains(t, string(config), "plugin: azure.keyvault\n    config:\n      vault-url: ${env.KEY_VAULT_URL}")
	var applied []porter.CredentialSet
	for _, c := range calls[3+3 : 3+5] {
		var cs porter.CredentialSet
		require.NoError(t, json.Unmarshal([]byte(c.File), &cs))
		applied = append(applied, cs)
	}
	require.Equal(t, porter.AzureTRECredentialSets(), applied)
	require.Equal(t, []porter.Credential{
		{Name: "azure_client_id", Source: porter.CredentialSource{Env: "ARM_CLIENT_ID"}},
		{Name: "azure_client_secret", Source: porter.CredentialSource{Env: "ARM_CLIENT_SECRET"}},
		{Name: "azure_subscription_id", Source: porter.CredentialSource{Env: "ARM_SUBSCRIPTION_ID"}},
		{Name: "azure_tenant_id", Source: porter.CredentialSource{Env: "ARM_TENANT_ID"}},
	}, applied[0].Credentials)
	require.Equal(t, []porter.Credential{
		{Name: "auth_tenant_id", Source: porter.CredentialSource{Secret: "auth-tenant-id"}},
		{Name: "auth_client_id", Source: porter.CredentialSource{Secret: "application-admin-client-id"}},
		{Name: "auth_client_secret", Source: porter.CredentialSource{Secret: "application-admin-client-secret"}},
	}, applied[1].Credentials)
}

// An agent whose porter cannot run bundles stops at start, saying why,
// and takes no work.
func TestAgentStopsWhenPorterIsNotSetUp(t *testing.T) {
	fake := portertest.Install(t, portertest.Spec{
		PorterVersion: "v1.2.1",
		Mixins:        map[string]string{"exec": "v1.2.1", "terraform": "v1.0.5", "az": "v1.0.4"},
		Vault:         map[string]string{"porter-db-connection-string": "mongodb://x"},
	})
	env := vmSettings(fake, t.TempDir(), t.TempDir())
	t.Setenv("PATH", env["PATH"])
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" }
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"run"}, lookup, nil, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Equal(t, "tre-processor: porter: setup: porter is v1.2.1, want v1.4.0; "+
		"the az mixin is v1.0.4, want v1.0.7; the exec mixin is v1.2.1, want v1.4.0; the terraform mixin is v1.0.5, want v1.0.8; "+
		"the azure plugin is not installed, want v1.2.4 (processor-vm/cloud-init.yaml installs them: run tre-processor-setup as root)\n", stderr.String())
	for _, c := range fake.Calls(t) {
		require.NotContains(t, []string{"explain", "install", "credentials"}, c.Args[0], "nothing ran with the wrong porter")
	}
}
