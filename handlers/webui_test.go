package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/webui"
)

// TestWebUIAndDevSignIn: the page is at the root, and with the dev issuer
// the page's sign-in mints tokens the API accepts, for loopback callers only.
func TestWebUIAndDevSignIn(t *testing.T) {
	h := start(t, t.TempDir())
	r := h.do("GET", "/", "", nil)
	require.Equal(t, 200, r.status, "the page, and the Functions host's readiness probe")
	require.Contains(t, string(r.body), "<title>Azure TRE</title>", "AzureTRE's e2e test_ui")
	if webui.Built() {
		require.Contains(t, string(r.body), `{"authMode":"dev","version":"dev"}`)
	}

	r = h.do("POST", "/api/dev/token", "", map[string]any{"user": "alice", "roles": []string{"TREAdmin"}})
	require.Equal(t, 200, r.status, "%s", r.body)
	tok := r.json(t)
	require.Equal(t, auth.DevUserID("alice"), tok["user"].(map[string]any)["id"])
	admin := tok["access_token"].(string)
	require.Equal(t, 200, h.do("GET", "/api/workspace-templates", admin, nil).status, "the API accepts the token")

	p := requireProblem(t, h.do("POST", "/api/dev/token", "", map[string]any{"user": "mallory", "roles": []string{"TREAdmin"}},
		"X-Forwarded-For", "192.0.2.7"), 403)
	require.Contains(t, p["detail"], "dev sign-in answers only")
	p = requireProblem(t, h.do("POST", "/api/dev/token", "", map[string]any{"user": "mallory", "roles": []string{}},
		"X-Azure-Functions-InvocationId", "0f6c"), 403)
	require.Contains(t, p["detail"], "Functions host")

	r = h.do("GET", "/api/dev/users/olivia", "", nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, auth.DevUserID("olivia"), r.json(t)["id"])

	require.Equal(t, 404, h.do("GET", "/assets/none.js", "", nil).status)
	requireProblem(t, h.do("POST", "/", "", nil), 405) // the API's answer: the page is GET only
}

// TestDevSignInOnlyWithDevIssuer: with Entra ID configured, there is no dev
// sign-in, and the page signs in with Entra ID.
func TestDevSignInOnlyWithDevIssuer(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(envOf(dir, map[string]string{"AAD_TENANT_ID": "tenant-1", "API_CLIENT_ID": "client-1"}))
	require.NoError(t, err)
	h := startConfig(t, dir, cfg)
	p := requireProblem(t, h.do("POST", "/api/dev/token", "", map[string]any{"user": "mallory", "roles": []string{"TREAdmin"}}), 404)
	require.Contains(t, p["detail"], "No route matches")
	requireProblem(t, h.do("GET", "/api/dev/users/mallory", "", nil), 404)

	r := h.do("GET", "/", "", nil)
	require.Equal(t, 200, r.status)
	if webui.Built() {
		require.Contains(t, string(r.body), `{"authMode":"entra","clientId":"client-1","tenantId":"tenant-1",`+
			`"authority":"https://login.microsoftonline.com","scope":"api://client-1/user_impersonation","version":"dev"}`)
	}
}
