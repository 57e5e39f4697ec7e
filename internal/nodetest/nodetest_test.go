package nodetest

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/slowtest"
)

// recorder is a testing.TB that records a skip or a failure instead of
// ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }
func (r *recorder) Fatal(a ...any)                 { r.failed = fmt.Sprint(a...) }

// fakeBin returns a directory holding shell scripts named after the keys
// of scripts, for a PATH.
func fakeBin(t *testing.T, scripts map[string]string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts as fake programs")
	}
	dir := t.TempDir()
	for name, body := range scripts {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	return dir
}

func TestRequireWithoutNode(t *testing.T) {
	for name, tc := range map[string]struct {
		path string
		want string
	}{
		"no node":  {t.TempDir(), "need Node.js 20+ and npm: node is not on the PATH"},
		"no npm":   {fakeBin(t, map[string]string{"node": "echo v22.1.0"}), "need Node.js 20+ and npm: npm is not on the PATH"},
		"old node": {fakeBin(t, map[string]string{"node": "echo v18.19.0", "npm": "exit 0"}), "is v18.19.0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			t.Setenv(slowtest.Env, "1")

			t.Setenv(RequireEnv, "")
			r := &recorder{TB: t}
			require.Empty(t, Require(r))
			require.Empty(t, r.failed)
			require.Contains(t, r.skipped, tc.want)
			require.Contains(t, r.skipped, "install them to run this test")

			t.Setenv(RequireEnv, "1")
			r = &recorder{TB: t}
			Require(r)
			require.Empty(t, r.skipped)
			require.Contains(t, r.failed, tc.want)
			require.Contains(t, r.failed, RequireEnv+"=1 makes this a failure")
		})
	}
}

func TestRequireFindsNode(t *testing.T) {
	bin := fakeBin(t, map[string]string{"node": "echo v20.0.0", "npm": "exit 0"})
	t.Setenv("PATH", bin)
	t.Setenv(slowtest.Env, "1")
	r := &recorder{TB: t}
	require.Equal(t, filepath.Join(bin, "node"), Require(r))
	require.Empty(t, r.skipped+r.failed)
}

// Outside the integration suites, Require skips first, naming the target
// that runs them.
func TestRequireOutsideIntegration(t *testing.T) {
	t.Setenv(slowtest.Env, "")
	r := &recorder{TB: t}
	Require(r)
	require.Contains(t, r.skipped, "integration suite, run by `make test-integration`")
	require.Empty(t, r.failed)
}

func TestSkipOrFailOtherErrors(t *testing.T) {
	// Only a missing runtime is a skip: a broken install is a failure.
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	SkipOrFail(r, fmt.Errorf("nodetest: install x: npm ci: exit status 1"))
	require.Empty(t, r.skipped)
	require.Equal(t, "nodetest: install x: npm ci: exit status 1", r.failed)
}

func TestSourcePath(t *testing.T) {
	// go test runs the test in the package's directory.
	wd, err := os.Getwd()
	require.NoError(t, err)
	got, err := SourcePath("testdata/echo.js")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(wd, "testdata", "echo.js"), got)

	abs := filepath.Join(t.TempDir(), "x.js")
	got, err = SourcePath(abs)
	require.NoError(t, err)
	require.Equal(t, abs, got)

	// Under -trimpath the source file is known by its import path: the
	// module around the working directory (this package's) maps it.
	dir, err := trimmedDir("github.com/tre-go/tre/internal/nodetest")
	require.NoError(t, err)
	require.Equal(t, wd, dir)
	_, err = trimmedDir("example.com/other/pkg")
	require.ErrorContains(t, err, "pass an absolute path")
}

func TestStart(t *testing.T) {
	Require(t)
	addr := Start(t, "testdata/echo.js", []string{"NODETEST_GREETING=hello from node"}, "--port", "0")
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.Equal(t, "hello from node\n", string(got), "the program runs with env")
}

func TestStartProcessErrors(t *testing.T) {
	Require(t)
	script, err := SourcePath("testdata/echo.js")
	require.NoError(t, err)

	_, err = StartProcess(script, nil, "--fail")
	require.ErrorContains(t, err, "nodetest: start echo.js: exited before it listened (exit status 3)")
	require.ErrorContains(t, err, "echo.js: failing as asked", "the error shows stderr")

	_, err = StartProcess(script, nil, "--bad-line")
	require.ErrorContains(t, err, `first line "hello there", want "listening HOST:PORT"`)

	_, err = StartProcess("testdata/echo.js", nil)
	require.ErrorContains(t, err, "not an absolute path")
}

func TestStop(t *testing.T) {
	Require(t)
	script, err := SourcePath("testdata/echo.js")
	require.NoError(t, err)

	t.Run("SIGTERM", func(t *testing.T) {
		p, err := StartProcess(script, nil)
		require.NoError(t, err)
		require.NoError(t, p.Stop())
		require.NoError(t, p.Stop(), "twice")
		_, err = net.Dial("tcp", p.Addr)
		require.Error(t, err, "nothing listens any more")
	})

	t.Run("Kill", func(t *testing.T) {
		grace := stopGrace
		stopGrace = 100 * time.Millisecond
		t.Cleanup(func() { stopGrace = grace })
		p, err := StartProcess(script, nil, "--ignore-term")
		require.NoError(t, err)
		err = p.Stop()
		require.EqualError(t, err, "nodetest: echo.js did not exit within 100ms of SIGTERM: killed")
		require.Equal(t, err, p.Stop(), "the same answer twice")
	})

	t.Run("Crashed", func(t *testing.T) {
		p, err := StartProcess(script, nil, "--exit-on-connect")
		require.NoError(t, err)
		conn, err := net.Dial("tcp", p.Addr)
		require.NoError(t, err)
		_, _ = io.ReadAll(conn)
		conn.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			require.Fail(t, "the program did not exit")
		}
		err = p.Stop()
		require.ErrorContains(t, err, "nodetest: echo.js exited before it was stopped (exit status 4)")
		require.ErrorContains(t, err, "exiting after a connection")
	})
}

func TestInstall(t *testing.T) {
	Require(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	if dir, err := os.UserCacheDir(); err != nil || dir != cache {
		t.Skipf("the user cache directory of %s is not $XDG_CACHE_HOME", runtime.GOOS)
	}
	pkg, err := SourcePath("testdata/pkg")
	require.NoError(t, err)
	_, err = Installed(pkg)
	require.ErrorContains(t, err, "are not installed: run `make test-deps`")

	dir, err := InstallPackage(pkg)
	require.NoError(t, err)
	require.Equal(t, cache, filepath.Dir(filepath.Dir(filepath.Dir(dir))), "in the cache: %s", dir)
	require.Regexp(t, `^pkg-[0-9a-f]{16}$`, filepath.Base(dir))
	require.DirExists(t, filepath.Join(dir, "node_modules"))
	require.FileExists(t, filepath.Join(dir, "package-lock.json"))
	require.Equal(t, dir, Install(t, "testdata/pkg"), "tests find what was installed")

	// Installed once: the second call finds it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "node_modules", "marker"), nil, 0o644))
	again, err := InstallPackage(pkg)
	require.NoError(t, err)
	require.Equal(t, dir, again)
	require.FileExists(t, filepath.Join(dir, "node_modules", "marker"))
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directory is left")

	_, err = InstallPackage("testdata/pkg")
	require.ErrorContains(t, err, "not an absolute path")
}
