// Package webui serves the TRE's web UI from the handler binary: the page
// at the TRE's root (/), its assets (/assets/...), and, with the local dev
// issuer only, the dev sign-in (/api/dev/...). The API stays under /api/,
// so the page and the API share one origin and no CORS is involved.
//
// # Where the page comes from
//
// The UI is a TypeScript single-page application in ui/ at the module's
// root, built with Node.js (make ui, scripts/ui.sh) into dist/app/ beside
// this file. That directory is generated and ignored by git; dist/ itself
// is committed with only a README, so that
//
//	//go:embed all:dist
//
// always compiles: go build, go vet and go test never need Node.js. When
// dist/app/index.html was built before the Go build, the binary serves the
// UI; when it was not, the binary serves placeholder.html, a page that
// says how to build the UI (Built reports which). The Function App zip is
// one executable either way; scripts/package.sh builds the UI first.
//
// The UI routes by the URL's fragment (/#/workspaces/...): every view is
// the one page at /, so the server needs no catch-all route, and through
// the Functions host only /, /assets/* and /api/* are forwarded to the
// handler (see host.json and functions/ui*, functions/api): the trigger
// routes (/deployment-status, the timers) stay unreachable from outside.
//
// # The page's settings
//
// index.html holds a JSON script element, tre-config, whose content the
// handler fills in when it serves the page: how to sign in (dev issuer or
// Entra ID, with the API's app registration, tenant, authority and scope)
// and the handler's version. The page needs no request to start.
//
// # Dev sign-in
//
// With the dev issuer (no Entra ID configured), DevSignIn mints tokens for
// a user name and TRE roles the person at the browser chooses, as
// `tre-handler token` does on the command line. It answers only callers on
// the loopback interface, addressed by a loopback host name (so a page of
// another site cannot reach it through DNS rebinding), and never a request
// that came through a Functions host or a proxy.
package webui
