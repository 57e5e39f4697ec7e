package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
)

// invoke posts a Functions host invocation payload to a trigger route.
func (e *env) invoke(function string, payload []byte) (int, funchost.Response) {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/"+function, "application/json", strings.NewReader(string(payload)))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out funchost.Response
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func statusPayload(t *testing.T, body any, messageID, session string) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	inv := funchost.Invocation{
		Data:     map[string]json.RawMessage{"msg": funchost.StringData(b)},
		Metadata: funchost.ServiceBusMetadata(messageID, session, "", 1, 1, "2026-11-27T10:00:00Z", nil),
	}
	out, err := json.Marshal(inv)
	require.NoError(t, err)
	return out
}

// The handler answers the host's recorded payloads of every function.
func TestTriggerGoldenPayloads(t *testing.T) {
	dir, w := buildWorld(t, worldRunning)
	e := openEnv(t, copyDir(t, dir))
	ctx := context.Background()

	// A recorded deploymentstatus payload about an operation that does not
	// exist here: answered 200 (not retried) and kept for admins.
	recorded, err := os.ReadFile("../funchost/testdata/deployment-status.json")
	require.NoError(t, err)
	code, out := e.invoke("deployment-status", recorded)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, out.Logs[0], "rejected: status message for unknown operation")
	rejected, err := e.dead.Rejected(ctx)
	require.NoError(t, err)
	require.Len(t, rejected, 1)
	require.Equal(t, "0f0c6a8e-2b52-4d3c-8d5f-8e1f1c2a3b4c:deployed", rejected[0].MessageID)

	// A real status of a running operation: applied.
	op, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, w.wsAct)
	require.NoError(t, err)
	st := op.Steps[0]
	code, out = e.invoke("deployment-status", statusPayload(t, tre.StatusUpdate{OperationID: op.ID, StepID: st.ID, ID: st.ResourceID,
		Attempt: 1, Status: tre.StatusActionSucceeded, Message: "done"}, "m1", op.ID))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"applied: step " + st.ID + " action_succeeded"}, out.Logs)
	got, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, op.ID)
	require.NoError(t, err)
	require.Equal(t, tre.StatusActionSucceeded, got.Status)

	// An agent's heartbeat is recorded.
	code, _ = e.invoke("deployment-status", statusPayload(t, tre.AgentHeartbeat{Kind: tre.KindAgentHeartbeat, Agent: "vm-0", Workers: 2, Healthy: true}, "hb1", "agent-vm-0"))
	require.Equal(t, http.StatusOK, code)
	agents, err := e.agents.List(ctx)
	require.NoError(t, err)
	require.Equal(t, "vm-0", agents[0].Agent)

	// Garbage is answered 200 and kept, never retried forever.
	code, out = e.invoke("deployment-status", []byte(`{"Data":{"msg":"\"not json at all\""},"Metadata":{"MessageId":"\"junk\""}}`))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, out.Logs[0], "rejected: the message body is not JSON")

	// A payload that is not the host's: 400, still in the protocol's shape.
	code, out = e.invoke("deployment-status", []byte(`not an invocation`))
	require.Equal(t, http.StatusBadRequest, code)
	require.NotEmpty(t, out.Logs)
	require.Equal(t, out.Logs[len(out.Logs)-1], out.ReturnValue)
	require.NotNil(t, out.Outputs)

	// Timers.
	timer, err := os.ReadFile("../funchost/testdata/timer.json")
	require.NoError(t, err)
	for _, fn := range []string{"dispatch-redelivery", "operations-watchdog"} {
		code, out = e.invoke(fn, timer)
		require.Equal(t, http.StatusOK, code, fn)
		require.NotEmpty(t, out.Logs, fn)
	}

	// The store is down: 500, so the host abandons the message and it comes back.
	e.db.Close()
	code, out = e.invoke("deployment-status", statusPayload(t, tre.StatusUpdate{OperationID: op.ID, StepID: st.ID, ID: st.ResourceID,
		Status: tre.StatusActionSucceeded}, "m2", op.ID))
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, out.Logs[0], "retry:")
}

// No spelling of a path under /api reaches a trigger route.
func TestTriggerRoutesUnreachableFromAPI(t *testing.T) {
	e := openEnv(t, t.TempDir())
	admin := e.token("admin", "TREAdmin")
	host := strings.TrimPrefix(e.srv.URL, "http://")
	for _, path := range []string{
		"/api/../deployment-status", "/api/./../deployment-status", "/api/%2e%2e/deployment-status", "/api/%2E%2E/deployment-status",
		"/api/..%2fdeployment-status", "/api/..%2Fdeployment-status", "/api%2f..%2fdeployment-status", "/api/..%5cdeployment-status",
		"//deployment-status", "/api//../deployment-status", "/api/workspaces/../../dispatch-redelivery",
	} {
		// A raw request: Go's client would clean some of these paths.
		conn, err := net.Dial("tcp", host)
		require.NoError(t, err)
		req := "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + admin +
			"\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
		_, err = conn.Write([]byte(req))
		require.NoError(t, err)
		buf := make([]byte, 4096)
		n, _ := conn.Read(buf)
		conn.Close()
		status := strings.SplitN(string(buf[:n]), " ", 3)
		require.GreaterOrEqual(t, len(status), 2, path)
		require.Contains(t, []string{"400", "404"}, status[1], "%s answered %s", path, status[1])
	}
	rejected, err := e.dead.Rejected(context.Background())
	require.NoError(t, err)
	require.Empty(t, rejected, "no trigger ran")
}
