#!/usr/bin/env bash
# make run: tre-handler on the embedded adapters, with Azurite as the
# airlock's storage when Node.js is installed. See usage below.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/run-local.sh

Runs bin/tre-handler (built by make run) on http://127.0.0.1:$PORT with its
data in $TRE_DATA_DIR, and, when Node.js 20+ and npm are installed, Azurite
(the Azure Storage protocol server of the npm package azurite, installed
once into the user's cache) as the airlock's storage, its blobs kept in
$TRE_DATA_DIR/azurite. The airlock's malware scanner is then the stand-in:
it finds only the EICAR test string (TRE_AIRLOCK_SCANNER overrides it).
Without Node.js the handler runs without the airlock's storage: the
airlock's routes answer 503 saying so, the rest of the API works.
Ctrl-C stops both.

Environment:
  PORT           the handler's port (default: 8080)
  AZURITE_PORT   Azurite's blob port (default: 10000)
  TRE_DATA_DIR   the data directory (default: .tre)
  BIN            where tre-handler is (default: bin)
  GO             the go command (default: go)
USAGE
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	usage >&2
	exit 2
	;;
esac

PORT=${PORT:-8080}
AZURITE_PORT=${AZURITE_PORT:-10000}
BIN=${BIN:-bin}
GO=${GO:-go}
export TRE_DATA_DIR=${TRE_DATA_DIR:-.tre}
# Azurite's well-known development account and key (public, documented).
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

azurite_pid=""
handler_pid=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [ -n "$handler_pid" ]; then kill -TERM "$handler_pid" 2>/dev/null || true; fi
	if [ -n "$azurite_pid" ]; then kill -TERM "$azurite_pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

airlock="off"
install=$("$GO" run ./internal/nodetest/installdeps -optional internal/azblobstore/azurite)
if [ -n "$install" ]; then
	modules="${install#*: }/node_modules"
	mkdir -p "$TRE_DATA_DIR/azurite"
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	NODE_PATH="$modules" node internal/azblobstore/azurite/launcher.js --port "$AZURITE_PORT" \
		--location "$TRE_DATA_DIR/azurite" >"$fifo" &
	azurite_pid=$!
	if ! read -r -t 60 first <"$fifo"; then
		rm -f "$fifo"
		echo "run-local: Azurite did not start on port $AZURITE_PORT (is another one running? AZURITE_PORT=... picks another port)" >&2
		exit 1
	fi
	rm -f "$fifo"
	addr=${first#listening }
	export TRE_AIRLOCK_STORAGE=endpoint
	export TRE_AIRLOCK_BLOB_ENDPOINT="http://$addr/$AZURITE_ACCOUNT"
	export TRE_AIRLOCK_BLOB_ACCOUNT=$AZURITE_ACCOUNT
	export TRE_AIRLOCK_BLOB_KEY=$AZURITE_KEY
	export TRE_AIRLOCK_SCANNER=${TRE_AIRLOCK_SCANNER:-stand-in}
	airlock="Azurite on http://$addr (blobs in $TRE_DATA_DIR/azurite), malware scanner: $TRE_AIRLOCK_SCANNER"
	if [ "$TRE_AIRLOCK_SCANNER" = "stand-in" ]; then
		airlock="$airlock (a STAND-IN: it finds only the EICAR test string)"
	fi
else
	airlock="OFF: Node.js 20+ and npm are not installed, so Azurite cannot run; the airlock's routes answer 503 (install Node.js and run make run again)"
fi
echo "  Airlock storage: $airlock"
echo ""

FUNCTIONS_CUSTOMHANDLER_PORT=$PORT "$BIN/tre-handler" &
handler_pid=$!
set +e
wait "$handler_pid"
code=$?
set -e
handler_pid=""
exit "$code"
