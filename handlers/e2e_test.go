package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
)

// TestMain lets the test binary run as tre-handler (for the tests that
// kill it): TRE_TEST_AS_HANDLER=1 makes it the program.
func TestMain(m *testing.M) {
	if os.Getenv("TRE_TEST_AS_HANDLER") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, nil, os.LookupEnv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// startLocal runs Main with the sandbox templates registered.
func startLocal(t *testing.T, dir string, extra map[string]string) *handler {
	t.Helper()
	env := map[string]string{"TRE_REGISTER_TEMPLATES": "true", "TRE_SWEEP_INTERVAL": "1s", "TRE_WATCHDOG_INTERVAL": "1s",
		"TRE_PROCESSOR_HEARTBEAT": "200ms"}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := loadConfig(envOf(dir, env))
	require.NoError(t, err)
	return startConfig(t, dir, cfg)
}

// waitOp polls an operation (by its Location) until it ends, within a
// deadline.
func (h *handler) waitOp(location, token string) map[string]any {
	h.t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r := h.do("GET", location, token, nil)
		require.Equal(h.t, 200, r.status, "body: %s", r.body)
		op := r.json(h.t)["operation"].(map[string]any)
		switch st := op["status"].(string); {
		case strings.HasPrefix(st, "awaiting"), st == "deploying", st == "updating", st == "deleting", st == "invoking_action", st == "pipeline_running":
		default:
			return op
		}
		select {
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("operation %s did not end", location)
			return nil
		}
	}
}

func (h *handler) mutate(method, path, token string, body any, headers ...string) string {
	h.t.Helper()
	r := h.do(method, path, token, body, headers...)
	require.Contains(h.t, []int{200, 202}, r.status, "%s %s: %s", method, path, r.body)
	loc := r.header.Get("Location")
	require.NotEmpty(h.t, loc)
	return loc
}

func idFrom(location string, segment int) string { return strings.Split(location, "/")[segment] }

// assertAllEnded checks that no operation is left in progress.
func (h *handler) assertAllEnded(admin string) {
	h.t.Helper()
	r := h.do("GET", "/api/operations", admin, nil)
	require.Equal(h.t, 200, r.status)
	require.Empty(h.t, r.json(h.t)["operations"], "operations still in progress")
}

