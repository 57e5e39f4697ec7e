package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/funchost"
)

// The dev issuer is refused whenever a setting chooses an Azure adapter by
// its value, as it is beside the Azure adapters' own settings.
func TestDevIssuerRefusedBesideAzureChoices(t *testing.T) {
	dir := t.TempDir()
	for name, env := range map[string]map[string]string{
		"TRE_SECRET_STORE=keyvault":    {"TRE_SECRET_STORE": "keyvault", "KEY_VAULT_URL": "https://x.vault.azure.net/"},
		"TRE_FIREWALL=azure":           {"TRE_FIREWALL": "azure", "TRE_FIREWALL_POLICY_ID": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/firewallPolicies/p"},
		"TRE_AIRLOCK_STORAGE=azure":    {"TRE_AIRLOCK_STORAGE": "azure"},
		"TRE_AIRLOCK_SCANNER=defender": {"TRE_AIRLOCK_STORAGE": "azure", "TRE_AIRLOCK_SCANNER": "defender"},
		"TRE_COSTS=azure":              {"TRE_COSTS": "azure", "AZURE_SUBSCRIPTION_ID": "s"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(envOf(dir, env))
			require.ErrorContains(t, err, "AAD_TENANT_ID: required with the Azure adapter settings")
			require.ErrorContains(t, err, name)
		})
	}
}

// A non-loopback listen address exposes the trigger routes to whatever
// proxies to it: the handler refuses to start unless TRE_TRIGGER_KEY
// protects them.
func TestNonLoopbackListenNeedsTriggerKey(t *testing.T) {
	dir := t.TempDir()
	entra := map[string]string{"AAD_TENANT_ID": "t", "API_CLIENT_ID": "c"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range entra {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, addr := range []string{"0.0.0.0", "::", "192.0.2.1", "example.org"} {
		_, err := loadConfig(envOf(dir, with("TRE_LISTEN_ADDRESS", addr)))
		require.ErrorContains(t, err, "TRE_TRIGGER_KEY: required with the non-loopback TRE_LISTEN_ADDRESS", addr)
		_, err = loadConfig(envOf(dir, map[string]string{"TRE_LISTEN_ADDRESS": addr, "TRE_TRIGGER_KEY": strings.Repeat("k", 32)}))
		require.ErrorContains(t, err, "the dev token issuer is in use", "the dev sign-in must not be reachable from elsewhere")
	}
	for _, addr := range []string{"127.0.0.1", "::1", "localhost", "127.0.0.2"} {
		_, err := loadConfig(envOf(dir, map[string]string{"TRE_LISTEN_ADDRESS": addr}))
		require.NoError(t, err, addr)
	}
	_, err := loadConfig(envOf(dir, with("TRE_LISTEN_ADDRESS", "0.0.0.0", "TRE_TRIGGER_KEY", "short")))
	require.ErrorContains(t, err, "TRE_TRIGGER_KEY: must be at least 32 characters")
	cfg, err := loadConfig(envOf(dir, with("TRE_LISTEN_ADDRESS", "0.0.0.0", "TRE_TRIGGER_KEY", strings.Repeat("k", 32))))
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("k", 32), cfg.TriggerKey)
}

// The real handler in local mode: its stand-in for the Functions host gets
// a per-process key; a local process without it is refused.
func TestLocalTriggerRoutesNeedTheProcessKey(t *testing.T) {
	h := start(t, t.TempDir())
	for _, fn := range []string{"deployment-status", "operations-watchdog", "dispatch-redelivery"} {
		r := h.do(http.MethodPost, "/"+fn, "", `{"Data":{"msg":"\"{}\""},"Metadata":{}}`)
		require.Equal(t, http.StatusForbidden, r.status, fn)
		r = h.do(http.MethodPost, "/"+fn, "", `{"Data":{},"Metadata":{}}`, funchost.TriggerKeyHeader, strings.Repeat("0", 64))
		require.Equal(t, http.StatusForbidden, r.status, fn)
	}
}

// The server's timeouts: a connection that stalls its headers or its body,
// or stays idle, is closed by the server, unauthenticated as it is.
func TestServerTimeoutsBoundEveryConnectionState(t *testing.T) {
	m := &Main{Log: newLogger(io.Discard, "error")}
	s := m.newServer()
	require.Equal(t, timeouts, serverTimeouts{ReadHeader: s.ReadHeaderTimeout, Read: s.ReadTimeout, Idle: s.IdleTimeout})
	require.Positive(t, timeouts.ReadHeader)
	require.Positive(t, timeouts.Read)
	require.Positive(t, timeouts.Idle)

	saved := timeouts
	timeouts = serverTimeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Idle: 300 * time.Millisecond}
	t.Cleanup(func() { timeouts = saved })
	h := start(t, t.TempDir())
	addr := strings.TrimPrefix(h.url, "http://")
	for name, sent := range map[string]string{
		"stalled headers": "POST /api/workspaces HTTP/1.1\r\nHost: x\r\n",
		"stalled body":    "POST /api/workspaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
		"idle":            "GET /api/ping HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = conn.Write([]byte(sent))
			require.NoError(t, err)
			// The server closes the connection (after answering, for
			// the idle one): reading reaches EOF. The deadline only
			// bounds a failing test.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
			_, err = io.ReadAll(conn)
			require.NoError(t, err, "the server closed the connection")
		})
	}
}
