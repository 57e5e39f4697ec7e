// Package nodetest runs the Node.js programs that some adapters' tests use
// as local protocol servers (the Cosmos-protocol server of
// internal/cosmos, the fake Service Bus broker of internal/servicebus). It
// is imported by tests only.
//
// A test first makes sure that Node.js 20+ and npm are on the PATH
// (Require): the suites that need them are integration suites, skipped
// unless TRE_INTEGRATION=1 (see package slowtest); without Node.js they are
// skipped with the reason, or fail when the environment variable
// TRE_REQUIRE_NODE is 1 (as CI sets it, so that a missing runtime cannot
// pass for a green run). It then finds the npm packages of the program's
// package directory (Install), which `make test-deps` installed
// (InstallPackage: npm ci, once per version of package-lock.json, into a
// cache directory outside the repository). Last it starts the program (Start), which must print
// "listening HOST:PORT" as its first line on stdout, and gets HOST:PORT
// back; the process is stopped when the test ends.
//
// A process started here also ends with the test binary, even one that is
// killed: its stdin is a pipe from the test binary, which closes when the
// binary exits (a program can watch it, as the Cosmos launcher's
// --exit-with-stdin does), and on Linux the kernel sends it SIGKILL when
// its parent dies.
//
// Relative paths given to Install and Start are resolved against the
// directory of the calling source file, not the working directory, so that
// helper packages can name the programs beside them. The functions without
// a testing.TB (Find, InstallPackage, StartProcess) are for servers shared
// by all the tests of a binary, whose lifetime is not one test's; they
// take absolute paths (see SourcePath).
package nodetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tre-go/tre/internal/slowtest"
)

// MinMajorVersion is the oldest major version of Node.js the programs run on.
const MinMajorVersion = 20

// RequireEnv is the environment variable that, set to 1, turns the skip of
// a test that cannot find Node.js or npm into a failure.
const RequireEnv = "TRE_REQUIRE_NODE"

// ErrUnavailable is in the chain of the errors that say Node.js or npm is
// missing or too old: the test is to be skipped rather than failed (see
// SkipOrFail).
var ErrUnavailable = errors.New("need Node.js " + strconv.Itoa(MinMajorVersion) + "+ and npm")

// found is the outcome of a lookup of node and npm on one PATH.
type found struct {
	node, npm string
	err       error
}

var lookups struct {
	mu     sync.Mutex
	byPath map[string]found
}

// Find returns the paths of node and npm, checking that node is at least
// MinMajorVersion. Its error wraps ErrUnavailable when either is missing or
// node is too old. The answer is remembered for each value of PATH.
func Find() (node, npm string, err error) {
	path := os.Getenv("PATH")
	lookups.mu.Lock()
	defer lookups.mu.Unlock()
	if f, ok := lookups.byPath[path]; ok {
		return f.node, f.npm, f.err
	}
	f := find()
	if lookups.byPath == nil {
		lookups.byPath = map[string]found{}
	}
	lookups.byPath[path] = f
	return f.node, f.npm, f.err
}

var versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v(\d+)\.`) })

func find() found {
	node, err := exec.LookPath("node")
	if err != nil {
		return found{err: fmt.Errorf("%w: node is not on the PATH", ErrUnavailable)}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return found{err: fmt.Errorf("%w: npm is not on the PATH", ErrUnavailable)}
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return found{err: fmt.Errorf("nodetest: %s --version: %w", node, err)}
	}
	m := versionRE().FindSubmatch(out)
	if m == nil {
		return found{err: fmt.Errorf("nodetest: %s --version: unexpected output %q", node, out)}
	}
	if major, _ := strconv.Atoi(string(m[1])); major < MinMajorVersion {
		return found{err: fmt.Errorf("%w: %s is %s", ErrUnavailable, node, bytes.TrimSpace(out))}
	}
	return found{node: node, npm: npm}
}

// Require returns the path of node, or ends the test: a skip unless the
// integration suites run (see slowtest), a skip if Node.js 20+ or npm is
// missing, or a failure then if TRE_REQUIRE_NODE=1.
func Require(t testing.TB) (node string) {
	t.Helper()
	slowtest.Require(t, "Node.js protocol-server suite")
	node, _, err := Find()
	if err != nil {
		SkipOrFail(t, err)
	}
	return node
}

// SkipOrFail ends the test because of err, an error of this package or
// one wrapping it: a skip if err wraps ErrUnavailable (unless
// TRE_REQUIRE_NODE=1), a failure otherwise.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%v; install them (%s=1 makes this a failure instead of a skip)", err, RequireEnv)
		return
	}
	t.Skipf("skipped: %v; install them to run this test (%s=1 makes this a failure)", err, RequireEnv)
}

// SourcePath returns path if it is absolute, else path resolved against
// the directory of the source file that calls SourcePath.
func SourcePath(path string) (string, error) {
	return sourcePath(path, 2)
}

// sourcePath resolves path against the directory of the source file of
// the function skip frames up (1 = the caller of sourcePath).
func sourcePath(path string, skip int) (string, error) {
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	_, file, _, ok := runtime.Caller(skip)
	if !ok {
		return "", fmt.Errorf("nodetest: resolve %s: no caller information", path)
	}
	dir := filepath.Dir(file)
	if !filepath.IsAbs(file) {
		// Built with -trimpath: file is the package's import path and the
		// file name. Find the module it belongs to from the working
		// directory, which go test sets to the test's package.
		var err error
		if dir, err = trimmedDir(filepath.ToSlash(dir)); err != nil {
			return "", fmt.Errorf("nodetest: resolve %s: %w", path, err)
		}
	}
	return filepath.Join(dir, path), nil
}

// trimmedDir finds the directory of the package whose import path is
// importPath in the module enclosing the working directory.
func trimmedDir(importPath string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; {
		if mod := modulePath(filepath.Join(dir, "go.mod")); mod != "" {
			if rest, ok := strings.CutPrefix(importPath, mod); ok && (rest == "" || rest[0] == '/') {
				return filepath.Join(dir, filepath.FromSlash(rest)), nil
			}
			return "", fmt.Errorf("source file of package %s (built with -trimpath) is not in module %s at %s: pass an absolute path", importPath, mod, dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("source file of package %s (built with -trimpath) is outside the module of %s: pass an absolute path", importPath, wd)
		}
		dir = parent
	}
}

// modulePath returns the module path declared in the go.mod file at path,
// or "" if there is none.
func modulePath(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
