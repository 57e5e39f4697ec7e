// Package sbtest runs, for tests, a fake Azure Service Bus namespace: the
// AMQP 1.0 broker of ../fakebroker (fake-sb.js, on the npm package rhea),
// with session queues, peek-lock, dead-lettering and duplicate detection as
// azservicebus expects them. It runs on Node.js (see nodetest) and is
// imported by tests only.
//
// Each Start is a fresh broker, empty, with the options of the test, for
// the test alone. Without Node.js 20+ and npm the tests are skipped, or fail
// when TRE_REQUIRE_NODE=1.
package sbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tre-go/tre/internal/nodetest"
	"github.com/tre-go/tre/internal/slowtest"
	"github.com/tre-go/tre/internal/tre"
)

// VerboseEnv is the environment variable that, set to 1, has the broker
// say what it does on stderr, which is logged at the end of the test (shown
// with -v or if the test failed).
const VerboseEnv = "TRE_FAKE_SB_VERBOSE"

// packageDir is the broker's npm package, beside this package.
const packageDir = "../fakebroker"

// Option sets a property of the broker's queues.
type Option func(*options)

type options struct {
	lockDuration     time.Duration
	maxDeliveryCount int
	duplicateWindow  time.Duration
	queues           []string
}

// LockDuration sets how long a session (and its messages) stays locked
// without a renewal (--lock-duration; the broker's default is 30 s). It is
// rounded to the millisecond.
func LockDuration(d time.Duration) Option {
	return func(o *options) { o.lockDuration = d }
}

// MaxDeliveryCount sets how many deliveries a message gets before it is
// dead-lettered (--max-delivery-count; the broker's default is 10).
func MaxDeliveryCount(n int) Option {
	return func(o *options) { o.maxDeliveryCount = n }
}

// DuplicateWindow sets how long a message id is remembered for duplicate
// detection (--duplicate-window; the broker's default is 10 min). It is
// rounded to the millisecond.
func DuplicateWindow(d time.Duration) Option {
	return func(o *options) { o.duplicateWindow = d }
}

// Queues sets the session queues of the broker (--queue), by default
// every queue of tre.Queues (the airlock's notification topic is a queue
// here).
func Queues(names ...string) Option {
	return func(o *options) { o.queues = names }
}

// Require ends the test unless the broker can run: a skip without Node.js
// (see nodetest.Require), a failure if its npm packages do not install. It
// lets a test that starts brokers in subtests skip once rather than in
// every subtest.
func Require(t testing.TB) {
	t.Helper()
	install(t)
}

// install returns the directory holding the broker's node_modules.
func install(t testing.TB) string {
	t.Helper()
	slowtest.Require(t, "Service Bus fake-broker suite")
	if _, _, err := nodetest.Find(); err != nil {
		nodetest.SkipOrFail(t, fmt.Errorf("sbtest: fake Service Bus broker (internal/servicebus/fakebroker): %w", err))
		return ""
	}
	return nodetest.Install(t, packageDir)
}

// Start starts a broker for the test, stopped when the test ends, and
// returns a connection string for it. Without Node.js the test is skipped
// (see Require).
func Start(t testing.TB, opts ...Option) (connectionString string) {
	t.Helper()
	o := options{queues: append([]string(nil), tre.Queues...)}
	for _, opt := range opts {
		opt(&o)
	}
	args := []string{"--port", "0"}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--lock-duration", o.lockDuration}, {"--duplicate-window", o.duplicateWindow}} {
		if d.value != 0 {
			args = append(args, d.flag, strconv.FormatInt(d.value.Round(time.Millisecond).Milliseconds(), 10)+"ms")
		}
	}
	if o.maxDeliveryCount != 0 {
		args = append(args, "--max-delivery-count", strconv.Itoa(o.maxDeliveryCount))
	}
	for _, q := range o.queues {
		args = append(args, "--queue", q)
	}
	if os.Getenv(VerboseEnv) == "1" {
		args = append(args, "--verbose")
	}

	modules := install(t)
	// node_modules is in the cache directory, not beside fake-sb.js.
	env := []string{"NODE_PATH=" + filepath.Join(modules, "node_modules")}
	return ConnectionString(nodetest.Start(t, filepath.Join(packageDir, "fake-sb.js"), env, args...))
}

// ConnectionString returns the connection string of the broker listening
// on addr (HOST:PORT). The key is not checked: UseDevelopmentEmulator makes
// the SDK use SASL ANONYMOUS, and the broker accepts any token on $cbs.
func ConnectionString(addr string) string {
	return fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=test;SharedAccessKey=dGVzdA==;UseDevelopmentEmulator=true", addr)
}
