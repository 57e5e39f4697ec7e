package egress_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/tre"
)

// slowFirewall is a firewall whose writes of one group take until the
// caller's time is up, as Azure Firewall's policy updates take minutes.
type slowFirewall struct {
	tre.Firewall
	group   string
	blocked chan struct{}
}

func (s *slowFirewall) Put(ctx context.Context, g tre.RuleCollectionGroup) error {
	if g.Name == s.group {
		close(s.blocked)
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Firewall.Put(ctx, g)
}

// A run whose time is up mid-reconcile leaves its steps running, saying
// so, with what it wrote kept; the next run finishes them.
func TestFirewallStepsResumeAfterTheirTimeRanOut(t *testing.T) {
	f := newFixture(t)
	f.registerEgress()
	ws := f.deployedWorkspace()
	_, op := f.createWebService(ws, "pypi.org")

	slow := &slowFirewall{Firewall: f.file, group: "rcg-tre-application", blocked: make(chan struct{})}
	fw, err := egress.New(f.store, slow, f.lc, f.signal, egress.Config{Holder: "test",
		Firewall: firewall.Config{CoreIPGroups: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tre1"}}, egress.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	timeUp := errors.New("time up")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- fw.RunSteps(ctx) }()
	<-slow.blocked
	cancel(timeUp)
	err = <-done
	require.ErrorIs(t, err, timeUp)

	step := f.operation(op.ID).Steps[0]
	require.Equal(t, tre.StepFirewall, step.Kind)
	require.Equal(t, tre.StatusesFor(tre.StepFirewall).Running, step.Status, step.Message)
	require.Contains(t, step.Message, "the next firewall-reconcile run resumes")
	require.Empty(t, f.fqdnsInFirewall()["rcg-tre-application"], "not written yet")

	f.runSteps() // the next run, with time to finish
	step = f.operation(op.ID).Steps[0]
	require.Equal(t, tre.PhaseSucceeded, step.Status.Phase(), step.Message)
	require.Equal(t, []string{"pypi.org"}, f.fqdnsInFirewall()["rcg-tre-application"])
}
