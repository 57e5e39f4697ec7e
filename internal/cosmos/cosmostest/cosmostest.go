// Package cosmostest runs, for tests, a local Cosmos-protocol server:
// @vercel/cosmosdb-server, an in-memory implementation of the Cosmos DB
// SQL API on Node.js, started by the launcher in ../cosmosserver, which
// fixes the bugs of the package that break the Go SDK (azcosmos). It is
// imported by tests only.
//
// Start returns a server shared by all the tests of the binary; tests keep
// apart by using databases of their own (DatabaseName). StartInstance
// starts a server for one test, which it can stop. Without Node.js 20+ and
// npm the tests are skipped, or fail when TRE_REQUIRE_NODE=1 (see
// nodetest).
package cosmostest

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tre-go/tre/internal/nodetest"
	"github.com/tre-go/tre/internal/slowtest"
)

// Key is an account key for the server, which accepts any base64 key (it
// is "tre-cosmos-test-key").
const Key = "dHJlLWNvc21vcy10ZXN0LWtleQ=="

// startTimeout bounds the wait for a started server to answer.
const startTimeout = 30 * time.Second

// Server is what a client needs to talk to a running server.
type Server struct {
	// Endpoint is the account endpoint: https://127.0.0.1:PORT/ (http://
	// with Options.PlainHTTP).
	Endpoint string
	// Key is an account key the server accepts: Key.
	Key string
	// Client sends requests to the server, accepting its certificate (see
	// NewClient). It is an azcore policy.Transporter: give it to the SDK
	// as ClientOptions.Transport.
	Client *http.Client
}

// Options are the options of a server of a test's own.
type Options struct {
	// PlainHTTP serves plain HTTP instead of HTTPS (the launcher's --http).
	PlainHTTP bool
}

// Instance is a server of one test's own, started by StartInstance.
type Instance struct {
	Server
	proc *nodetest.Process
}

var shared struct {
	once sync.Once
	srv  Server
	// proc is never stopped: it exits with the binary (see
	// nodetest.StartProcess). Keeping it reachable keeps the write end of
	// its stdin open, which the launcher's --exit-with-stdin watches.
	proc *nodetest.Process
	err  error
}

// Start returns the server shared by the tests of the binary, started by
// the first call. It stays up until the binary exits: tests must not stop
// it, and use databases of their own (see DatabaseName). Without Node.js
// the test is skipped (see nodetest.Require); a server that does not start
// fails it.
func Start(t testing.TB) Server {
	t.Helper()
	slowtest.Require(t, "Cosmos-protocol server suite")
	shared.once.Do(func() {
		shared.srv, shared.proc, shared.err = start(Options{})
	})
	if shared.err != nil {
		nodetest.SkipOrFail(t, shared.err)
	}
	return shared.srv
}

// StartInstance starts a server for the test alone, stopped when the test
// ends if it has not stopped it before (Instance.Stop). What the server
// wrote on stderr is logged then.
func StartInstance(t testing.TB, opts Options) *Instance {
	t.Helper()
	slowtest.Require(t, "Cosmos-protocol server suite")
	srv, proc, err := start(opts)
	if err != nil {
		nodetest.SkipOrFail(t, err)
		return nil
	}
	i := &Instance{Server: srv, proc: proc}
	t.Cleanup(func() {
		err := i.Stop()
		if out := proc.Stderr(); out != "" {
			t.Logf("launcher.js stderr:\n%s", out)
		}
		if err != nil {
			t.Error(err)
		}
	})
	return i
}

// Stop stops the server (see nodetest.Process.Stop); clients get
// connection errors from then on. Calling it again returns the same error.
func (i *Instance) Stop() error {
	err := i.proc.Stop()
	i.Client.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("cosmostest: stop: %w", err)
	}
	return nil
}

// start installs and starts a server and waits until it answers.
func start(opts Options) (Server, *nodetest.Process, error) {
	if _, _, err := nodetest.Find(); err != nil {
		return Server{}, nil, fmt.Errorf("cosmostest: local Cosmos server: %w", err)
	}
	dir, err := nodetest.SourcePath("../cosmosserver")
	if err != nil {
		return Server{}, nil, fmt.Errorf("cosmostest: %w", err)
	}
	modules, err := nodetest.Installed(dir)
	if err != nil {
		return Server{}, nil, fmt.Errorf("cosmostest: %w", err)
	}
	args := []string{"--port", "0", "--exit-with-stdin"}
	scheme := "https"
	if opts.PlainHTTP {
		args = append(args, "--http")
		scheme = "http"
	}
	// node_modules is in the cache directory, not beside launcher.js.
	env := []string{"NODE_PATH=" + filepath.Join(modules, "node_modules")}
	proc, err := nodetest.StartProcess(filepath.Join(dir, "launcher.js"), env, args...)
	if err != nil {
		return Server{}, nil, fmt.Errorf("cosmostest: %w", err)
	}
	srv := Server{Endpoint: scheme + "://" + proc.Addr + "/", Key: Key, Client: NewClient()}
	if err := waitAnswers(srv); err != nil {
		_ = proc.Stop()
		return Server{}, nil, fmt.Errorf("cosmostest: %w: %s", err, proc.Stderr())
	}
	return srv, proc, nil
}

// waitAnswers polls the account endpoint until it answers 200 OK.
func waitAnswers(srv Server) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := srv.Client.Get(srv.Endpoint)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", srv.Endpoint, resp.Status)
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("server does not answer within %v: %w", startTimeout, err)
		}
	}
}

// NewClient returns an HTTP client for the server. It skips the
// verification of the server's certificate, which is bundled with the npm
// package, self-signed and expired (so it cannot be trusted explicitly
// either), and keeps up to 128 idle connections, for the 100 concurrent
// writers of the store conformance suite.
func NewClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // local test server only
		MaxIdleConnsPerHost: 128,
	}}
}

var databases atomic.Int64

// DatabaseName returns a database name that no other caller in the test
// binary gets.
func DatabaseName() string {
	return fmt.Sprintf("test-%d", databases.Add(1))
}
