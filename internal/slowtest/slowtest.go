// Package slowtest gates the slow integration suites: the adapters' tests
// against local protocol servers started from npm (the Cosmos-protocol
// server, the Service Bus fake broker), the packaging of the deployables,
// and the end-to-end walk on the Azure adapters. They run when the
// environment variable TRE_INTEGRATION is 1, which `make test-integration`
// sets (and CI runs after `make test`); otherwise they are skipped with a
// reason that names the target. It is imported by tests only.
//
// The gate is an environment variable rather than a build tag, so that
// `go vet` and the compiler see every test in one build (house style:
// nomad's "slow tests gated by an env var").
package slowtest

import (
	"os"
	"testing"
)

// Env is the environment variable that, set to 1, runs the integration
// suites.
const Env = "TRE_INTEGRATION"

// Enabled reports whether the integration suites run.
func Enabled() bool { return os.Getenv(Env) == "1" }

// Require skips the test unless the integration suites run. suite names
// what is skipped, for the one line the test summary prints per skipped
// suite: "Cosmos-protocol server suite", "packaging".
func Require(t testing.TB, suite string) {
	t.Helper()
	if !Enabled() {
		t.Skipf("%s: integration suite, run by `make test-integration` (%s=1)", suite, Env)
	}
}
