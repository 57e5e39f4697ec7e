#!/usr/bin/env bash
# Runs the fuzz targets (make fuzz, CI): see usage below.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	cat <<'USAGE'
Usage: scripts/fuzz.sh [TARGET...]

Runs every fuzz target (or the TARGETs named) for FUZZTIME each: make fuzz
and CI run it with the default. A failure leaves the input that failed in
the package's testdata/fuzz/<target>/, which `go test` then runs as a seed
for good: commit it with the fix.

  scripts/fuzz.sh                      every target, FUZZTIME each (default 8s)
  FUZZTIME=10m scripts/fuzz.sh         longer, locally
  scripts/fuzz.sh FuzzTemplateSchema   one target

Environment: FUZZTIME (default 8s), FUZZ_PARALLEL (fuzzing workers,
default 1: CI machines are small and each worker is a process), GO.
USAGE
	exit 0
fi
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-8s}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-1}

# package target: request decoding and validation, the status-message
# parser, template schema registration, pipeline substitution, the
# Functions invocation parser; the body limits' fast path against their walker.
targets=(
	"./internal/api FuzzRequestBody"
	"./internal/api FuzzStatusMessage"
	"./internal/api FuzzWithinLimits"
	"./internal/schema FuzzTemplateSchema"
	"./internal/pipeline FuzzSubstitution"
	"./internal/funchost FuzzInvocation"
)

ran=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	echo "fuzz: $name ($pkg) for $FUZZTIME"
	if ! out=$("$GO" test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZ_PARALLEL" 2>&1); then
		echo "$out"
		echo "fuzz.sh: $name failed; the input is in $pkg/testdata/fuzz/$name/" >&2
		exit 1
	fi
	tail -n 3 <<<"$out"
	ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
	echo "fuzz.sh: no target named $*" >&2
	exit 1
fi
