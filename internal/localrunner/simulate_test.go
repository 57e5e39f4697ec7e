package localrunner_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/tre"
)

// simulating turns simulation on, with the processor's configuration a
// bundle like AzureTRE's needs.
func simulating(decls localrunner.Declarations) func(*localrunner.Config) {
	return func(c *localrunner.Config) {
		c.Simulate, c.Declarations = true, decls
		c.Sources = bundle.Sources{Agent: map[string]string{"tfstate_resource_group_name": "rg-mgmt"}}
	}
}

func TestSimulatesABundleOfOtherMixins(t *testing.T) {
	r, cfg := newRunner(t, testBundles, simulating(nil))
	ctx := context.Background()
	const ws = "0f3c2a9e-1b7d-4c55-9e0a-4f2b8d6c9a71"
	j := tre.Job{Action: tre.ActionInstall, Installation: "svc-1", Bundle: "test-simulated", Version: "0.1.0",
		Message: &tre.ResourceRequest{ID: "svc-1", WorkspaceID: ws}}
	log := &logBuffer{}
	j.Output = log
	res, err := r.Run(ctx, j)
	require.NoError(t, err)
	require.Equal(t, "Simulated by the local runner: test-simulated 0.1.0 did not run because its steps use the az, terraform mixins, "+
		"which the local runner cannot run; nothing was deployed, and its outputs (connection_uri, exposed, settings, vm_count) are placeholders.",
		res.Message)
	require.Equal(t, map[string]any{
		"connection_uri": "simulated-connection_uri-svc-1",
		"exposed":        false,
		"settings":       map[string]any{"simulated": true},
		"vm_count":       float64(0),
	}, outputs(t, res))
	require.Contains(t, log.String(), "simulating install of test-simulated 0.1.0 (installation svc-1)")

	// An upgrade and a custom action run as simulations of an installed
	// installation; outputs of earlier runs are kept.
	j.Action = "start"
	j.Parameters = map[string]any{"only_for_start": "yes"}
	res, err = r.Run(ctx, j)
	require.NoError(t, err)
	require.Equal(t, "simulated-power_state-svc-1", outputs(t, res)["power_state"])
	require.Equal(t, "simulated-connection_uri-svc-1", outputs(t, res)["connection_uri"])
	_, err = r.Run(ctx, tre.Job{Action: "nope", Installation: "svc-1", Bundle: "test-simulated", Version: "0.1.0"})
	require.ErrorContains(t, err, "has no nope action (it has: install, upgrade, uninstall, start)")

	j.Action, j.Parameters = tre.ActionUninstall, nil
	res, err = r.Run(ctx, j)
	require.NoError(t, err)
	require.Empty(t, res.Outputs)
	require.Contains(t, res.Message, "Simulated by the local runner")
	_, err = os.Stat(installationDir(cfg, "svc-1"))
	require.ErrorIs(t, err, os.ErrNotExist, "uninstall removes the installation")
}

func TestSimulationChecksParametersAsPorter(t *testing.T) {
	ctx := context.Background()
	// Without the processor's configuration mgmt_resource_group_name has
	// no value, and workspace_id none without a workspace in the request.
	r, cfg := newRunner(t, testBundles, func(c *localrunner.Config) { c.Simulate = true })
	_, err := r.Run(ctx, tre.Job{Action: tre.ActionInstall, Installation: "svc-2", Bundle: "test-simulated", Version: "0.1.0"})
	require.EqualError(t, err, `localrunner: bundle test-simulated 0.1.0: install: parameter "mgmt_resource_group_name" is required; parameter "workspace_id" is required`)
	_, statErr := os.Stat(installationDir(cfg, "svc-2"))
	require.ErrorIs(t, statErr, os.ErrNotExist, "refused before anything was recorded")

	r, _ = newRunner(t, testBundles, simulating(nil))
	_, err = r.Run(ctx, tre.Job{Action: tre.ActionInstall, Installation: "svc-3", Bundle: "test-simulated", Version: "0.1.0",
		Parameters: map[string]any{"workspace_id": "ws", "vm_count": "many"}})
	require.ErrorContains(t, err, "parameter vm_count: the bundle declares it an integer, and the value is not one")
	require.NotContains(t, err.Error(), "many", "errors name parameters, not values")
}

// declarations is a registry of bundle declarations.
type declarations map[string]*tre.BundleDeclaration

func (d declarations) Declaration(_ context.Context, name, version string) (*tre.BundleDeclaration, error) {
	if decl, ok := d[name+"@"+version]; ok {
		return decl, nil
	}
	return nil, tre.Errorf(tre.CodeNotFound, "no declaration")
}

// A template registered through the API, whose files are not in the
// templates directory, is simulated from its registered declaration.
func TestSimulatesARegisteredBundle(t *testing.T) {
	decls := declarations{"tre-service-registered@1.2.0": {
		Mixins: []string{"exec", "terraform"},
		Parameters: []tre.BundleParameter{
			{Name: "id", Type: "string", Required: true},
			{Name: "mgmt_resource_group_name", Type: "string", Required: true},
			{Name: "display_name", Type: "string", Default: ""},
		},
		Outputs: []tre.BundleOutput{{Name: "connection_uri", Type: "string"}},
	}}
	r, _ := newRunner(t, testBundles, simulating(decls))
	res, err := r.Run(context.Background(), tre.Job{Action: tre.ActionInstall, Installation: "svc-4", Bundle: "tre-service-registered", Version: "1.2.0"})
	require.NoError(t, err)
	require.Equal(t, "Simulated by the local runner: tre-service-registered 1.2.0 did not run because it was registered through the API "+
		"and its files are not in the templates directory (its steps use the terraform mixin); nothing was deployed, and its output connection_uri is a placeholder.", res.Message)
	require.Equal(t, "simulated-connection_uri-svc-4", outputs(t, res)["connection_uri"])

	_, err = r.Run(context.Background(), tre.Job{Action: tre.ActionInstall, Installation: "svc-5", Bundle: "tre-service-unknown", Version: "1.0.0"})
	require.ErrorContains(t, err, "localrunner: no bundle named tre-service-unknown under ")
	require.ErrorContains(t, err, "nor was a template tre-service-unknown 1.0.0 registered with its bundle's declaration, to simulate it")

	// Without Simulate, neither is run.
	r, _ = newRunner(t, testBundles, func(c *localrunner.Config) { c.Declarations = decls })
	_, err = r.Run(context.Background(), tre.Job{Action: tre.ActionInstall, Installation: "svc-6", Bundle: "tre-service-registered", Version: "1.2.0"})
	require.ErrorContains(t, err, "localrunner: no bundle named tre-service-registered")
	_, err = r.Run(context.Background(), tre.Job{Action: tre.ActionInstall, Installation: "svc-6", Bundle: "test-simulated", Version: "0.1.0"})
	require.ErrorContains(t, err, "uses the terraform mixin: the local runner only runs exec steps")
}
