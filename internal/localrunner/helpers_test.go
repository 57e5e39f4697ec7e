package localrunner_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/tre"
)

// samples is the repository's templates directory, relative to this
// package's directory (where go test runs).
const samples = "../../templates"

// testBundles holds the small bundles of these tests.
const testBundles = "testdata/bundles"

// newRunner returns a runner on dir with its state and work directories in
// the test's temp dir.
func newRunner(t *testing.T, dir string, change ...func(*localrunner.Config)) (*localrunner.Runner, localrunner.Config) {
	t.Helper()
	cfg := localrunner.Config{
		TemplatesDir: dir,
		StateDir:     filepath.Join(t.TempDir(), "state"),
		WorkDir:      filepath.Join(t.TempDir(), "work"),
		GracePeriod:  20 * time.Second,
	}
	for _, c := range change {
		c(&cfg)
	}
	r, err := localrunner.New(cfg)
	require.NoError(t, err)
	return r, cfg
}

// stateDir is the installation's TRE_LOCAL_STATE_DIR (the layout the
// Config documents).
func stateDir(cfg localrunner.Config, installation string) string {
	return filepath.Join(cfg.StateDir, "installations", installation, "state")
}

func installationDir(cfg localrunner.Config, installation string) string {
	return filepath.Join(cfg.StateDir, "installations", installation)
}

func job(bundle, action, installation string, params map[string]any) tre.Job {
	return tre.Job{Action: action, Installation: installation, Bundle: bundle, Version: "0.1.0", Parameters: params}
}

// outputs returns a result's outputs by name, checking each is reported
// once.
func outputs(t *testing.T, res tre.JobResult) map[string]any {
	t.Helper()
	m := map[string]any{}
	for _, o := range res.Outputs {
		_, dup := m[o.Name]
		require.False(t, dup, "output %s reported twice", o.Name)
		m[o.Name] = o.Value
	}
	return m
}

// logBuffer collects a job's output and tells when a text appears in it,
// so that tests wait on what the bundle says rather than on time.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	// seen closes once want appears.
	seen   chan struct{}
	closed bool
}

// watchFor returns a buffer whose seen channel closes once text appears.
func watchFor(text string) *logBuffer {
	return &logBuffer{want: text, seen: make(chan struct{})}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.want != "" && !l.closed && strings.Contains(l.buf.String(), l.want) {
		close(l.seen)
		l.closed = true
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// readTree returns the contents of every file under dir, concatenated.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var all strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all.Write(b)
		all.WriteByte('\n')
		return nil
	})
	require.NoError(t, err)
	return all.String()
}

// clock stands in for the runner's timers (Config.After): it tells when
// the runner starts one, and fires them only when the test says, so that
// tests assert what happens before and after a period, not how long
// anything took. A timer nobody fires never ends.
type clock struct {
	mu      sync.Mutex
	timers  map[time.Duration][]chan time.Time
	started chan time.Duration // the length of each timer started
}

func newClock() *clock {
	return &clock{timers: map[time.Duration][]chan time.Time{}, started: make(chan time.Duration, 64)}
}

func (c *clock) after(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.timers[d] = append(c.timers[d], ch)
	c.mu.Unlock()
	select {
	case c.started <- d:
	default:
	}
	return ch
}

// waitStarted waits until the runner starts a timer of d.
func (c *clock) waitStarted(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-c.started:
			if got == d {
				return
			}
		case <-deadline:
			t.Fatalf("the runner started no %s timer", d)
		}
	}
}

// fire ends every timer of d started so far.
func (c *clock) fire(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.timers[d] {
		ch <- time.Time{}
	}
	delete(c.timers, d)
}

// withClock makes the runner use c.
func withClock(c *clock) func(*localrunner.Config) {
	return func(cfg *localrunner.Config) { cfg.After = c.after }
}

// receive returns the next value of ch, failing the test if none comes
// within a generous deadline (a hung runner, not a slow one).
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
