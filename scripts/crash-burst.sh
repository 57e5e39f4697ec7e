#!/usr/bin/env bash
# The kill -9 burst of the hardening issue: see usage below.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/crash-burst.sh [--count 20] [--kill-after 0.1] [--deadline 90]

The kill -9 burst: --count workspace creations at once; the handler is
killed with SIGKILL --kill-after seconds after the first of them was
answered (on a loaded machine the burst may take longer than that to
arrive), then restarted. Every workspace the store holds must reach a
final status within --deadline seconds, and none may have failed although
its bundle succeeded (the sandbox bundle always succeeds here, so every
one must end deployed).

Runs the real tre-handler (built to bin/) on a free port with a temporary
data directory and short limits (queue lock 5 s, sweep and watchdog every
second, dispatch limit 15 s). Needs curl, jq and python3 (for a free
port). Exits 0 when the property holds, 1 (naming each offending
workspace) when not.
USAGE
}

count=20 kill_after=0.1 deadline=90
while [[ $# -gt 0 ]]; do
	case $1 in
	--count) count=$2; shift 2 ;;
	--kill-after) kill_after=$2; shift 2 ;;
	--deadline) deadline=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "crash-burst.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
GO=${GO:-go}
"$GO" build -o bin/tre-handler ./handlers
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api="http://127.0.0.1:$port/api"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$data"
}
trap cleanup EXIT

export TRE_DATA_DIR=$data FUNCTIONS_CUSTOMHANDLER_PORT=$port LOG_LEVEL=warn \
	TRE_QUEUE_LOCK_DURATION=5s TRE_SWEEP_INTERVAL=1s TRE_WATCHDOG_INTERVAL=1s \
	TRE_DISPATCH_LIMIT=15s TRE_PICKUP_LIMIT=45s TRE_HEARTBEAT_LIMIT=20s TRE_PROCESSOR_HEARTBEAT=1s \
	TRE_DRAIN_TIMEOUT=0s TRE_PROCESSOR_WORKERS=4

start() {
	bin/tre-handler >>"$data/handler.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		curl -fs "$api/ping" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "crash-burst.sh: the handler did not start" >&2
	tail -n 20 "$data/handler.log" >&2
	exit 1
}

start
token=$(bin/tre-handler token --roles TREAdmin --user burst)
auth="Authorization: Bearer $token"
# Warm up: the first start registered the templates.
curl -fs -H "$auth" "$api/workspace-templates" >/dev/null

mkdir "$data/answers"
for i in $(seq "$count"); do
	curl -s -o /dev/null -w '%{http_code}' -X POST "$api/workspaces" -H "$auth" -H 'Content-Type: application/json' \
		-d "{\"templateName\":\"tre-workspace-sandbox\",\"properties\":{\"display_name\":\"burst $i\",\"description\":\"d\",\"install_seconds\":1}}" \
		>"$data/answers/$i" &
done
# The kill comes --kill-after seconds after the first create was answered
# (on a loaded machine the burst itself may take longer than that to
# arrive): some creates are done, others in flight, their bundles queued.
for _ in $(seq 500); do
	grep -qs 202 "$data"/answers/* && break
	sleep 0.01
done
sleep "$kill_after"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
killed_at=$(date +%s)
wait # the creates, answered or cut off
answered=$(grep -ls 202 "$data"/answers/* | wc -l)
echo "killed the handler ${kill_after}s after the first of $count creates was answered ($answered answered 202)"

start
restarted_at=$(date +%s)
final='^(deployed|deployment_failed|deleted)$'
while :; do
	list=$(curl -fs -H "$auth" "$api/workspaces")
	total=$(jq '.workspaces | length' <<<"$list")
	pending=$(jq -r '.workspaces[].deploymentStatus' <<<"$list" | grep -Evc "$final" || true)
	now=$(date +%s)
	if [ "$pending" -eq 0 ]; then
		break
	fi
	if [ $((now - restarted_at)) -gt "$deadline" ]; then
		echo "FAIL: $pending of $total workspaces not final ${deadline}s after the restart:" >&2
		jq -r '.workspaces[] | "  \(.id) \(.deploymentStatus)"' <<<"$list" >&2
		exit 1
	fi
	sleep 1
done
echo "all $total workspaces the store holds are final $((now - restarted_at))s after the restart ($((now - killed_at))s after the kill)"
failed=$(jq -r '.workspaces[] | select(.deploymentStatus != "deployed") | .id' <<<"$list")
if [ -n "$failed" ]; then
	echo "FAIL: workspaces not deployed although the sandbox bundle succeeds:" >&2
	for id in $failed; do
		curl -fs -H "$auth" "$api/workspaces/$id/operations" | jq -r '.operations[] | "  \(.resourceId) \(.status): \(.message)"' >&2
	done
	exit 1
fi
if [ "$total" -lt "$answered" ] || [ "$total" -eq 0 ]; then
	echo "FAIL: $answered creates were answered 202 but the store holds $total workspaces" >&2
	exit 1
fi
echo "PASS: $total of $count created ($answered answered before the kill), all deployed; none failed"
