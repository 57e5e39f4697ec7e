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

# inputs counts the files of a corpus directory (0 if there is none).
inputs() {
	if [ -d "$1" ]; then
		find "$1" -type f | wc -l
	else
		echo 0
	fi
}

ran=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	echo "fuzz: $name ($pkg) for $FUZZTIME"
	# Go 1.26's fuzz coordinator can fail a target at the end of -fuzztime
	# with a bare "context deadline exceeded" and no failing input
	# (go.dev/issue/75804, fixed in Go 1.27): that alone is run once more.
	# A failure that writes an input, or fails twice, fails.
	corpus="$pkg/testdata/fuzz/$name"
	for attempt in 1 2; do
		before=$(inputs "$corpus")
		if out=$("$GO" test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZ_PARALLEL" 2>&1); then
			break
		fi
		after=$(inputs "$corpus")
		if [ "$attempt" -eq 1 ] && [ "$before" -eq "$after" ] && grep -q '^    context deadline exceeded$' <<<"$out" &&
			[ "$(grep -c -- '--- FAIL' <<<"$out")" -eq 1 ]; then
			echo "fuzz.sh: $name stopped with the coordinator's deadline race (no failing input written); running it once more"
			continue
		fi
		echo "$out"
		echo "fuzz.sh: $name failed; the input is in $corpus/" >&2
		exit 1
	done
	tail -n 3 <<<"$out"
	ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
	echo "fuzz.sh: no target named $*" >&2
	exit 1
fi