func TestLocalLoopEndToEnd(t *testing.T) {
	h := startLocal(t, t.TempDir(), nil)
	admin := h.token("TREAdmin", "alice")
	owner := h.token("TREUser", "olivia")

	loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "E2E", "description": "d", "address_space_size": "small"}})
	op := h.waitOp(loc, admin)
	require.Equal(t, "deployed", op["status"], "%v", op)
	ws := idFrom(loc, 3)
	w := h.do("GET", "/api/workspaces/"+ws, admin, nil).json(t)["workspace"].(map[string]any)
	props := w["properties"].(map[string]any)
	require.Equal(t, "https://e2e-"+ws[len(ws)-4:]+".sandbox.local", props["connection_uri"], "the bundle's outputs are in the properties")
	require.Equal(t, "stgws"+ws[len(ws)-4:], props["storage_account_name"])

	require.Equal(t, 202, h.do("POST", "/api/workspaces/"+ws+"/users/assign", admin,
		map[string]any{"role_id": "WorkspaceOwner", "user_ids": []string{auth.DevUserID("olivia")}}).status)
	loc = h.mutate("POST", "/api/workspaces/"+ws+"/workspace-services", owner, map[string]any{"templateName": "tre-service-sandbox",
		"properties": map[string]any{"display_name": "Svc", "description": "d", "max_vms": 2}})
	require.Equal(t, "deployed", h.waitOp(loc, owner)["status"])
	svc := idFrom(loc, 5)
	svcPath := "/api/workspaces/" + ws + "/workspace-services/" + svc
	require.Contains(t, readFile(t, filepath.Join(h.dir, "firewall.json")), svc+".arc_sandbox_sites", "the service's egress is in the (file) firewall")

	loc = h.mutate("POST", svcPath+"/user-resources", owner, map[string]any{"templateName": "tre-user-resource-sandbox-vm",
		"properties": map[string]any{"display_name": "VM", "description": "d", "vm_size": "small", "admin_password": "Sup3r-Secret-Pw!"}})
	op = h.waitOp(loc, owner)
	require.Equal(t, "deployed", op["status"], "%v", op)
	require.Len(t, op["steps"], 2, "main step, then the step on the parent service")
	names := h.do("GET", svcPath, owner, nil).json(t)["workspaceService"].(map[string]any)["properties"].(map[string]any)["vm_names"]
	require.Len(t, names, 1, "the pipeline step changed the service")

	loc = h.mutate("POST", svcPath+"/invoke-action?action=restart", owner, nil)
	require.Equal(t, "action_succeeded", h.waitOp(loc, owner)["status"])

	etag := h.do("GET", "/api/workspaces/"+ws, admin, nil).json(t)["workspace"].(map[string]any)["_etag"].(string)
	loc = h.mutate("PATCH", "/api/workspaces/"+ws, admin, map[string]any{"isEnabled": false}, "If-Match", `"`+etag+`"`)
	op = h.waitOp(loc, admin)
	require.Equal(t, "updated", op["status"])
	require.Len(t, op["steps"], 5, "the VM (main and its pipeline step), the service (its egress, its bundle), the workspace")
	require.Equal(t, "firewall", op["steps"].([]any)[2].(map[string]any)["kind"], "a disabled service's egress closes")
	require.NotContains(t, readFile(t, filepath.Join(h.dir, "firewall.json")), svc)
	loc = h.mutate("DELETE", "/api/workspaces/"+ws, admin, nil)
	require.Equal(t, "deleted", h.waitOp(loc, admin)["status"])
	require.Equal(t, 404, h.do("GET", "/api/workspaces/"+ws, admin, nil).status)

	// A failing install: its own error text, then disable and delete work.
	loc = h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "Bad", "description": "d", "address_space_size": "small", "fail_install": true}})
	op = h.waitOp(loc, admin)
	require.Equal(t, "deployment_failed", op["status"])
	require.Contains(t, op["message"], "sandbox: simulated failure: fail_install is set")
	bad := idFrom(loc, 3)
	etag = h.do("GET", "/api/workspaces/"+bad, admin, nil).json(t)["workspace"].(map[string]any)["_etag"].(string)
	require.Equal(t, "updated", h.waitOp(h.mutate("PATCH", "/api/workspaces/"+bad, admin, map[string]any{"isEnabled": false}, "If-Match", etag), admin)["status"])
	require.Equal(t, "deleted", h.waitOp(h.mutate("DELETE", "/api/workspaces/"+bad, admin, nil), admin)["status"])

	h.assertAllEnded(admin)
	require.NotContains(t, h.logs.String(), "Sup3r-Secret-Pw!", "the VM's password is in no log")
}

// TestSurvivesSIGKILL kills tre-handler (the real program, in a child
// process) while a bundle runs and starts it again: the request comes back
// when its lock expires, the bundle runs again, and the operation ends.
func TestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a child process")
	}
	dir := t.TempDir()
	start := childHandler(t, childEnv(dir, nil))
	cmd, url := start()
	h := &handler{t: t, dir: dir, url: url, logs: &syncBuffer{}}
	admin := h.token("TREAdmin", "alice")
	loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "Slow", "description": "d", "address_space_size": "small", "install_seconds": 3}})
	require.Eventually(t, func() bool {
		op := h.do("GET", loc, admin, nil).json(t)["operation"].(map[string]any)
		return op["status"] == "deploying"
	}, 10*time.Second, 50*time.Millisecond, "the bundle is running")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	cmd, h.url = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	op := h.waitOp(loc, admin)
	require.Equal(t, "deployed", op["status"], fmt.Sprint(op))
	h.assertAllEnded(admin)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// childEnv is the environment of a handler this test binary runs as a
// child process (TestMain runs the handler when TRE_TEST_AS_HANDLER is
// set), with extra settings.
func childEnv(dir string, extra map[string]string) []string {
	env := append(os.Environ(), "TRE_TEST_AS_HANDLER=1", "TRE_DATA_DIR="+dir, "FUNCTIONS_CUSTOMHANDLER_PORT=0",
		"TRE_TEMPLATES_DIR=../templates", "TRE_QUEUE_LOCK_DURATION=2s", "TRE_PROCESSOR_HEARTBEAT=300ms", "TRE_SWEEP_INTERVAL=1s")
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// childHandler returns a function that starts the child handler with env
// and returns it with its URL once it says it is ready.
func childHandler(t *testing.T, env []string) func() (*exec.Cmd, string) {
	return func() (*exec.Cmd, string) {
		t.Helper()
		cmd := exec.Command(os.Args[0])
		cmd.Env = env
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		urls := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var line map[string]any
				if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "handler ready" {
					urls <- line["url"].(string)
				}
			}
		}()
		select {
		case u := <-urls:
			return cmd, u
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("the child handler did not start")
		}
		return nil, ""
	}
}
