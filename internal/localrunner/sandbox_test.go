package localrunner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/tre"
)

// These tests run the sample bundles of templates/ as they are.

const (
	sandboxWorkspace = "tre-workspace-sandbox"
	sandboxService   = "tre-service-sandbox"
	sandboxVM        = "tre-user-resource-sandbox-vm"
)

// system holds the parameters the API adds to every resource.
func system(props map[string]any) map[string]any {
	out := map[string]any{"tre_id": "mytre", "azure_location": "uksouth"}
	for k, v := range props {
		out[k] = v
	}
	return out
}

func TestSandboxWorkspaceLifecycle(t *testing.T) {
	r, cfg := newRunner(t, samples)
	ctx := context.Background()
	const id = "0f3c2a9e-1b7d-4c55-9e0a-4f2b8d6c9a71"

	res, err := r.Run(ctx, job(sandboxWorkspace, tre.ActionInstall, id, system(map[string]any{
		"id": id, "display_name": "My Sandbox!", "address_space_size": "small",
		"address_spaces": []any{"10.1.0.0/24"},
	})))
	require.NoError(t, err)
	require.Empty(t, res.Message, "a plain success leaves the message to the processor")
	require.Equal(t, map[string]any{
		"connection_uri":          "https://my-sandbox-9a71.sandbox.local",
		"storage_account_name":    "stgws9a71",
		"shared_storage_quota_gb": float64(50),
	}, outputs(t, res))
	spaces, err := os.ReadFile(filepath.Join(stateDir(cfg, id), "address_spaces"))
	require.NoError(t, err)
	require.JSONEq(t, `["10.1.0.0/24"]`, string(spaces), "the array reached the bundle as base64 JSON in a file")

	res, err = r.Run(ctx, job(sandboxWorkspace, tre.ActionUpgrade, id, system(map[string]any{
		"id": id, "display_name": "Renamed", "shared_storage_quota": 100,
	})))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"connection_uri":          "https://my-sandbox-9a71.sandbox.local", // made at install, kept
		"storage_account_name":    "stgws9a71",
		"shared_storage_quota_gb": float64(100),
	}, outputs(t, res))

	res, err = r.Run(ctx, job(sandboxWorkspace, tre.ActionUninstall, id, system(map[string]any{"id": id})))
	require.NoError(t, err)
	require.Empty(t, res.Message, "a plain success leaves the message to the processor")
	_, err = os.Stat(installationDir(cfg, id))
	require.ErrorIs(t, err, os.ErrNotExist, "uninstall removed the workspace's state")

	res, err = r.Run(ctx, job(sandboxWorkspace, tre.ActionUninstall, id, system(map[string]any{"id": id})))
	require.NoError(t, err)
	require.Contains(t, res.Message, "nothing to uninstall")
}

func TestSandboxUpgradeOfMissingInstallationInstalls(t *testing.T) {
	r, _ := newRunner(t, samples)
	res, err := r.Run(context.Background(), job(sandboxService, tre.ActionUpgrade, "svc-0001", system(map[string]any{
		"id": "svc-0001", "workspace_id": "ws-1", "max_vms": 3,
	})))
	require.NoError(t, err)
	require.Contains(t, res.Message, "was not installed, so install ran instead of upgrade")
	got := outputs(t, res)
	require.Equal(t, "https://service-0001.sandbox.local", got["connection_uri"])
	require.Equal(t, float64(0), got["restart_count"], "install's outputs: restart_count applies to install, not upgrade")

	_, err = r.Run(context.Background(), job(sandboxService, "restart", "svc-0001", system(map[string]any{"id": "svc-0001", "workspace_id": "ws-1"})))
	require.NoError(t, err, "the installation now exists")
}

