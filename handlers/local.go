package main

import (
	"context"
	"path/filepath"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/processor"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// local is what Azure provides around the handler, run in-process when no
// Azure settings are given: the embedded queue, the Resource Processor
// agent with the local bundle runner (a simulation of Porter for exec-only
// bundles), and a stand-in for the Functions host that delivers status
// messages and timers to this handler over HTTP, as the host would.
type local struct {
	queue *sqlite.Queue
	agent *processor.Agent
	host  *funchost.Host
}

func (m *Main) openLocal(secrets tre.Secrets) (*local, error) {
	q := sqlite.NewQueue(m.db, sqlite.QueueOptions{LockDuration: m.Config.LockDuration, MaxDeliveryCount: m.Config.MaxDelivery})
	runner, err := localrunner.New(localrunner.Config{
		TemplatesDir: m.Config.TemplatesDir,
		StateDir:     filepath.Join(m.Config.DataDir, "local-runner"),
		WorkDir:      filepath.Join(m.Config.DataDir, "work"),
	})
	if err != nil {
		q.Close()
		return nil, err
	}
	agent := processor.New(q, runner, secrets, processor.Config{
		AgentID: "local-processor", Workers: m.Config.Workers, HeartbeatEvery: m.Config.Heartbeat,
		DrainTimeout: m.Config.DrainTimeout, RenewEvery: m.Config.LockDuration / 3,
	}, m.Log.With("component", "processor"))
	host := &funchost.Host{
		Queue: q, Log: m.Log.With("component", "local-host"),
		Queues: []funchost.QueueTrigger{{Function: api.FunctionDeploymentStatus, Queue: tre.QueueStatus, Binding: "msg"}},
		Timers: []funchost.TimerTrigger{
			{Function: api.FunctionDispatchRedelivery, Binding: "timer", Every: m.Config.SweepInterval},
			{Function: api.FunctionOperationsWatchdog, Binding: "timer", Every: m.Config.WatchdogInterval},
		},
	}
	return &local{queue: q, agent: agent, host: host}, nil
}

// run runs the agent and the host until ctx ends; it returns when both
// have stopped (the agent after draining its running bundles).
func (l *local) run(ctx context.Context, handlerURL string) <-chan struct{} {
	l.host.HandlerURL = handlerURL
	done := make(chan struct{})
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		_ = l.agent.Run(ctx)
	}()
	go func() {
		defer close(done)
		_ = l.host.Run(ctx)
		<-agentDone
	}()
	return done
}
