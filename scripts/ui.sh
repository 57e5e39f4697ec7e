#!/usr/bin/env bash
# Builds and tests the web UI (ui/) with Node.js: make ui, make run, make
# test and scripts/package.sh call it. See usage below.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/ui.sh [--if-node] build|test|deps

The web UI is TypeScript (ui/), built with Node.js 20.19+ and npm into
internal/webui/dist/app, which tre-handler embeds (see internal/webui).

  deps   npm ci in ui/, when ui/package-lock.json changed since the last one
  build  deps, then type-check and build, when a source is newer than the
         build (else it says the build is up to date)
  test   deps, then the UI's unit tests (vitest)

Options:
  --if-node  without Node.js or npm, say how to get the UI and succeed
             (make run: the handler then serves a page saying how)
  -h, --help this help

Environment:
  TRE_REQUIRE_NODE=1  a missing Node.js fails even `test` (CI sets it);
                      without it, `test` says the tests are skipped
EOF
}

die() {
	echo "ui.sh: $*" >&2
	exit 1
}

if_node=false
cmd=""
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--if-node)
		if_node=true
		shift
		;;
	build | test | deps)
		[[ -z $cmd ]] || die "one command at a time"
		cmd=$1
		shift
		;;
	*)
		usage >&2
		die "unknown argument: $1"
		;;
	esac
done
[[ -n $cmd ]] || {
	usage >&2
	exit 2
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ui=ui
out=internal/webui/dist/app

# node_ok says whether Node.js 20.19+ and npm are on the PATH; why not, if not.
node_ok() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		why="Node.js and npm are not on the PATH"
		return 1
	fi
	local v
	v=$(node -p 'process.versions.node')
	if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
		why="Node.js $v is too old (20.19 or later is needed)"
		return 1
	fi
}

why=""
if ! node_ok; then
	case $cmd in
	test)
		if [[ ${TRE_REQUIRE_NODE:-} == 1 ]]; then
			die "the UI's unit tests need Node.js: $why"
		fi
		echo "skip ui (unit tests): $why; install Node.js 20.19+ to run them"
		exit 0
		;;
	*)
		if $if_node; then
			echo "ui.sh: the web UI is not built: $why. tre-handler serves a page saying so at /;"
			echo "ui.sh: install Node.js 20.19+ (and npm), then run make ui (or make run again)."
			exit 0
		fi
		die "the web UI needs Node.js to build: $why (or scripts/package.sh --without-ui)"
		;;
	esac
fi

# deps runs npm ci when the lock file differs from the one installed.
deps() {
	local stamp=$ui/node_modules/.tre-lock.sha256 sum
	sum=$(sha256sum "$ui/package-lock.json" | cut -d' ' -f1)
	if [[ -f $stamp && $(cat "$stamp") == "$sum" ]]; then
		return
	fi
	echo "ui.sh: npm ci (ui/package-lock.json)"
	(cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
	echo "$sum" >"$stamp"
}

# stale says whether a source of the UI is newer than its build.
stale() {
	[[ -f $out/index.html ]] || return 0
	[[ -n $(find "$ui/src" "$ui/index.html" "$ui/package-lock.json" "$ui/vite.config.ts" "$ui/tsconfig.json" \
		-newer "$out/index.html" -print -quit) ]]
}

case $cmd in
deps)
	deps
	;;
build)
	deps
	if ! stale; then
		echo "ui.sh: the web UI is up to date ($out)"
		exit 0
	fi
	echo "ui.sh: building the web UI into $out"
	(cd "$ui" && npx --no-install tsc -p tsconfig.json && npx --no-install vite build --logLevel warn)
	[[ -f $out/index.html ]] || die "the build wrote no $out/index.html"
	;;
test)
	deps >&2
	# One line when they pass (as make test's summary); everything when not.
	start=$SECONDS
	if log=$(cd "$ui" && NO_COLOR=1 npx --no-install vitest run 2>&1); then
		tests=$(grep -Eo 'Tests +[0-9]+ passed' <<<"$log" | grep -Eo '[0-9]+' || echo "?")
		printf 'ok   %-52s %5ss (%s tests)\n' "ui (vitest)" "$((SECONDS - start))" "$tests"
	else
		echo "$log"
		echo "FAIL ui (vitest)"
		exit 1
	fi
	;;
esac
