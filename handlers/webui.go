package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/webui"
)

// front routes each request to the web UI (the page at / and its assets),
// the dev sign-in (only with the dev issuer) or the API. Through the
// Functions host only /, /assets/* and /api/* arrive here from outside
// (host.json, functions/); locally everything does.
type front struct {
	ui  http.Handler
	dev http.Handler // nil unless the dev issuer is the one the API trusts
	api http.Handler
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case webui.Serves(r):
		f.ui.ServeHTTP(w, r)
	case f.dev != nil && strings.HasPrefix(r.URL.Path, webui.DevPrefix):
		f.dev.ServeHTTP(w, r)
	default:
		f.api.ServeHTTP(w, r)
	}
}

// webFront builds the handler's HTTP front for the token issuer in use
// (mode, from validator).
func (m *Main) webFront(mode string) (http.Handler, error) {
	cfg := webui.Config{AuthMode: mode, Version: version}
	if mode != "dev" {
		cfg.ClientID, cfg.TenantID, cfg.Authority = m.Config.APIClientID, m.Config.TenantID, m.Config.AuthorityURL
		cfg.Scope = rootScope(m.Config)
	}
	ui, err := webui.New(cfg)
	if err != nil {
		return nil, err
	}
	f := &front{ui: ui, api: m.api.Handler()}
	if mode == "dev" {
		// The key may still be being generated (first start): signing in
		// waits for it, start-up does not.
		keys := m.devKeys
		mint := func(name string, roles []string, ttl time.Duration, now time.Time) (string, error) {
			k, err := keys.Wait(context.Background())
			if err != nil {
				return "", err
			}
			return k.Mint(name, roles, ttl, now)
		}
		f.dev = &webui.DevSignIn{Mint: mint, UserID: auth.DevUserID, Log: m.Log.With("component", "dev-sign-in")}
	}
	if !webui.Built() {
		m.Log.Info("the web UI is not built into this binary: / serves a page saying how (make ui, with Node.js 20+)")
	}
	return f, nil
}
