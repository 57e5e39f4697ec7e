package servicebus_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/queuetest"
	"github.com/tre-go/tre/internal/servicebus"
	"github.com/tre-go/tre/internal/tre"
)

func TestQueueConformance(t *testing.T) {
	broker := fakeBroker(t)
	queuetest.Run(t, func(t *testing.T, opts queuetest.Options) func() tre.Queue {
		conn := connectionString(broker.start(t, opts))
		return func() tre.Queue {
			q, err := servicebus.NewFromConnectionString(conn, nil)
			require.NoError(t, err)
			return q
		}
	})
}

func TestInvalidConnectionString(t *testing.T) {
	_, err := servicebus.NewFromConnectionString("Endpoint=sb://x;SharedAccessKey=secret-value", nil)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.NotContains(t, err.Error(), "secret-value", "the error must not repeat the key")
}

// broker is the fake Service Bus broker (fakebroker/fake-sb.js) with its npm
// dependencies installed.
type broker struct {
	node, script, modules string
}

// fakeBroker finds node and npm and installs the broker's dependencies into
// a cache directory outside the repository, keyed by a hash of
// package-lock.json, so they are installed once per lock file. Without node
// or npm the test is skipped, unless TRE_REQUIRE_NODE=1 (CI) makes that a
// failure.
func fakeBroker(t *testing.T) *broker {
	t.Helper()
	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		msg := "node and npm are needed to run the fake Service Bus broker (fakebroker/); install Node.js 18+ to run this test"
		if os.Getenv("TRE_REQUIRE_NODE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir, err := filepath.Abs("fakebroker")
	require.NoError(t, err)
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	require.NoError(t, err)
	sum := sha256.Sum256(lock)

	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	target := filepath.Join(cache, "tre-go", "fakebroker-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(target, "node_modules", "rhea")); err != nil {
		installModules(t, npm, dir, target)
	}
	return &broker{node: node, script: filepath.Join(dir, "fake-sb.js"), modules: filepath.Join(target, "node_modules")}
}

// installModules runs npm ci in a fresh directory and renames it into place,
// so a concurrent or interrupted install never leaves a half-filled cache.
func installModules(t *testing.T, npm, src, target string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o755))
	tmp, err := os.MkdirTemp(filepath.Dir(target), "install-")
	require.NoError(t, err)
	defer os.RemoveAll(tmp)
	for _, f := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(tmp, f), data, 0o644))
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm ci for the fake broker:\n%s", out)
	if err := os.Rename(tmp, target); err != nil {
		// Another test process got there first.
		_, statErr := os.Stat(filepath.Join(target, "node_modules", "rhea"))
		require.NoError(t, statErr, "install fake broker modules: %v", err)
	}
}

// start runs a broker with the test's options on a free port and stops it
// when the test ends; it returns host:port.
func (b *broker) start(t *testing.T, opts queuetest.Options) string {
	t.Helper()
	args := []string{b.script, "--port", "0",
		"--lock-duration", strconv.FormatInt(opts.LockDuration.Milliseconds(), 10) + "ms",
		"--max-delivery-count", strconv.Itoa(opts.MaxDeliveryCount),
		"--duplicate-window", strconv.FormatInt(opts.DuplicateWindow.Milliseconds(), 10) + "ms",
		"--queue", tre.QueueRequests, "--queue", tre.QueueStatus,
	}
	verbose := os.Getenv("TRE_FAKE_SB_VERBOSE") == "1"
	if verbose {
		args = append(args, "--verbose")
	}
	cmd := exec.Command(b.node, args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+b.modules)
	stdout := &firstLine{line: make(chan string, 1)}
	var stderr syncBuffer
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// Stop: signal, wait, then kill.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if (t.Failed() || verbose) && stderr.Len() > 0 {
			t.Logf("fake broker stderr:\n%s", stderr.String())
		}
	})

	select {
	case line := <-stdout.line:
		addr, ok := strings.CutPrefix(line, "listening ")
		require.True(t, ok, "unexpected first line from the fake broker: %q", line)
		return addr
	case err := <-done:
		done <- err // for the cleanup
		require.Failf(t, "fake broker exited", "%v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		require.Failf(t, "fake broker did not start", "%s", stderr.String())
	}
	return ""
}

// firstLine is a process's stdout that hands over its first line.
type firstLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	line chan string
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.buf.Write(p)
	if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok {
		w.sent = true
		w.line <- line
	}
	return len(p), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
