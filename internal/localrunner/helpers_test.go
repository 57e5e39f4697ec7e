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
