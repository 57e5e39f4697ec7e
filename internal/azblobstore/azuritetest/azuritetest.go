// Package azuritetest runs, for tests, Azurite's blob service (the Azure
// Storage protocol server of the npm package azurite), started by the
// launcher in ../azurite, in memory. Start returns a server shared by the
// tests of the binary: they keep apart by their containers' names (the
// airlock names containers after request ids). Without Node.js 20+ and npm
// the tests are skipped, or fail when TRE_REQUIRE_NODE=1 (see nodetest).
// It is imported by tests only.
package azuritetest

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tre-go/tre/internal/nodetest"
	"github.com/tre-go/tre/internal/slowtest"
)

// Azurite's well-known development account.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is a running Azurite blob service.
type Server struct {
	// Endpoint is the blob endpoint of the account:
	// http://127.0.0.1:PORT/devstoreaccount1.
	Endpoint string
	Account  string
	Key      string
}

var shared struct {
	once sync.Once
	srv  Server
	proc *nodetest.Process // never stopped: it exits with the binary
	err  error
}

// Start returns the server shared by the tests of the binary, started by
// the first call. The suite is an integration suite (slowtest).
func Start(t testing.TB) Server {
	t.Helper()
	slowtest.Require(t, "Azurite suite")
	shared.once.Do(func() {
		shared.srv, shared.proc, shared.err = start()
	})
	if shared.err != nil {
		nodetest.SkipOrFail(t, shared.err)
	}
	return shared.srv
}

// Launcher returns the path of the launcher and the NODE_PATH it needs,
// for tests that start Azurite their own way.
func Launcher() (script, nodePath string, err error) {
	dir, err := nodetest.SourcePath("../azurite")
	if err != nil {
		return "", "", fmt.Errorf("azuritetest: %w", err)
	}
	modules, err := nodetest.Installed(dir)
	if err != nil {
		return "", "", fmt.Errorf("azuritetest: %w", err)
	}
	return filepath.Join(dir, "launcher.js"), filepath.Join(modules, "node_modules"), nil
}

func start() (Server, *nodetest.Process, error) {
	script, nodePath, err := Launcher()
	if err != nil {
		return Server{}, nil, err
	}
	proc, err := nodetest.StartProcess(script, []string{"NODE_PATH=" + nodePath}, "--port", "0", "--exit-with-stdin")
	if err != nil {
		return Server{}, nil, fmt.Errorf("azuritetest: %w", err)
	}
	srv := Server{Endpoint: "http://" + proc.Addr + "/" + Account, Account: Account, Key: Key}
	if err := waitAnswers("http://" + proc.Addr + "/"); err != nil {
		_ = proc.Stop()
		return Server{}, nil, fmt.Errorf("azuritetest: %w: %s", err, proc.Stderr())
	}
	return srv, proc, nil
}

// waitAnswers polls until the server answers HTTP at all.
func waitAnswers(u string) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("azurite does not answer within 30s: %w", err)
		}
	}
}