func TestSandboxFailInstall(t *testing.T) {
	tests := []struct {
		bundle, step, what string
		params             map[string]any
	}{
		{sandboxWorkspace, "Deploy the sandbox workspace", "workspace", nil},
		{sandboxService, "Deploy the sandbox workspace service", "workspace service", map[string]any{"workspace_id": "ws-1"}},
		{sandboxVM, "Deploy the sandbox VM", "VM", map[string]any{
			"workspace_id": "ws-1", "parent_service_id": "svc-1", "admin_password": "Correct-Horse-42",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.bundle, func(t *testing.T) {
			r, cfg := newRunner(t, samples)
			params := system(map[string]any{"id": "res-0001", "fail_install": true})
			for k, v := range tt.params {
				params[k] = v
			}
			log := &logBuffer{}
			j := job(tt.bundle, tre.ActionInstall, "res-0001", params)
			j.Output = log
			_, err := r.Run(context.Background(), j)
			require.Error(t, err)
			require.Equal(t, `localrunner: install of `+tt.bundle+` 0.1.0: step "`+tt.step+`" exited with code 1: `+
				`sandbox: simulated failure: fail_install is set, so the install of this `+tt.what+` fails`, err.Error())
			var se *localrunner.StepError
			require.True(t, errors.As(err, &se))
			require.Equal(t, 1, se.ExitCode)
			require.Contains(t, log.String(), "\x1b[31msandbox: simulated failure", "the bundle wrote it in colour; the error has none")
			if pw, ok := tt.params["admin_password"].(string); ok {
				require.NotContains(t, err.Error(), pw)
				require.NotContains(t, log.String(), pw)
			}
			// The failed install left an installation behind, as Porter
			// does: it is not installed, and uninstall runs the bundle.
			_, statErr := os.Stat(installationDir(cfg, "res-0001"))
			require.NoError(t, statErr)
			res, err := r.Run(context.Background(), job(tt.bundle, tre.ActionUninstall, "res-0001", params))
			require.NoError(t, err)
			require.Empty(t, res.Message, "a plain success leaves the message to the processor")
		})
	}
}

func TestSandboxCustomActionNeedsAnInstalledService(t *testing.T) {
	r, _ := newRunner(t, samples)
	ctx := context.Background()
	params := system(map[string]any{"id": "svc-0002", "workspace_id": "ws-1"})
	_, err := r.Run(ctx, job(sandboxService, "restart", "svc-0002", params))
	require.ErrorContains(t, err, "installation svc-0002 does not exist: install it before running a custom action")

	failing := system(map[string]any{"id": "svc-0002", "workspace_id": "ws-1", "fail_install": true})
	_, err = r.Run(ctx, job(sandboxService, tre.ActionInstall, "svc-0002", failing))
	require.Error(t, err)
	_, err = r.Run(ctx, job(sandboxService, "restart", "svc-0002", params))
	require.ErrorContains(t, err, "installation svc-0002 is not installed (its install did not succeed)")
}

func vmNames(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"id": id, "name": "VM " + id}
	}
	return out
}

func TestSandboxServiceRestartAndVMList(t *testing.T) {
	r, _ := newRunner(t, samples)
	ctx := context.Background()
	params := func(extra map[string]any) map[string]any {
		p := system(map[string]any{"id": "svc-abcd", "workspace_id": "ws-1", "display_name": "Desktops", "max_vms": 2})
		for k, v := range extra {
			p[k] = v
		}
		return p
	}

	res, err := r.Run(ctx, job(sandboxService, tre.ActionInstall, "svc-abcd", params(map[string]any{"vm_names": vmNames("vm-1")})))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"connection_uri": "https://desktops-abcd.sandbox.local",
		"vm_count":       float64(1),
		"restart_count":  float64(0),
	}, outputs(t, res))

	for want := 1; want <= 2; want++ {
		res, err = r.Run(ctx, job(sandboxService, "restart", "svc-abcd", params(nil)))
		require.NoError(t, err)
		require.Empty(t, res.Message)
		got := outputs(t, res)
		require.Equal(t, float64(want), got["restart_count"])
		require.Equal(t, "https://desktops-abcd.sandbox.local", got["connection_uri"], "the installation's other outputs are listed too")
	}

	// What a VM's install pipeline does: upgrade the service with one more VM.
	res, err = r.Run(ctx, job(sandboxService, tre.ActionUpgrade, "svc-abcd", params(map[string]any{"vm_names": vmNames("vm-1", "vm-2")})))
	require.NoError(t, err)
	require.Equal(t, float64(2), outputs(t, res)["vm_count"])
	require.Equal(t, float64(2), outputs(t, res)["restart_count"], "kept from the last restart")

	_, err = r.Run(ctx, job(sandboxService, tre.ActionUpgrade, "svc-abcd", params(map[string]any{"vm_names": vmNames("vm-1", "vm-2", "vm-3")})))
	require.ErrorContains(t, err, "sandbox: the service takes at most 2 VMs, and 3 are asked for: raise max_vms first")

	res, err = r.Run(ctx, job(sandboxService, tre.ActionUpgrade, "svc-abcd", params(map[string]any{"vm_names": vmNames("vm-2")})))
	require.NoError(t, err)
	require.Equal(t, float64(1), outputs(t, res)["vm_count"], "a VM removed by its uninstall pipeline")
}

