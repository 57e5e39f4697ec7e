package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/nodetest"
	"github.com/tre-go/tre/internal/slowtest"
	"github.com/tre-go/tre/internal/webui"
)

// screenshots is where the browser walks save a screenshot of each view,
// one subdirectory per walk (walk, through-host): -args -screenshots=DIR,
// else $TRE_UI_SCREENSHOTS, else $TMPDIR/tre-ui-screenshots.
var screenshots = flag.String("screenshots", "", "directory for the browser walk's screenshots")

// requireBrowserEnv, set to 1 (CI sets it), turns a missing Chromium into
// a failure instead of a skip.
const requireBrowserEnv = "TRE_REQUIRE_BROWSER"

// TestBrowserWalk runs the web UI's browser test (ui/e2e/walk.js: headless
// Chromium driven by playwright-core) against the real handler in local
// mode: a TRE admin creates a workspace through the generated form (the
// API's error at an empty required field first), watches its operation
// reach deployed live, adds a workspace service and a user resource, runs
// a custom action, disables and deletes; a researcher sees only what they
// may act on; axe-core checks the main views.
func TestBrowserWalk(t *testing.T) {
	walk := prepareWalk(t, "walk")
	// Heartbeats often enough that the walk sees the bundle's output while
	// it runs (the sandbox install takes install_seconds).
	h := startLocal(t, t.TempDir(), map[string]string{"TRE_PROCESSOR_HEARTBEAT": "300ms", "TRE_FIREWALL_INTERVAL": "1s"})
	walk.run(t, h, h.url)
}

// TestBrowserThroughHost runs the page behind the Functions host stand-in
// (funchost.Front, routing by the repository's host.json and function.json
// files): the page and its assets come through, the dev sign-in is refused,
// and as the host buffers the operation's event stream, the page follows an
// install by polling.
func TestBrowserThroughHost(t *testing.T) {
	walk := prepareWalk(t, "through-host")
	h := startLocal(t, t.TempDir(), map[string]string{"TRE_PROCESSOR_HEARTBEAT": "300ms"})
	app := t.TempDir()
	copyInto(t, "../host.json", filepath.Join(app, "host.json"))
	fns, err := filepath.Glob("../functions/*/function.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		copyInto(t, f, filepath.Join(app, filepath.Base(filepath.Dir(f)), "function.json"))
	}
	routes, err := funchost.LoadHTTPRoutes(app)
	if err != nil {
		t.Fatal(err)
	}
	// A host that forwards (enableForwardingHttpRequest, or any buffering
	// proxy) rather than proxies: the page must fall back to polling.
	host := httptest.NewServer(&funchost.Front{Routes: routes, HandlerURL: h.url, Proxying: false})
	defer host.Close()
	walk.run(t, h, host.URL, "--through-host", h.token("TREAdmin", "alice"))
}

type browserWalk struct {
	node, script, chromium, modules, shots string
}

// prepareWalk finds what the walk needs, or skips saying what is missing.
// Its screenshots go to the subdirectory name of the screenshots' directory.
func prepareWalk(t *testing.T, name string) browserWalk {
	t.Helper()
	slowtest.Require(t, "browser suite")
	if !webui.Built() {
		skipOrFailBrowser(t, "the web UI is not built into this test binary: run make ui first (make test-integration does)")
	}
	chromium, err := findChromium()
	if err != nil {
		skipOrFailBrowser(t, err.Error())
	}
	modules := nodetest.Install(t, "../ui/e2e")
	node, _, err := nodetest.Find()
	if err != nil {
		nodetest.SkipOrFail(t, err)
	}
	script, err := filepath.Abs("../ui/e2e/walk.js")
	if err != nil {
		t.Fatal(err)
	}
	return browserWalk{node: node, script: script, chromium: chromium, modules: modules, shots: screenshotDir(t, name)}
}

// run runs the walk against base, its output in the test's log.
func (b browserWalk) run(t *testing.T, h *handler, base string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	args = append(append([]string{b.script}, args...), base, b.shots)
	cmd := exec.CommandContext(ctx, b.node, args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(b.modules, "node_modules"), "CHROMIUM="+b.chromium)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		t.Log(sc.Text())
	}
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser walk failed (%v); screenshots in %s:\n%s\n\nhandler log (tail):\n%s",
			err, b.shots, strings.Join(lines, "\n"), tail(withoutTimers(h.logs.String()), 40))
	}
	t.Logf("screenshots of each view: %s", b.shots)
}

func copyInto(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func skipOrFailBrowser(t *testing.T, why string) {
	t.Helper()
	if os.Getenv(requireBrowserEnv) == "1" {
		t.Fatalf("browser suite: %s (%s=1 makes this a failure)", why, requireBrowserEnv)
	}
	t.Skipf("browser suite: %s (%s=1 makes this a failure)", why, requireBrowserEnv)
}

// findChromium finds Debian's chromium (Playwright's own browser download
// cannot be used here): $CHROMIUM, else chromium or chromium-browser on
// the PATH.
func findChromium() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium: apt-get install chromium, or set CHROMIUM")
}

func screenshotDir(t *testing.T, name string) string {
	dir := *screenshots
	if dir == "" {
		dir = os.Getenv("TRE_UI_SCREENSHOTS")
	}
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tre-ui-screenshots")
	}
	dir = filepath.Join(dir, name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withoutTimers drops the log lines of the host stand-in's invocations
// (the timers fire every second here), which would hide the rest.
func withoutTimers(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `"invocation_id"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
