package packaging

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/funchost"
)

// TestPackagedAppThroughHost runs the Function App as the Functions host
// would (the zip unpacked, tre-handler started in it) behind the host
// stand-in, which routes by the zip's host.json and function.json files:
// the web UI and the API come from the same host, and nothing routes a
// request from outside to a trigger.
func TestPackagedAppThroughHost(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the packaged tre-handler is linux/amd64")
	}
	dir := packages(t, "handler")
	app := t.TempDir()
	files, modes := readZip(t, filepath.Join(dir, "function-app.zip"))
	for name, data := range files {
		path := filepath.Join(app, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, data, modes[name].Perm()))
	}

	data := t.TempDir()
	env := append(os.Environ(), "FUNCTIONS_CUSTOMHANDLER_PORT=0", "TRE_DATA_DIR="+data,
		"TRE_REGISTER_TEMPLATES=false", "TRE_TEMPLATES_DIR="+filepath.Join(repoRoot(t), "templates"))
	handlerURL := startPackaged(t, app, env)

	routes, err := funchost.LoadHTTPRoutes(app)
	require.NoError(t, err)
	proxying, err := funchost.Proxying(app)
	require.NoError(t, err)
	host := httptest.NewServer(&funchost.Front{Routes: routes, HandlerURL: handlerURL, Proxying: proxying})
	defer host.Close()

	// The page, with AzureTRE's title (its e2e test_ui), and its assets.
	status, header, body := get(t, "GET", host.URL+"/", "")
	require.Equal(t, 200, status)
	require.Contains(t, body, "<title>Azure TRE</title>")
	require.Contains(t, header.Get("Content-Security-Policy"), "script-src 'self'")
	script := regexp.MustCompile(`src="(/assets/[^"]+\.js)"`).FindStringSubmatch(body)
	require.NotNil(t, script, "the packaged handler serves the built UI: run make ui before the packaging tests (make test-integration does): %s", body)
	require.Contains(t, body, `{"authMode":"dev","version":"`+testVersion+`"}`)
	status, header, _ = get(t, "GET", host.URL+script[1], "")
	require.Equal(t, 200, status)
	require.Equal(t, "text/javascript; charset=utf-8", header.Get("Content-Type"))

	// The API, from the same origin.
	status, _, body = get(t, "GET", host.URL+"/api/health", "")
	require.Contains(t, []int{200, 503}, status, "503 until the processor's first heartbeat: %s", body)
	require.Contains(t, body, `"service":"Cosmos DB"`)
	require.Contains(t, body, `"Cosmos DB":"SQLite (embedded configuration store)"`)
	tok := runIn(t, app, env, "./tre-handler", "token", "--roles", "TREAdmin", "--user", "alice")
	status, _, body = get(t, "GET", host.URL+"/api/workspace-templates", strings.TrimSpace(tok))
	require.Equal(t, 200, status, body)

	// The dev sign-in refuses what came through the host.
	req, _ := http.NewRequest("POST", host.URL+"/api/dev/token", strings.NewReader(`{"user":"mallory","roles":["TREAdmin"]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// The triggers: the handler has them, no HTTP function routes to them.
	for _, fn := range []string{"deployment-status", "dispatch-redelivery", "operations-watchdog", "firewall-reconcile"} {
		status, _, _ := get(t, "POST", host.URL+"/"+fn, "")
		require.Equal(t, http.StatusNotFound, status, "/%s must not be reachable through the host", fn)
		status, _, _ = get(t, "POST", handlerURL+"/"+fn, "")
		require.NotEqual(t, http.StatusNotFound, status, "the handler serves /%s to the host itself", fn)
	}
}

// startPackaged starts the packaged tre-handler in app as the Functions
// host does, and returns the URL it listens on (from its start-up log).
func startPackaged(t *testing.T, app string, env []string) string {
	t.Helper()
	cmd := exec.Command("./tre-handler")
	cmd.Dir, cmd.Env = app, env
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "handler ready" {
				ready <- line.URL
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-ready:
		return url
	case <-time.After(60 * time.Second):
		t.Fatal("the packaged tre-handler did not log \"handler ready\" within 60 s")
		return ""
	}
}

func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v", name, args)
	return string(out)
}

func get(t *testing.T, method, url, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}
