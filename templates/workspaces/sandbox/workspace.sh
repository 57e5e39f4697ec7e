#!/bin/sh
# The sandbox workspace's simulated deployment: the workspace's resources
# are files in TRE_LOCAL_STATE_DIR, which the local runner keeps between
# actions. Usage: workspace.sh install|upgrade|uninstall
set -eu
cd "$(dirname "$0")"
. ./lib.sh

need_state
action=${1:-}

case $action in
install | upgrade)
	if [ "$action" = install ]; then
		simulate_work "${INSTALL_SECONDS:-0}"
		maybe_fail workspace
	fi
	if [ "$action" = upgrade ] && [ "${FAIL_UPGRADE:-false}" = true ]; then
		fail "simulated failure: fail_upgrade is set, so the upgrade of this workspace fails"
	fi
	short=$(short_id "$RESOURCE_ID")
	uri=$(remember connection_uri "https://$(slug "${DISPLAY_NAME:-}" workspace)-$short.sandbox.local")
	account=$(remember storage_account_name "stgws$short")
	spaces=$(base64 -d <inputs/address_spaces.b64) || fail "address_spaces is not base64"
	set_attr address_spaces "$spaces"
	set_attr shared_storage_quota "$SHARED_STORAGE_QUOTA"
	output connection_uri "$uri"
	output storage_account_name "$account"
	say "workspace $RESOURCE_ID of TRE $TRE_ID in $AZURE_LOCATION is at $uri"
	say "address spaces: $spaces"
	say "shared storage quota: $SHARED_STORAGE_QUOTA GB"
	;;
uninstall)
	rm -f "$TRE_LOCAL_STATE_DIR"/*
	say "workspace $RESOURCE_ID removed"
	;;
*)
	fail "usage: workspace.sh install|upgrade|uninstall"
	;;
esac
