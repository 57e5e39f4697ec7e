package nodetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// installTimeout bounds one npm ci.
const installTimeout = 5 * time.Minute

// installMu makes the tests of one binary install one at a time, so that
// parallel tests do not run npm ci for the same directory twice.
var installMu sync.Mutex

// Packages are the npm package directories of the protocol servers the
// integration suites start, of Azurite (which make run starts too), and of
// the web UI's browser tests (playwright-core, axe-core), relative to the
// module root. `make test-deps`
// installs them (go run ./internal/nodetest/installdeps); tests only look
// them up (Installed), so that no test pays for npm ci.
var Packages = []string{
	"internal/cosmos/cosmosserver",
	"internal/servicebus/fakebroker",
	"internal/azblobstore/azurite",
	"ui/e2e",
}

// Install returns the directory that holds node_modules for the npm
// packages of packageDir, installed by `make test-deps`. A relative
// packageDir is resolved against the directory of the calling source file.
// Without Node.js or npm the test is skipped (see Require); packages that
// are not installed fail it, naming the make target.
func Install(t testing.TB, packageDir string) (nodeModulesParent string) {
	t.Helper()
	dir, err := sourcePath(packageDir, 2)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := Installed(dir)
	if err != nil {
		SkipOrFail(t, err)
	}
	return parent
}

// Installed returns the directory that holds node_modules for the npm
// packages of packageDir (an absolute path), as InstallPackage installed
// them. Its error says to run `make test-deps` when they are not there,
// and wraps ErrUnavailable when Node.js or npm is missing.
func Installed(packageDir string) (nodeModulesParent string, err error) {
	if _, _, err := Find(); err != nil {
		return "", fmt.Errorf("nodetest: %s: %w", packageDir, err)
	}
	target, err := installDir(packageDir)
	if err != nil {
		return "", fmt.Errorf("nodetest: %s: %w", packageDir, err)
	}
	if !installed(target) {
		return "", fmt.Errorf("nodetest: the npm packages of %s are not installed: run `make test-deps` (it installs them into %s)", packageDir, target)
	}
	return target, nil
}

// installDir is where the packages of packageDir are installed: a
// directory of the user's cache named after the package directory and
// the hash of its package-lock.json.
func installDir(packageDir string) (string, error) {
	lock, err := os.ReadFile(filepath.Join(packageDir, "package-lock.json"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "tre", "node", filepath.Base(packageDir)+"-"+hex.EncodeToString(sum[:8])), nil
}

// InstallPackage installs the npm packages of packageDir, an absolute path
// to a directory with package.json and package-lock.json, and returns the
// directory that holds node_modules: give the program
// NODE_PATH=<dir>/node_modules to find them there.
//
// The packages are installed with npm ci, outside the repository, in
// <user cache dir>/tre/node/<base name of packageDir>-<hash of
// package-lock.json>, so once per version of the lock file. npm ci runs in
// a temporary directory that is renamed into place when it is complete: an
// interrupted install is never used, and test binaries installing at the
// same time do not share a directory (the first rename wins).
//
// The error wraps ErrUnavailable if Node.js or npm is missing.
func InstallPackage(packageDir string) (nodeModulesParent string, err error) {
	if !filepath.IsAbs(packageDir) {
		return "", fmt.Errorf("nodetest: install %s: not an absolute path", packageDir)
	}
	_, npm, err := Find()
	if err != nil {
		return "", fmt.Errorf("nodetest: install %s: %w", packageDir, err)
	}
	target, err := installDir(packageDir)
	if err != nil {
		return "", fmt.Errorf("nodetest: install %s: %w", packageDir, err)
	}
	root := filepath.Dir(target)

	installMu.Lock()
	defer installMu.Unlock()
	if installed(target) {
		return target, nil
	}
	if err := npmCI(npm, packageDir, root, target); err != nil {
		return "", fmt.Errorf("nodetest: install %s: %w", packageDir, err)
	}
	return target, nil
}

// installed reports whether a complete install is at dir: it only exists
// once npm ci has succeeded.
func installed(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "node_modules"))
	return err == nil && fi.IsDir()
}

// npmCI runs npm ci for the package in src in a temporary directory of
// root and renames it to target.
func npmCI(npm, src, root, target string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".install-")
	if err != nil {
		return fmt.Errorf("create install directory: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	for _, name := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", tmp, err, out)
	}
	// A package without dependencies gets no node_modules, which marks a
	// complete install.
	if err := os.MkdirAll(filepath.Join(tmp, "node_modules"), 0o755); err != nil {
		return fmt.Errorf("create node_modules: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		if installed(target) {
			return nil // another test binary got there first
		}
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists without node_modules, remove it: %w", target, err)
		}
		return fmt.Errorf("move the install into place: %w", err)
	}
	return nil
}
