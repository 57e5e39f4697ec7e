#!/usr/bin/env bash
# Smoke test of a TRE API: health, then a workspace's whole life (create,
# deployed, disable, delete, deleted). See usage below.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/smoke.sh [options] BASE_URL

Runs against the TRE API at BASE_URL (e.g. http://127.0.0.1:8080 for
`make run`, or the api_base_url output of infra/):

  1. GET /api/health answers 200;
  2. creates a workspace from a template (POST /api/workspaces) and waits
     until it is deployed;
  3. disables it (PATCH isEnabled=false with its etag) and waits for the
     update;
  4. deletes it and waits until its uninstall has succeeded.

Exits 0 when every step passed, non-zero with the failing step's reason
otherwise. The workspace is left behind only if a step failed (its id is
printed).

Options:
  --token TOKEN        bearer token of a TREAdmin (default: $TRE_TOKEN).
                       Against a loopback BASE_URL without a token, a dev
                       token is minted with `bin/tre-handler token` (which
                       must run with the server's TRE_DATA_DIR, default .tre).
                       In Azure: az account get-access-token
                       --resource api://<API_CLIENT_ID> --query accessToken -o tsv
  --template NAME      workspace template (default: tre-workspace-sandbox)
  --properties JSON    the workspace's properties besides display_name and
                       description, as a JSON object
                       (default: {"address_space_size": "small"})
  --timeout SECONDS    how long each wait may take (default: 600; a real
                       workspace on Azure takes 10 to 20 minutes: use 1800)
  --interval SECONDS   time between polls (default: 2)
  -h, --help           this help

Needs curl and jq.
USAGE
}

die() {
	echo "smoke.sh: FAIL: $*" >&2
	exit 1
}

base=""
token=${TRE_TOKEN:-}
template=tre-workspace-sandbox
properties='{"address_space_size": "small"}'
timeout=600
interval=2
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--token | --template | --properties | --timeout | --interval)
		[[ $# -ge 2 ]] || die "$1 needs a value"
		case $1 in
		--token) token=$2 ;;
		--template) template=$2 ;;
		--properties) properties=$2 ;;
		--timeout) timeout=$2 ;;
		--interval) interval=$2 ;;
		esac
		shift 2
		;;
	-*)
		usage >&2
		die "unknown option $1"
		;;
	*)
		[[ -z $base ]] || die "one BASE_URL only (got $base and $1)"
		base=$1
		shift
		;;
	esac
done
[[ -n $base ]] || {
	usage >&2
	die "BASE_URL is required"
}
base=${base%/}
for tool in curl jq; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install $tool)"
done
[[ $timeout =~ ^[0-9]+$ && $interval =~ ^[0-9]+$ && $interval -gt 0 ]] || die "--timeout and --interval take whole seconds"
jq -e 'type == "object"' >/dev/null 2>&1 <<<"$properties" || die "--properties must be a JSON object"

if [[ -z $token ]]; then
	case $base in
	http://127.0.0.1:* | http://localhost:* | http://127.0.0.1 | http://localhost)
		repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
		[[ -x $repo/bin/tre-handler ]] || die "no token given and $repo/bin/tre-handler is missing (make build), so no dev token can be minted"
		token=$("$repo/bin/tre-handler" token --roles TREAdmin --user smoke) ||
			die "bin/tre-handler token failed: run it with the server's TRE_DATA_DIR, or pass --token"
		;;
	*) die "a token is required against $base: --token or TRE_TOKEN (see --help)" ;;
	esac
fi

body=$(mktemp)
headers=$(mktemp)
trap 'rm -f "$body" "$headers"' EXIT

# call METHOD PATH [JSON [extra curl args...]]: sets $status; the body is in
# $body, the headers in $headers.
call() {
	local method=$1 path=$2 data=${3:-}
	shift 3 || shift $#
	local args=(-sS -X "$method" -o "$body" -D "$headers" -w '%{http_code}'
		-H "Authorization: Bearer $token" --max-time 60 "$@")
	if [[ -n $data ]]; then
		args+=(-H 'Content-Type: application/json' --data "$data")
	fi
	status=$(curl "${args[@]}" "$base$path") || die "$method $path: no answer from $base (is the API up?)"
}

