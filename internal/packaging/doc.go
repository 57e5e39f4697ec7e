// Package packaging holds the tests of the deployable packages that
// scripts/package.sh builds (make package, make package-processor): the
// Function App zip (host.json, the tre-handler binary, one function.json per
// function) and the Resource Processor VM tarball (tre-processor, its
// systemd unit, cloud-init.yaml and processor.env.template).
//
// It has no code of its own. The tests run the script into a temporary
// directory, as a deployment would, and check what Azure would receive: the
// exact file lists and modes, static linux/amd64 binaries stamped with the
// version, host.json and every function.json against the handler's trigger
// routes (internal/api), the env template against the agent's settings
// table, the unit's stop timeout against the drain timeout, and cloud-init
// rendered the way Terraform's templatefile() would.
//
// Without zip, tar or gzip the tests skip, saying so; in CI (CI set to
// anything but "false" or "0", or TRE_REQUIRE_NODE=1, which .ci/run sets)
// a missing tool fails them instead.
package packaging
