package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
)

// blackhole is a listener that accepts connections and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// getBy gets path from the handler; the request fails if it has no answer
// by deadline.
func getBy(t *testing.T, deadline time.Time, url, token string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "no answer from %s by the deadline", url)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// With Cosmos DB unreachable (a closed port) and Service Bus not answering
// (a listener that never speaks), the handler answers /api/health (503,
// naming both) and the web UI within 1 s of its start; a request that needs
// the store is 503 naming Cosmos DB; both keep being retried, and the log
// says what is down.
func TestListensBeforeDependenciesConnect(t *testing.T) {
	dir := t.TempDir()
	_, err := auth.LoadDevKeys(dir) // the dev issuer's key, made before the clock starts
	require.NoError(t, err)
	cfg, err := loadConfig(envOf(dir, map[string]string{
		"STATE_STORE_ENDPOINT": "https://" + closedPort(t) + "/", "STATE_STORE_KEY": "a2V5", "STATE_STORE_SSL_VERIFY": "false",
		"SERVICE_BUS_CONNECTION_STRING": "Endpoint=sb://" + blackhole(t) + ";SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true;",
		"TRE_SECRET_STORE":              "file", "TRE_FIREWALL": "file", "TRE_LOCAL_HOST": "false", "TRE_LOCAL_PROCESSOR": "false", "TRE_DEV_ISSUER": "true",
	}))
	require.NoError(t, err)
	logs := &syncBuffer{}
	m := &Main{Config: cfg, Log: newLogger(logs, "debug"), ConnectBackoff: 10 * time.Millisecond,
		ConnectTimeout: 200 * time.Millisecond}

	deadline := time.Now().Add(time.Second)
	require.NoError(t, m.Open(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, m.Close())
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	status, body := getBy(t, deadline, m.URL()+"/api/health", "")
	require.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	var health struct {
		Services []struct{ Service, Status, Message string } `json:"services"`
	}
	require.NoError(t, json.Unmarshal(body, &health))
	notOK := map[string]string{}
	for _, s := range health.Services {
		if s.Status != "OK" {
			notOK[s.Service] = s.Message
		}
	}
	require.Contains(t, notOK, "Cosmos DB")
	require.Contains(t, notOK, "Service Bus")
	status, body = getBy(t, deadline, m.URL()+"/", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), "<html")

	token := mintDevToken(t, dir, "TREAdmin")
	status, body = getBy(t, time.Now().Add(time.Minute), m.URL()+"/api/workspaces", token)
	require.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	require.Contains(t, string(body), "Cosmos DB")
	var problem struct{ Status int }
	require.NoError(t, json.Unmarshal(body, &problem))
	require.Equal(t, 503, problem.Status)

	// Both are retried, each failure logged at error level naming it.
	for _, service := range []string{"Cosmos DB", "Service Bus"} {
		waitLog(t, logs, func(line map[string]any) bool {
			return line["msg"] == "dependency unreachable; retrying" && line["service"] == service && line["level"] == "ERROR"
		})
	}
	for _, service := range []string{"Cosmos DB", "Service Bus"} {
		waitLog(t, logs, func(line map[string]any) bool {
			return line["msg"] == "dependency unreachable; retrying" && line["service"] == service && line["attempt"] == float64(2)
		})
	}
	status, body = getBy(t, time.Now().Add(time.Minute), m.URL()+"/api/health", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, string(body), "not connected yet")
}

func mintDevToken(t *testing.T, dir, roles string) string {
	t.Helper()
	keys, err := auth.LoadDevKeys(dir)
	require.NoError(t, err)
	tok, err := keys.Mint("alice", strings.Split(roles, ","), time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// waitLog waits until a JSON log line satisfies match, looking again at
// each write, or fails after a minute.
func waitLog(t *testing.T, logs *syncBuffer, match func(map[string]any) bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		changed := logs.changed() // before reading: no write is missed
		for _, l := range strings.Split(logs.String(), "\n") {
			var line map[string]any
			if json.Unmarshal([]byte(l), &line) == nil && match(line) {
				return
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal(errors.New("no such log line; logs:\n" + logs.String()))
		}
	}
}

// A connection is retried with a growing wait until it opens; until then
// its health check says why at once, then it checks the service itself.
func TestConnectionRetriesThenChecksLive(t *testing.T) {
	failures := 2
	opened := make(chan int, 10)
	calls := 0
	c := &connection{name: "Cosmos DB", open: func(ctx context.Context) error {
		calls++
		opened <- calls
		if calls <= failures {
			return errors.New("dial tcp: connection refused")
		}
		return nil
	}}
	live := func(context.Context) error { return errors.New("live check") }
	require.EqualError(t, c.check(live)(context.Background()), "connecting")

	logs := &syncBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(context.Background(), newLogger(logs, "debug"), time.Millisecond, time.Second)
	}()
	<-done
	require.Equal(t, 3, calls)
	require.EqualError(t, c.check(live)(context.Background()), "live check", "connected: the service's own check")
	var waits []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line))
		if w, ok := line["retry_in"].(string); ok {
			waits = append(waits, w)
		}
	}
	require.Equal(t, []string{"1ms", "2ms"}, waits, "the wait doubles")

	c = &connection{name: "Service Bus", open: func(context.Context) error { return errors.New("no route to host") }}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	failLog := &syncBuffer{}
	logged := failLog.changed()
	go func() { defer close(done); c.run(ctx, newLogger(failLog, "debug"), time.Hour, time.Second) }()
	<-logged // the first failure is recorded before it is logged
	err := c.check(live)(context.Background())
	require.ErrorContains(t, err, "no route to host")
	require.ErrorContains(t, err, "not connected yet (1 attempts")
	cancel()
	<-done // a cancelled context ends the wait
}
