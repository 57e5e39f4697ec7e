package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/azblobstore/azuritetest"
	"github.com/tre-go/tre/internal/cosmos/cosmostest"
	"github.com/tre-go/tre/internal/servicebus/sbtest"
	"github.com/tre-go/tre/internal/telemetry/otlptest"
)

// The end-to-end walk on the Azure adapters: the handler on the local
// Cosmos-protocol server, the handler and a separate tre-processor on the
// AMQP fake broker (Service Bus), as in Azure but for the Functions host
// (its stand-in delivers deploymentstatus and the timers) and the secret
// store (a file shared by both programs). Without Node.js it is skipped,
// unless TRE_REQUIRE_NODE=1 (CI).
func TestAzureAdaptersEndToEnd(t *testing.T) {
	cosmos := cosmostest.Start(t)
	conn := sbtest.Start(t)
	azurite := azuritetest.Start(t)
	dir := t.TempDir()
	templates, err := filepath.Abs("../templates")
	require.NoError(t, err)

	traces := otlptest.Start(t)
	proc := startProcessor(t, dir, map[string]string{
		"SERVICE_BUS_CONNECTION_STRING": conn, "RP_RUNNER": "local", "TRE_TEMPLATES_DIR": templates,
		"TRE_PROCESSOR_ID": "e2e-vm", "RP_HEALTH_ADDRESS": "127.0.0.1:0", "NUMBER_PROCESSES": "2",
		"RP_HEARTBEAT_INTERVAL": "1s", "RP_AGENT_HEARTBEAT_INTERVAL": "1s", "RP_LOCK_RENEW_INTERVAL": "5s", "RP_DRAIN_TIMEOUT": "5s",
	})
	h := startLocal(t, dir, map[string]string{
		"STATE_STORE_ENDPOINT": cosmos.Endpoint, "STATE_STORE_KEY": cosmos.Key, "STATE_STORE_SSL_VERIFY": "false",
		"STATE_STORE_DATABASE":          cosmostest.DatabaseName(),
		"SERVICE_BUS_CONNECTION_STRING": conn, "TRE_SECRET_STORE": "file", "TRE_FIREWALL": "file",
		"TRE_LOCAL_HOST": "true", "TRE_LOCAL_PROCESSOR": "false", "TRE_AGENT_HEARTBEAT": "1s",
		// Local protocol servers, not Azure: the dev issuer is allowed.
		"TRE_DEV_ISSUER": "true",
		// The airlock on Azurite, its messages on the broker.
		"TRE_AIRLOCK_STORAGE": "endpoint", "TRE_AIRLOCK_BLOB_ENDPOINT": azurite.Endpoint, "TRE_AIRLOCK_BLOB_KEY": azurite.Key,
		"TRE_AIRLOCK_SCANNER": "stand-in",
		// Traces, with the dependency spans of Cosmos DB and Service Bus.
		"OTEL_EXPORTER_OTLP_ENDPOINT": traces.URL,
	})
	admin := h.token("TREAdmin", "alice")
	owner := h.token("TREUser", "olivia")

	// Health: Cosmos DB, Service Bus and the separate processor's heartbeats.
	var health response
	require.Eventually(t, func() bool {
		health = h.do("GET", "/api/health", "", nil)
		return health.status == 200
	}, 30*time.Second, 100*time.Millisecond, "processor log:\n%s", proc.String())
	require.Contains(t, string(health.body), `"service":"Cosmos DB","status":"OK"`)
	require.Contains(t, string(health.body), `"service":"Service Bus","status":"OK"`)

	loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "On Azure adapters", "description": "d", "address_space_size": "small"}})
	wsLoc := loc
	op := h.waitOp(loc, admin)
	require.Equal(t, "deployed", op["status"], "%v\nprocessor log:\n%s", op, proc.String())
	require.Equal(t, "e2e-vm", op["steps"].([]any)[0].(map[string]any)["agent"], "the separate processor ran it")
	ws := idFrom(loc, 3)
	w := h.do("GET", "/api/workspaces/"+ws, admin, nil).json(t)["workspace"].(map[string]any)
	require.Equal(t, "https://on-azure-adapters-"+ws[len(ws)-4:]+".sandbox.local", w["properties"].(map[string]any)["connection_uri"],
		"the bundle's outputs came back through deploymentstatus")

	require.Equal(t, 202, h.do("POST", "/api/workspaces/"+ws+"/users/assign", admin,
		map[string]any{"role_id": "WorkspaceOwner", "user_ids": []string{auth.DevUserID("olivia")}}).status)
	loc = h.mutate("POST", "/api/workspaces/"+ws+"/workspace-services", owner, map[string]any{"templateName": "tre-service-sandbox",
		"properties": map[string]any{"display_name": "Svc", "description": "d", "max_vms": 1}})
	op = h.waitOp(loc, owner)
	require.Equal(t, "deployed", op["status"], "%v", op)
	svcPath := "/api/workspaces/" + ws + "/workspace-services/" + idFrom(loc, 5)
	loc = h.mutate("POST", svcPath+"/user-resources", owner, map[string]any{"templateName": "tre-user-resource-sandbox-vm",
		"properties": map[string]any{"display_name": "VM", "description": "d", "vm_size": "small", "admin_password": "Sup3r-Secret-Pw!"}})
	op = h.waitOp(loc, owner)
	require.Equal(t, "deployed", op["status"], "a sensitive property reached the separate processor: %v", op)

	// The airlock's status changes go through Service Bus to its function.
	r := h.do("POST", "/api/workspaces/"+ws+"/requests", owner, map[string]any{"type": "import", "businessJustification": "b"})
	require.Equal(t, 201, r.status, "%s", r.body)
	w2 := airlockWorld{ws: ws, researcher: owner}
	rid := r.json(t)["airlockRequest"].(map[string]any)["id"].(string)
	upload(t, h.link(w2, rid, owner), "data.csv", []byte("a,b\n"))
	require.Equal(t, 200, h.do("POST", "/api/workspaces/"+ws+"/requests/"+rid+"/submit", owner, nil).status)
	require.Equal(t, []any{map[string]any{"name": "data.csv", "size": float64(4)}}, h.waitRequest(w2, rid, "in_review")["files"])

	etag := h.do("GET", "/api/workspaces/"+ws, admin, nil).json(t)["workspace"].(map[string]any)["_etag"].(string)
	loc = h.mutate("PATCH", "/api/workspaces/"+ws, admin, map[string]any{"isEnabled": false}, "If-Match", `"`+etag+`"`)
	require.Equal(t, "updated", h.waitOp(loc, admin)["status"])
	loc = h.mutate("DELETE", "/api/workspaces/"+ws, admin, nil)
	require.Equal(t, "deleted", h.waitOp(loc, admin)["status"])
	h.assertAllEnded(admin)
	require.NotContains(t, proc.String(), "Sup3r-Secret-Pw!", "the processor never logs a secret")
	h.stop() // flushes the spans not yet exported
	installCalls := assertDependencySpans(t, traces.Spans(), idFrom(wsLoc, 5))
	logCosmosCalls(t, installCalls)
}

