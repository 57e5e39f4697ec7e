#!/usr/bin/env bash
# Runs AzureTRE's e2e airlock test against a running make run. See usage.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/e2e-airlock.sh [pytest -k expression]

Runs AzureTRE's e2e airlock test (default: test_airlock_flow, of
e2e_tests/test_airlock.py) against the API of a running `make run` (with
Azurite, so that the airlock has storage), as AzureTRE runs it against a
pre-created workspace (its TEST_WORKSPACE_ID): it creates a sandbox
workspace and gives the test's user WorkspaceOwner and AirlockManager there
(AzureTRE's test identity has every workspace role), then runs pytest with
tokens minted by tre-handler.

Environment:
  AZURETRE_DIR      a checkout of microsoft/AzureTRE (required)
  DEVTOKEN_PY       the directory of the pytest plugin e2e_devtoken.py, which
                    mints the e2e tests' tokens with tre-handler (required)
  TRE_URL           the API (default: http://127.0.0.1:8080)
  TRE_DATA_DIR      the handler's data directory (default: .tre)
  TRE_DEV_HANDLER   the tre-handler binary (default: bin/tre-handler)
  TRE_DEV_USER      the test's user (default: alice)
  PYTHON            a Python 3 with pytest, pytest-asyncio, httpx and
                    azure-storage-blob (default: /usr/bin/python3)
USAGE
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
esac
: "${AZURETRE_DIR:?AZURETRE_DIR must name a checkout of microsoft/AzureTRE (see --help)}"
: "${DEVTOKEN_PY:?DEVTOKEN_PY must name the directory of e2e_devtoken.py (see --help)}"
TRE_URL=${TRE_URL:-http://127.0.0.1:8080}
export TRE_DATA_DIR=${TRE_DATA_DIR:-.tre}
TRE_DEV_HANDLER=$(realpath "${TRE_DEV_HANDLER:-bin/tre-handler}")
export TRE_DEV_HANDLER TRE_DEV_USER=${TRE_DEV_USER:-alice}
PYTHON=${PYTHON:-/usr/bin/python3}
filter=${1:-test_airlock_flow}

admin=$("$TRE_DEV_HANDLER" token --roles TREAdmin --user "$TRE_DEV_USER")
auth="Authorization: Bearer $admin"
location=$(curl -fsS -D - -o /dev/null -X POST "$TRE_URL/api/workspaces" -H "$auth" -H 'Content-Type: application/json' \
	-d '{"templateName": "tre-workspace-sandbox", "properties": {"display_name": "AzureTRE e2e airlock",
	     "description": "pre-created for e2e_tests/test_airlock.py", "address_space_size": "small"}}' |
	tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
workspace=$(echo "$location" | cut -d/ -f4)
status=""
for _ in $(seq 120); do
	status=$(curl -fsS -H "$auth" "$TRE_URL$location" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["operation"]["status"])')
	[ "$status" = deployed ] && break
	sleep 0.5
done
if [ "$status" != deployed ]; then
	echo "e2e-airlock: workspace $workspace is $status, not deployed" >&2
	exit 1
fi
user_id=$("$TRE_DEV_HANDLER" user-id "$TRE_DEV_USER")
for role in WorkspaceOwner AirlockManager; do
	curl -fsS -o /dev/null -X POST "$TRE_URL/api/workspaces/$workspace/users/assign" -H "$auth" -H 'Content-Type: application/json' \
		-d "{\"role_id\": \"$role\", \"user_ids\": [\"$user_id\"]}"
done
echo "e2e-airlock: workspace $workspace, $TRE_DEV_USER is its WorkspaceOwner and AirlockManager"

# AzureTRE's session fixtures want one event loop per session; Debian's
# pytest-asyncio (0.20) has no loop_scope, so a plugin provides it.
plugins=$(mktemp -d)
trap 'rm -rf "$plugins"' EXIT
cat >"$plugins/e2e_session_loop.py" <<'PY'
import asyncio
import pytest


class _SessionLoop:
    @pytest.fixture(scope="session")
    def event_loop(self):
        loop = asyncio.new_event_loop()
        yield loop
        loop.close()


def pytest_configure(config):
    # Registered after pytest-asyncio, so that this event_loop wins.
    config.pluginmanager.register(_SessionLoop(), "e2e_session_loop_fixture")
PY

cd "$AZURETRE_DIR/e2e_tests"
PYTHONPATH="$plugins:$DEVTOKEN_PY:$AZURETRE_DIR:$AZURETRE_DIR/e2e_tests" TRE_URL=$TRE_URL TEST_WORKSPACE_ID=$workspace \
	"$PYTHON" -m pytest -p e2e_devtoken -p e2e_session_loop -p no:cacheprovider -m airlock -k "$filter" --verify false
