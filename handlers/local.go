package main

import (
	"path/filepath"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/processor"
	"github.com/tre-go/tre/internal/tre"
)

// In local mode the handler also runs what Azure provides around it: the
// Resource Processor agent, with the local bundle runner (a simulation of
// Porter for exec-only bundles), and a stand-in for the Functions host
// that delivers status messages and timers to this handler over HTTP, as
// the host would. Each can be turned on or off (TRE_LOCAL_PROCESSOR,
// TRE_LOCAL_HOST), for example to run them against the Azure adapters.

func (m *Main) localAgent() (*processor.Agent, error) {
	runner, err := localrunner.New(localrunner.Config{
		TemplatesDir: m.Config.TemplatesDir,
		StateDir:     filepath.Join(m.Config.DataDir, "local-runner"),
		WorkDir:      filepath.Join(m.Config.DataDir, "work"),
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

func (m *Main) localHost() *funchost.Host {
	return &funchost.Host{
		Queue: m.queue, Log: m.Log.With("component", "local-host"),
		Queues: []funchost.QueueTrigger{{Function: api.FunctionDeploymentStatus, Queue: tre.QueueStatus,
			Binding: api.TriggerBindings()[api.FunctionDeploymentStatus]}},
		Timers: []funchost.TimerTrigger{
			{Function: api.FunctionDispatchRedelivery, Binding: api.TriggerBindings()[api.FunctionDispatchRedelivery], Every: m.Config.SweepInterval},
			{Function: api.FunctionOperationsWatchdog, Binding: api.TriggerBindings()[api.FunctionOperationsWatchdog], Every: m.Config.WatchdogInterval},
			{Function: api.FunctionFirewallReconcile, Binding: api.TriggerBindings()[api.FunctionFirewallReconcile], Every: m.Config.FirewallInterval},
		},
	}
}
