package main

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/tre-go/tre/internal/config"
)

// What protects the handler's routes beside tokens (README, Security): the
// trigger routes answer loopback peers carrying the trigger key, and the
// server's timeouts bound every state a connection can be in.

// Server timeouts. A request's headers must arrive within
// readHeaderTimeout and its body within readTimeout (the largest body is
// TRE_MAX_BODY_BYTES); an idle keep-alive connection is closed after
// idleTimeout. Responses have no overall write deadline, as event streams
// last as long as their operation: each of their writes has its own
// (api.streamWriteTimeout), and other responses are written at once.
var timeouts = serverTimeouts{ReadHeader: 10 * time.Second, Read: 60 * time.Second, Idle: 120 * time.Second}

// serverTimeouts are the server's bounds on a connection's states (tests
// shorten them).
type serverTimeouts struct{ ReadHeader, Read, Idle time.Duration }

// newServer is the handler's HTTP server, with timeouts for every
// connection state.
func (m *Main) newServer() *http.Server {
	return &http.Server{
		Handler:           m.front,
		ReadHeaderTimeout: timeouts.ReadHeader,
		ReadTimeout:       timeouts.Read,
		IdleTimeout:       timeouts.Idle,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
}

// triggerKey is the key the trigger routes require: TRE_TRIGGER_KEY, or a
// new random one per process when the local stand-in for the Functions
// host is the only caller (it is given the same). Empty behind the real
// Functions host, which cannot send one: loopback is what protects them
// there.
func (m *Main) triggerKey() string {
	if m.Config.TriggerKey != "" || !m.Config.LocalHost {
		return m.Config.TriggerKey
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// listenSettings reads where the handler listens and what protects its
// trigger routes. On a non-loopback address a peer on another machine
// could reach them, and a proxy on this one makes every peer look local:
// the operator must set TRE_TRIGGER_KEY there.
func (c *Config) listenSettings(e *config.Env) {
	c.TriggerKey = e.String("TRE_TRIGGER_KEY")
	if c.TriggerKey != "" && len(c.TriggerKey) < 32 {
		e.Problemf("TRE_TRIGGER_KEY: must be at least 32 characters (it is a shared secret), not %d", len(c.TriggerKey))
	}
	addr, err := netip.ParseAddr(c.ListenAddress)
	loopback := c.ListenAddress == "localhost" || (err == nil && addr.Unmap().IsLoopback())
	if !loopback && c.DevAuth() {
		e.Problemf("TRE_LISTEN_ADDRESS: %q is not loopback, and the dev token issuer is in use (AAD_TENANT_ID is empty): its sign-in "+
			"gives a token of any role to whoever reaches it; listen on loopback, or use Entra ID", c.ListenAddress)
	}
	if !loopback && c.TriggerKey == "" {
		e.Problemf("TRE_TRIGGER_KEY: required with the non-loopback TRE_LISTEN_ADDRESS %q: the trigger routes "+
			"(/deployment-status, the timers) accept results and must answer only the Functions host or its local stand-in", c.ListenAddress)
	}
}
