#!/bin/sh
# The sandbox VM's simulated deployment: the VM is files in
# TRE_LOCAL_STATE_DIR, which the local runner keeps between actions.
# Usage: vm.sh install|upgrade [--vm-size SIZE]; vm.sh start|stop|uninstall
#
# The admin password arrives in secrets/admin_password and is never
# printed: only its SHA-256 is kept, in the state directory.
set -eu
cd "$(dirname "$0")"
. ./lib.sh

need_state
action=${1:-}
if [ $# -gt 0 ]; then
	shift
fi
vm_size=${VM_SIZE:-small}
while [ $# -gt 0 ]; do
	case $1 in
	--vm-size)
		vm_size=${2:?--vm-size needs a value}
		shift 2
		;;
	*) fail "unknown argument $1" ;;
	esac
done

case $action in
install | upgrade)
	case $vm_size in
	small) sku=Standard_B2s ;;
	medium) sku=Standard_D4s_v5 ;;
	large) sku=Standard_E8s_v5 ;;
	*) fail "vm_size must be small, medium or large" ;;
	esac
	if [ "$action" = install ]; then
		simulate_work "${INSTALL_SECONDS:-0}"
		maybe_fail VM
		if [ ! -f secrets/admin_password ]; then
			fail "admin_password was not passed"
		fi
		if [ "$(wc -c <secrets/admin_password)" -lt 8 ]; then
			fail "admin_password must be at least 8 characters"
		fi
		set_attr admin_password.sha256 "$(sha256sum <secrets/admin_password | cut -d' ' -f1)"
		set_attr power_state running
		output power_state running
		say "admin password set (only its SHA-256 is kept)"
	fi
	short=$(short_id "$RESOURCE_ID")
	uri=$(remember connection_uri "https://$(slug "${DISPLAY_NAME:-}" vm)-$short.sandbox.local")
	set_attr sku "$sku"
	output connection_uri "$uri"
	output azure_vm_sku "$sku"
	say "VM $RESOURCE_ID ($sku) of service $PARENT_SERVICE_ID in workspace $WORKSPACE_ID is at $uri"
	;;
start | stop)
	state=running
	if [ "$action" = stop ]; then
		state=stopped
	fi
	if [ "$(attr power_state)" = "$state" ]; then
		say "VM $RESOURCE_ID is already $state"
	fi
	set_attr power_state "$state"
	output power_state "$state"
	say "VM $RESOURCE_ID is $state"
	;;
uninstall)
	rm -f "$TRE_LOCAL_STATE_DIR"/*
	say "VM $RESOURCE_ID removed"
	;;
*)
	fail "usage: vm.sh install|upgrade|start|stop|uninstall"
	;;
esac
