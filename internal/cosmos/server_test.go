package cosmos

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The tests run against @vercel/cosmosdb-server, started once per test
// binary (on first use) by the launcher in cosmosserver/, and stopped by
// TestMain. Without Node.js they skip, unless TRE_REQUIRE_NODE=1 (CI) makes
// them fail.

// testKey is any base64 string: the server accepts every key.
var testKey = base64.StdEncoding.EncodeToString([]byte("tre-cosmos-test-key"))

// testTransport accepts the server's bundled certificate, which is
// self-signed and expired (so it cannot be trusted explicitly either). It
// keeps enough idle connections for the conformance suite's 100 concurrent
// writers.
var testTransport = &http.Client{Transport: &http.Transport{
	TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // local test server only
	MaxIdleConnsPerHost: 128,
}}

var shared struct {
	once     sync.Once
	skip     string // why the tests cannot run, if they cannot
	err      error
	dir      string // where node_modules is
	endpoint string
	srv      *server
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "cosmos: stop test server: %v\n", err)
		}
	}
	os.Exit(code)
}

// requireServer returns the endpoint of the shared local Cosmos server,
// starting it on first use, or skips the test if Node.js is missing.
func requireServer(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.skip, shared.err = installServer()
		if shared.skip != "" || shared.err != nil {
			return
		}
		shared.srv, shared.err = startServer(shared.dir, false)
		if shared.err == nil {
			shared.endpoint = shared.srv.endpoint
		}
	})
	skipWithoutNode(t, shared.skip)
	require.NoError(t, shared.err, "start the local Cosmos server")
	return shared.endpoint
}

// skipWithoutNode skips the test if reason (why Node.js cannot run the
// server) is not empty, or fails it if TRE_REQUIRE_NODE=1.
func skipWithoutNode(t *testing.T, reason string) {
	t.Helper()
	if reason == "" {
		return
	}
	if os.Getenv("TRE_REQUIRE_NODE") == "1" {
		t.Fatalf("cosmos tests cannot run: %s; install Node.js 20+ (TRE_REQUIRE_NODE=1 makes this a failure, not a skip)", reason)
	}
	t.Skipf("cosmos tests skipped: %s; install Node.js 20+ to run them", reason)
}

// installServer installs the launcher's npm packages, once per version of
// package-lock.json, in the user's cache directory (outside the repository)
// and returns the directory holding node_modules. It returns a skip reason
// if node or npm is missing or too old.
func installServer() (dir, skip string, err error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "node/npm not found", nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", "node/npm not found", nil
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "", "", fmt.Errorf("node --version: %w", err)
	}
	if m := regexp.MustCompile(`^v(\d+)\.`).FindSubmatch(out); m == nil {
		return "", "", fmt.Errorf("node --version: unexpected output %q", out)
	} else if major, _ := strconv.Atoi(string(m[1])); major < 20 {
		return "", fmt.Sprintf("node %s is too old", bytes.TrimSpace(out)), nil
	}

	lock, err := os.ReadFile(filepath.Join("cosmosserver", "package-lock.json"))
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "tre")
	dir = filepath.Join(root, "cosmosserver-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@vercel", "cosmosdb-server", "package.json")); err == nil {
		return dir, "", nil
	}

	// Install in a temporary directory renamed into place when complete, so
	// that an interrupted install is never used and concurrent test binaries
	// do not install into the same directory.
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, name := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join("cosmosserver", name))
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("npm ci in %s: %w\n%s", tmp, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return dir, "", nil // another test binary won the race
		}
		return "", "", err
	}
	return dir, "", nil
}

// server is a running launcher process.
type server struct {
	endpoint string
	cmd      *exec.Cmd
	stdin    io.Closer
	done     chan struct{} // closed when the process has exited
	stderr   *syncBuffer
}

// startServer starts the launcher with the packages installed in dir and
// waits until it answers. plainHTTP selects --http.
func startServer(dir string, plainHTTP bool) (*server, error) {
	launcher, err := filepath.Abs(filepath.Join("cosmosserver", "launcher.js"))
	if err != nil {
		return nil, err
	}
	args := []string{launcher, "--port", "0", "--exit-with-stdin"}
	if plainHTTP {
		args = append(args, "--http")
	}
	cmd := exec.Command("node", args...)
	// node_modules is in the cache directory, not beside launcher.js.
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	s := &server{cmd: cmd, done: make(chan struct{}), stderr: &syncBuffer{}}
	cmd.Stderr = s.stderr
	// The launcher exits when this pipe closes, also if the test binary
	// dies without calling stop.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	s.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start launcher: %w", err)
	}

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout) // never let the launcher block on a full pipe
		_ = cmd.Wait()
		close(s.done)
	}()

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening ")
		if !ok || !found {
			_ = s.stop()
			return nil, fmt.Errorf("launcher did not start (first line %q): %s", line, s.stderr)
		}
		scheme := "https"
		if plainHTTP {
			scheme = "http"
		}
		s.endpoint = scheme + "://" + addr + "/"
	case <-deadline.C:
		_ = s.stop()
		return nil, fmt.Errorf("launcher did not print its address within 30 s: %s", s.stderr)
	}
	if err := waitAnswers(s.endpoint, deadline.C); err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("%w: %s", err, s.stderr)
	}
	return s, nil
}

// waitAnswers polls the account endpoint until it answers 200 or the
// deadline fires.
func waitAnswers(endpoint string, deadline <-chan time.Time) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		resp, err := testTransport.Get(endpoint)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", endpoint, resp.Status)
		}
		last = err
		select {
		case <-tick.C:
		case <-deadline:
			return fmt.Errorf("server does not answer: %w", last)
		}
	}
}

// stop asks the launcher to exit (stdin closed, then SIGINT) and kills it
// if it has not exited within 5 s.
func (s *server) stop() error {
	_ = s.stdin.Close()
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-s.done
	return errors.New("launcher did not exit within 5 s: killed")
}

// syncBuffer collects the launcher's stderr for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 { // keep the start, where startup errors are
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var dbCounter atomic.Int64

// newDatabaseName returns a database name not used yet on the shared server.
func newDatabaseName() string {
	return fmt.Sprintf("test-%d", dbCounter.Add(1))
}
