#!/bin/sh
# The sandbox workspace service's simulated deployment: its resources are
# files in TRE_LOCAL_STATE_DIR, which the local runner keeps between
# actions. Usage:
#   service.sh install|upgrade [--installation NAME] [--max-vms N]
#   service.sh summary|restart|uninstall
set -eu
cd "$(dirname "$0")"
. ./lib.sh

need_state
action=${1:-}
if [ $# -gt 0 ]; then
	shift
fi
installation=${CNAB_INSTALLATION_NAME:-}
max_vms=5
while [ $# -gt 0 ]; do
	case $1 in
	--installation)
		installation=${2:?--installation needs a value}
		shift 2
		;;
	--max-vms)
		max_vms=${2:?--max-vms needs a value}
		shift 2
		;;
	*) fail "unknown argument $1" ;;
	esac
done

# count_vms FILE counts the {"id": ...} objects of a JSON array as the API
# writes it.
count_vms() {
	awk -F'"id":' '{ n += NF - 1 } END { print n + 0 }' "$1"
}

case $action in
install | upgrade)
	if [ "$action" = install ]; then
		simulate_work "${INSTALL_SECONDS:-0}"
		maybe_fail "workspace service"
	fi
	case $max_vms in
	'' | *[!0-9]*) fail "max_vms must be a whole number" ;;
	esac
	vms=$(base64 -d <inputs/vm_names.b64) || fail "vm_names is not base64"
	printf '%s\n' "$vms" >"$TRE_LOCAL_STATE_DIR/vm_names.json.new"
	count=$(count_vms "$TRE_LOCAL_STATE_DIR/vm_names.json.new")
	if [ "$count" -gt "$max_vms" ]; then
		rm -f "$TRE_LOCAL_STATE_DIR/vm_names.json.new"
		fail "the service takes at most $max_vms VMs, and $count are asked for: raise max_vms first"
	fi
	mv "$TRE_LOCAL_STATE_DIR/vm_names.json.new" "$TRE_LOCAL_STATE_DIR/vm_names.json"
	short=$(short_id "$RESOURCE_ID")
	uri=$(remember connection_uri "https://$(slug "${DISPLAY_NAME:-}" service)-$short.sandbox.local")
	restarts=$(remember restart_count 0)
	output connection_uri "$uri"
	output restart_count "$restarts"
	say "service $installation in workspace $WORKSPACE_ID is at $uri, with $count of at most $max_vms VMs"
	;;
summary)
	# Only JSON on stdout: porter.yaml reads vm_count with a jsonPath.
	printf '{"connection_uri": "%s", "vm_count": %s, "restart_count": %s}\n' \
		"$(attr connection_uri)" "$(count_vms "$TRE_LOCAL_STATE_DIR/vm_names.json")" "$(attr restart_count)"
	;;
restart)
	restarts=$(($(attr restart_count) + 1))
	set_attr restart_count "$restarts"
	output restart_count "$restarts"
	say "service $RESOURCE_ID restarted ($restarts restarts so far)"
	;;
uninstall)
	rm -f "$TRE_LOCAL_STATE_DIR"/*
	say "service $RESOURCE_ID removed"
	;;
*)
	fail "usage: service.sh install|upgrade|summary|restart|uninstall"
	;;
esac
