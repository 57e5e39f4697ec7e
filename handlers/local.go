package main

import (
	"path/filepath"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/processor"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// In local mode the handler also runs what Azure provides around it: the
// Resource Processor agent, with the local bundle runner (a simulation of
// Porter for exec-only bundles, which simulates the others when
// TRE_SIMULATE_BUNDLES is on), and a stand-in for the Functions host
// that delivers status messages and timers to this handler over HTTP, as
// the host would. Each can be turned on or off (TRE_LOCAL_PROCESSOR,
// TRE_LOCAL_HOST), for example to run them against the Azure adapters.

func (m *Main) localAgent(reg *registry.Registry) (*processor.Agent, error) {
	runner, err := localrunner.New(localrunner.Config{
		TemplatesDir: m.Config.TemplatesDir,
		StateDir:     filepath.Join(m.Config.DataDir, "local-runner"),
		WorkDir:      filepath.Join(m.Config.DataDir, "work"),
		Simulate:     m.Config.SimulateBundles,
		Declarations: reg,
		Sources:      localSources,
	})
	if err != nil {
		return nil, err
	}
	return processor.New(m.queue, runner, m.secrets, processor.Config{
		AgentID: "local-processor", Workers: m.Config.Workers, HeartbeatEvery: m.Config.Heartbeat,
		DrainTimeout: m.Config.DrainTimeout, RenewEvery: m.Config.LockDuration / 3,
		AgentHeartbeatEvery: m.Config.AgentHeartbeat, Version: version,
	}, m.Log.With("component", "processor")), nil
}

// localSources stand in for the processor's configuration and the
// RP_BUNDLE_* values AzureTRE deploys (docs/bundle-parameters.md), so that
// AzureTRE's bundles, which require tfstate_resource_group_name,
// core_api_client_id or firewall_policy_id, can be simulated locally.
// They are placeholders: nothing reaches Azure in local mode.
var localSources = bundle.Sources{
	Agent: map[string]string{
		"registry_server":              "simulated.azurecr.io",
		"tfstate_container_name":       "tfstate",
		"tfstate_resource_group_name":  "simulated-mgmt-rg",
		"tfstate_storage_account_name": "simulatedtfstate",
	},
	Bundle: map[string]string{
		"enable_cmk_encryption":                  "false",
		"key_store_id":                           "",
		"ui_client_id":                           "simulated-ui-client-id",
		"auto_grant_workspace_consent":           "false",
		"enable_airlock_malware_scanning":        "false",
		"airlock_malware_scan_result_topic_name": "",
		"core_api_client_id":                     "simulated-core-api-client-id",
		"firewall_policy_id":                     "simulated-firewall-policy-id",
	},
}

func (m *Main) localHost() *funchost.Host {
	return &funchost.Host{
		Queue: m.queue, Log: m.Log.With("component", "local-host"), RenewEvery: m.Config.LockDuration / 3,
		TriggerKey: m.trigger,
		Queues: []funchost.QueueTrigger{
			{Function: api.FunctionDeploymentStatus, Queue: tre.QueueStatus, Binding: api.TriggerBindings()[api.FunctionDeploymentStatus]},
			{Function: api.FunctionAirlockStatusChanged, Queue: tre.QueueAirlockStatus, Binding: api.TriggerBindings()[api.FunctionAirlockStatusChanged]},
		},
		Timers: []funchost.TimerTrigger{
			{Function: api.FunctionDispatchRedelivery, Binding: api.TriggerBindings()[api.FunctionDispatchRedelivery], Every: m.Config.SweepInterval},
			{Function: api.FunctionOperationsWatchdog, Binding: api.TriggerBindings()[api.FunctionOperationsWatchdog], Every: m.Config.WatchdogInterval},
			{Function: api.FunctionFirewallReconcile, Binding: api.TriggerBindings()[api.FunctionFirewallReconcile], Every: m.Config.FirewallInterval},
			{Function: api.FunctionAirlockSweep, Binding: api.TriggerBindings()[api.FunctionAirlockSweep], Every: m.Config.Airlock.SweepInterval},
			{Function: api.FunctionUpgradeBatches, Binding: api.TriggerBindings()[api.FunctionUpgradeBatches], Every: m.Config.UpgradeInterval},
		},
	}
}