# expect STATUS WHAT: dies unless the last call answered STATUS.
expect() {
	[[ $status == "$1" ]] && return 0
	local detail
	detail=$(jq -r '.detail // .message // empty' "$body" 2>/dev/null || true)
	die "$2: HTTP $status, want $1${detail:+: $detail}$([[ -z $detail ]] && head -c 500 "$body")"
}

step() { echo "smoke.sh: $*"; }

# wait_operation PATH WANT WHAT: polls the operation at PATH until its
# status is WANT; dies on a failure status or at the timeout.
wait_operation() {
	local path=$1 want=$2 what=$3 deadline=$((SECONDS + timeout)) st msg
	while :; do
		call GET "$path"
		expect 200 "$what: GET $path"
		st=$(jq -r '.operation.status' "$body")
		msg=$(jq -r '.operation.message // ""' "$body")
		case $st in
		"$want")
			step "  $what: $st"
			return 0
			;;
		*_failed | failed)
			die "$what: the operation ended $st: $msg (resource $ws_id, operation $path)"
			;;
		esac
		((SECONDS < deadline)) || die "$what: still $st after ${timeout}s: $msg (resource $ws_id, operation $path)"
		sleep "$interval"
	done
}

ws_id=""

step "health: GET $base/api/health"
status=$(curl -sS -o "$body" -w '%{http_code}' --max-time 30 "$base/api/health") ||
	die "health: no answer from $base (is the API up?)"
[[ $status == 200 ]] || die "health: HTTP $status: $(head -c 500 "$body")"
jq -e '.services' "$body" >/dev/null 2>&1 || die "health: not AzureTRE's health answer: $(head -c 500 "$body")"
jq -r '.services[] | "smoke.sh:   \(.service): \(.status) \(.message // "")"' "$body"
if ! jq -e 'all(.services[]; .status == "OK")' "$body" >/dev/null; then
	die "health: a service is Not OK (above)"
fi

name="smoke $(date -u +%Y%m%dT%H%M%SZ)"
payload=$(jq -cn --arg t "$template" --arg n "$name" --argjson p "$properties" \
	'{templateName: $t, properties: ({display_name: $n, description: "Created by scripts/smoke.sh; deleted at its end"} + $p)}')
step "create: POST /api/workspaces from $template"
call POST /api/workspaces "$payload"
expect 202 "create"
ws_id=$(jq -r '.operation.resourceId' "$body")
op_id=$(jq -r '.operation.id' "$body")
[[ -n $ws_id && $ws_id != null && -n $op_id && $op_id != null ]] || die "create: the answer names no operation: $(head -c 500 "$body")"
step "  workspace $ws_id, operation $op_id"
wait_operation "/api/workspaces/$ws_id/operations/$op_id" deployed "install"

call GET "/api/workspaces/$ws_id"
expect 200 "read the workspace"
[[ $(jq -r '.workspace.deploymentStatus' "$body") == deployed ]] || die "read the workspace: deploymentStatus is $(jq -r '.workspace.deploymentStatus' "$body"), want deployed"
etag=$(jq -r '.workspace._etag' "$body")
[[ -n $etag && $etag != null ]] || die "read the workspace: no _etag"

step "disable: PATCH /api/workspaces/$ws_id isEnabled=false"
call PATCH "/api/workspaces/$ws_id" '{"isEnabled": false}' -H "etag: $etag"
expect 202 "disable"
op_id=$(jq -r '.operation.id' "$body")
wait_operation "/api/workspaces/$ws_id/operations/$op_id" updated "disable"

step "delete: DELETE /api/workspaces/$ws_id"
call DELETE "/api/workspaces/$ws_id" ""
[[ $status == 200 || $status == 202 ]] || expect 200 "delete"
op_id=$(jq -r '.operation.id' "$body")
wait_operation "/api/workspaces/$ws_id/operations/$op_id" deleted "uninstall"

call GET "/api/workspaces/$ws_id"
[[ $status == 404 ]] || die "after delete: GET /api/workspaces/$ws_id answered $status, want 404"
step "PASS: $base: health, create, deployed, disable, delete, deleted"