func TestSandboxVM(t *testing.T) {
	r, cfg := newRunner(t, samples)
	ctx := context.Background()
	const password = "Tr0ub4dor&3-never-shown"
	msg := &tre.ResourceRequest{ID: "vm-7e57", WorkspaceID: "ws-1", ParentWorkspaceServiceID: "svc-1", OwnerID: "user-1"}
	run := func(action string, props map[string]any) (tre.JobResult, string, error) {
		log := &logBuffer{}
		j := job(sandboxVM, action, "vm-7e57", system(props))
		j.Message, j.Output = msg, log
		res, err := r.Run(ctx, j)
		return res, log.String(), err
	}
	var logs []string

	res, log, err := run(tre.ActionInstall, map[string]any{"display_name": "Analysis VM", "vm_size": "medium", "admin_password": password})
	require.NoError(t, err)
	logs = append(logs, log)
	require.Equal(t, map[string]any{
		"connection_uri": "https://analysis-vm-7e57.sandbox.local",
		"azure_vm_sku":   "Standard_D4s_v5",
		"power_state":    "running",
	}, outputs(t, res))
	hash, err := os.ReadFile(filepath.Join(stateDir(cfg, "vm-7e57"), "admin_password.sha256"))
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(password))
	require.Equal(t, hex.EncodeToString(sum[:]), string(hash), "the password reached the bundle intact")

	for _, state := range []string{"stopped", "running"} {
		action := map[string]string{"stopped": "stop", "running": "start"}[state]
		res, log, err = run(action, nil)
		require.NoError(t, err)
		logs = append(logs, log)
		require.Equal(t, state, outputs(t, res)["power_state"])
	}

	// admin_password applies to install only: an upgrade needs none.
	res, log, err = run(tre.ActionUpgrade, map[string]any{"display_name": "Renamed VM", "vm_size": "large"})
	require.NoError(t, err)
	logs = append(logs, log)
	require.Equal(t, map[string]any{
		"connection_uri": "https://analysis-vm-7e57.sandbox.local",
		"azure_vm_sku":   "Standard_E8s_v5",
		"power_state":    "running",
	}, outputs(t, res))

	// The password is in no output, log, state file or error.
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NotContains(t, string(b), password)
	for _, l := range logs {
		require.NotContains(t, l, password)
	}
	require.NotContains(t, readTree(t, cfg.StateDir), password)
	_, log, err = run(tre.ActionInstall, map[string]any{"admin_password": password, "vm_size": "huge"})
	require.ErrorContains(t, err, "sandbox: vm_size must be small, medium or large")
	require.NotContains(t, err.Error(), password)
	require.NotContains(t, log, password)
}

func TestSandboxConcurrentInstalls(t *testing.T) {
	r, _ := newRunner(t, samples)
	ids := []string{"ws-aaaa", "ws-bbbb", "ws-cccc"}
	results := make([]tre.JobResult, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Run(context.Background(), job(sandboxWorkspace, tre.ActionInstall, id,
				system(map[string]any{"id": id, "display_name": "Team " + id})))
		}()
	}
	wg.Wait()
	for i, id := range ids {
		require.NoError(t, errs[i])
		short := strings.TrimPrefix(id, "ws-")
		require.Equal(t, "https://team-ws-"+short+"-"+short+".sandbox.local", outputs(t, results[i])["connection_uri"])
	}
}