// assertDependencySpans checks the traces of a workspace's install: its
// request and each invocation of deployment-status about it are server
// spans with the TRE operation id (and, for invocations, the Functions
// invocation id), and their traces hold the calls to Cosmos DB and, for
// the request, the step sent to Service Bus.
// It returns the Cosmos DB calls of those traces: the install's, from
// POST to deployed.
func assertDependencySpans(t *testing.T, spans []otlptest.Span, opID string) []otlptest.Span {
	t.Helper()
	var calls []otlptest.Span
	byTrace := map[string][]otlptest.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	has := func(trace []otlptest.Span, cond func(otlptest.Span) bool) bool {
		for _, s := range trace {
			if cond(s) {
				return true
			}
		}
		return false
	}
	cosmos := func(s otlptest.Span) bool { return s.Attrs["db.system"] == "cosmosdb" && s.Kind == "SPAN_KIND_CLIENT" }
	var request *otlptest.Span
	for _, s := range spansNamed(spans, "POST /api/workspaces") {
		if s.Attrs["tre.operation_id"] == opID {
			request = &s
		}
	}
	require.NotNil(t, request, "the install's request span, with its operation id")
	trace := byTrace[request.TraceID]
	require.True(t, has(trace, cosmos), "Cosmos DB spans in the request's trace: %v", trace)
	calls = append(calls, filterSpans(trace, cosmos)...)
	require.True(t, has(trace, func(s otlptest.Span) bool {
		return s.Name == "send workspacequeue" && s.Attrs["messaging.system"] == "servicebus" && s.Kind == "SPAN_KIND_PRODUCER"
	}), "the step sent to Service Bus in the request's trace: %v", trace)

	invocations := 0
	for _, s := range spansNamed(spans, "POST /deployment-status") {
		if s.Attrs["tre.operation_id"] != opID {
			continue
		}
		invocations++
		require.NotEmpty(t, s.Attrs["faas.invocation_id"])
		require.True(t, has(byTrace[s.TraceID], cosmos), "Cosmos DB spans in the invocation's trace: %v", byTrace[s.TraceID])
		calls = append(calls, filterSpans(byTrace[s.TraceID], cosmos)...)
	}
	require.NotZero(t, invocations, "the install's statuses came in as invocations, each a span")
	return calls
}

func filterSpans(spans []otlptest.Span, keep func(otlptest.Span) bool) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// logCosmosCalls reports the Cosmos DB calls of one workspace's install
// by kind (docs/PERFORMANCE.md estimates its request units from them:
// the Cosmos-protocol server charges none), and holds them under a bound
// that an extra read or write per status would cross.
func logCosmosCalls(t *testing.T, calls []otlptest.Span) {
	t.Helper()
	byName := map[string]int{}
	for _, c := range calls {
		byName[c.Name]++
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, byName[n]))
	}
	t.Logf("Cosmos DB calls of one workspace install, POST to deployed: %d (%s)", len(calls), strings.Join(parts, ", "))
	require.LessOrEqual(t, len(calls), 40, "Cosmos DB calls of one install: %s", strings.Join(parts, ", "))
}

// startProcessor builds and runs tre-processor with env until the test
// ends, then stops it with SIGTERM (it drains). Its output is returned.
func startProcessor(t *testing.T, dataDir string, env map[string]string) *syncBuffer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tre-processor")
	build := exec.Command("go", "build", "-o", bin, "../processor-vm")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TRE_DATA_DIR=" + dataDir, "LOG_LEVEL=debug"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil && !strings.Contains(err.Error(), "signal") {
				t.Errorf("tre-processor exited: %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("tre-processor did not stop within 20 s of SIGTERM\n%s", logs.String())
		}
	})
	return logs
}
