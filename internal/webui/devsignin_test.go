package webui

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type minted struct {
	name  string
	roles []string
	ttl   time.Duration
}

func testSignIn() (*DevSignIn, *[]minted) {
	var calls []minted
	return &DevSignIn{
		Mint: func(name string, roles []string, ttl time.Duration, now time.Time) (string, error) {
			calls = append(calls, minted{name, roles, ttl})
			return "tok-" + name, nil
		},
		UserID: func(name string) string { return "id-" + name },
	}, &calls
}

// devRequest is a request as the page on http://127.0.0.1:8080 sends it.
func devRequest(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	return devRequestFrom("127.0.0.1:53124", method, path, body, headers...)
}

func devRequestFrom(remote, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	d, _ := testSignIn()
	return serveDev(d, remote, method, path, body, headers...)
}

func serveDev(d *DevSignIn, remote, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	r.Host = "127.0.0.1:8080"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			r.Host = headers[i+1]
			continue
		}
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	d.ServeHTTP(w, r)
	return w
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	require.EqualValues(t, status, p["status"])
	require.Equal(t, w.Header().Get("X-Request-Id"), p["requestId"])
	return p
}

func TestDevTokenMinted(t *testing.T) {
	d, calls := testSignIn()
	w := serveDev(d, "127.0.0.1:5000", "POST", "/api/dev/token", `{"user":"alice","roles":["TREAdmin"]}`,
		"Origin", "http://127.0.0.1:8080")
	require.Equal(t, 200, w.Code, w.Body.String())
	var tok DevToken
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &tok))
	require.Equal(t, DevToken{AccessToken: "tok-alice", TokenType: "Bearer", ExpiresIn: 8 * 3600,
		User: DevUser{ID: "id-alice", Name: "alice", Roles: []string{"TREAdmin"}}}, tok)
	require.Equal(t, []minted{{"alice", []string{"TREAdmin"}, 8 * time.Hour}}, *calls)
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))

	w = serveDev(d, "[::1]:5000", "POST", "/api/dev/token", `{"user":"rita","roles":[]}`, "Host", "localhost:8080")
	require.Equal(t, 200, w.Code, "IPv6 loopback and localhost: %s", w.Body.String())
	require.Equal(t, []string{}, (*calls)[1].roles, "a user without TRE roles")
}

// TestDevSignInRefusesOtherMachines: the dev issuer's tokens are admin
// tokens for whoever asks; only the machine's own user may ask.
func TestDevSignInRefusesOtherMachines(t *testing.T) {
	body := `{"user":"mallory","roles":["TREAdmin"]}`
	for name, w := range map[string]*httptest.ResponseRecorder{
		"remote peer":        devRequestFrom("192.0.2.7:4000", "POST", "/api/dev/token", body),
		"remote IPv6 peer":   devRequestFrom("[2001:db8::1]:4000", "POST", "/api/dev/token", body),
		"through a proxy":    devRequest("POST", "/api/dev/token", body, "X-Forwarded-For", "192.0.2.7"),
		"Forwarded header":   devRequest("POST", "/api/dev/token", body, "Forwarded", "for=192.0.2.7"),
		"via Functions host": devRequest("POST", "/api/dev/token", body, "X-Azure-Functions-InvocationId", "abc"),
		"DNS rebinding":      devRequest("POST", "/api/dev/token", body, "Host", "evil.example:8080"),
		"another site":       devRequest("POST", "/api/dev/token", body, "Origin", "https://evil.example"),
		"user lookup remote": devRequestFrom("192.0.2.7:4000", "GET", "/api/dev/users/alice", ""),
	} {
		t.Run(name, func(t *testing.T) {
			p := problemOf(t, w, 403)
			require.Equal(t, "forbidden", p["code"])
			require.Contains(t, p["detail"], "dev sign-in answers only")
		})
	}
}

func TestDevSignInBadInput(t *testing.T) {
	for name, c := range map[string]struct {
		w      *httptest.ResponseRecorder
		status int
		field  string
	}{
		"workspace role":   {devRequest("POST", "/api/dev/token", `{"user":"a","roles":["WorkspaceOwner"]}`), 400, "roles"},
		"empty user":       {devRequest("POST", "/api/dev/token", `{"user":"","roles":[]}`), 400, "user"},
		"odd user":         {devRequest("POST", "/api/dev/token", `{"user":"a b","roles":[]}`), 400, "user"},
		"unknown member":   {devRequest("POST", "/api/dev/token", `{"user":"a","roles":[],"ttl":"99y"}`), 400, ""},
		"not JSON":         {devRequest("POST", "/api/dev/token", "user=a", "Content-Type", "application/x-www-form-urlencoded"), 415, ""},
		"GET token":        {devRequest("GET", "/api/dev/token", ""), 405, ""},
		"POST users":       {devRequest("POST", "/api/dev/users/alice", `{}`), 405, ""},
		"unknown route":    {devRequest("GET", "/api/dev/keys", ""), 404, ""},
		"nested user path": {devRequest("GET", "/api/dev/users/a/b", ""), 404, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p := problemOf(t, c.w, c.status)
			if c.field != "" {
				require.Equal(t, c.field, p["field"])
			}
		})
	}
}

func TestDevUserID(t *testing.T) {
	w := devRequest("GET", "/api/dev/users/olivia", "")
	require.Equal(t, 200, w.Code, w.Body.String())
	require.JSONEq(t, `{"id":"id-olivia","name":"olivia"}`, w.Body.String())
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST.": true, "tre.localhost:80": true,
		"127.0.0.1:8080": true, "127.9.9.9": true, "[::1]:8080": true, "[::ffff:127.0.0.1]:1": true,
		"": false, "example.com": false, "localhost.example.com": false, "10.0.0.1:8080": false, "[::2]:80": false,
	} {
		require.Equal(t, want, loopbackHost(host), host)
	}
}
