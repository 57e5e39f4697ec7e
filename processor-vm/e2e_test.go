package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// localEnv is the environment of an agent on its own in dir: the embedded
// queue and secret file, the local runner, health on a free port.
func localEnv(dir string, extra map[string]string) func(string) (string, bool) {
	env := map[string]string{"TRE_DATA_DIR": dir, "TRE_TEMPLATES_DIR": "../templates", "RP_HEALTH_ADDRESS": "127.0.0.1:0",
		"TRE_PROCESSOR_ID": "e2e-agent", "LOG_LEVEL": "debug"}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// finalStatus waits for the final status of an operation on the status
// queue (the agent's own heartbeats aside).
func finalStatus(t *testing.T, q tre.Queue, op string) tre.StatusUpdate {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		sess, err := q.AcceptNextSession(ctx, tre.QueueStatus)
		cancel()
		if errors.Is(err, tre.ErrNoSession) {
			continue
		}
		require.NoError(t, err)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			msgs, err := sess.Receive(ctx, 10)
			cancel()
			require.NoError(t, err)
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				require.NoError(t, sess.Complete(context.Background(), m))
				var u tre.StatusUpdate
				if sess.ID() == op && json.Unmarshal(m.Body, &u) == nil && u.Status.Terminal() {
					require.NoError(t, sess.Close(context.Background()))
					return u
				}
			}
		}
		require.NoError(t, sess.Close(context.Background()))
	}
	t.Fatalf("no final status for operation %s", op)
	return tre.StatusUpdate{}
}

// The real Main on a temporary data directory runs a request sent the way
// tre-handler sends it (a sensitive parameter in the secret file), answers
// health probes, and stops cleanly.
func TestMainRunsARequestAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(localEnv(dir, nil), nil)
	require.NoError(t, err)
	require.Equal(t, "local", cfg.Runner)

	secrets, err := secretfile.Open(dir)
	require.NoError(t, err)
	require.NoError(t, secrets.Put(context.Background(), "r-ws1-1", `"Demo Space"`))
	q, err := sqlite.OpenQueue(context.Background(), dir, sqlite.QueueOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	body, err := json.Marshal(tre.ResourceRequest{OperationID: "op1", StepID: "main", Action: tre.ActionInstall, ID: "ws1",
		Name: "tre-workspace-sandbox", Version: "0.1.0", ResourceType: tre.TypeWorkspace,
		Parameters: map[string]any{"tre_id": "t", "id": "ws1", "azure_location": "l", "display_name": tre.Redacted},
		SecretRefs: map[string]string{"/display_name": "r-ws1-1"}})
	require.NoError(t, err)
	require.NoError(t, q.Send(context.Background(), tre.QueueRequests, tre.Message{MessageID: "main", SessionID: "ws1", Body: body}))

	logs := &syncBuffer{}
	m := &Main{Config: cfg, Log: newLogger(logs, "debug", cfg.AgentID)}
	require.NoError(t, m.Open(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
			_ = m.Close()
		}
	})

	status, health := get(t, m.HealthURL())
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"OK","message":""}`, health)
	status, _ = get(t, strings.TrimSuffix(m.HealthURL(), "/health")+"/elsewhere")
	require.Equal(t, http.StatusNotFound, status)

	final := finalStatus(t, q, "op1")
	require.Equal(t, tre.StatusDeployed, final.Status, final.Message)
	require.Equal(t, "e2e-agent", final.Agent)
	outputs := map[string]any{}
	for _, o := range final.Outputs {
		outputs[o.Name] = o.Value
	}
	require.Contains(t, outputs["connection_uri"], "https://demo-space-", "the bundle got the secret's value")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run returns nil on a clean stop")
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	stopped = true
	require.NoError(t, m.Close())
	_, err = http.Get(m.HealthURL())
	require.Error(t, err, "the health endpoint is closed")
	require.Contains(t, logs.String(), `"msg":"processor stopped"`)
	require.Contains(t, logs.String(), `"agent":"e2e-agent"`)
}

// The health endpoint is bound first: a busy address fails Open at once,
// before any adapter is opened.
func TestOpenFailsFirstOnABusyHealthAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	dir := t.TempDir()
	cfg, err := loadConfig(localEnv(dir, map[string]string{"RP_HEALTH_ADDRESS": busy.Addr().String()}), nil)
	require.NoError(t, err)
	m := &Main{Config: cfg, Log: newLogger(io.Discard, "debug", cfg.AgentID)}
	err = m.Open(context.Background())
	require.ErrorContains(t, err, "health endpoint on "+busy.Addr().String())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no adapter was opened")
}
