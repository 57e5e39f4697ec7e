# lib.sh: helpers of the sandbox bundles' scripts (POSIX sh).
#
# Every sandbox bundle keeps its own copy, because a bundle is built from
# its own directory only; the copies must stay identical (a test in
# internal/templatedir checks). Nothing here prints parameter values that
# could be secrets.

# say prints a progress line on stdout.
say() {
	printf 'sandbox: %s\n' "$*"
}

# fail prints an error in red on stderr, as deployment tools do, and exits 1.
fail() {
	printf '\033[31msandbox: %s\033[0m\n' "$*" >&2
	exit 1
}

# need_state checks that the runner gave the bundle a directory that
# survives between actions, where its simulated resources live.
need_state() {
	if [ -z "${TRE_LOCAL_STATE_DIR:-}" ] || [ ! -d "$TRE_LOCAL_STATE_DIR" ]; then
		fail "TRE_LOCAL_STATE_DIR is not a directory: run this bundle with the TRE local runner"
	fi
}

# slug NAME FALLBACK prints a DNS label made from a display name (lower-case
# letters, digits and '-', at most 30 characters), or FALLBACK when nothing
# is left of the name.
slug() {
	s=$(printf '%s' "$1" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9' '-' | tr -s '-' | cut -c1-30 | sed 's/^-*//; s/-*$//')
	if [ -z "$s" ]; then
		s=$2
	fi
	printf '%s' "$s"
}

# short_id ID prints the last four letters or digits of a resource id, as
# AzureTRE shortens workspace ids.
short_id() {
	s=$(printf '%s' "$1" | tr -cd 'A-Za-z0-9' | tr 'A-Z' 'a-z')
	while [ "${#s}" -gt 4 ]; do
		s=${s#?}
	done
	printf '%s' "$s"
}

# set_attr NAME VALUE records an attribute of the simulated resource.
set_attr() {
	printf '%s' "$2" >"$TRE_LOCAL_STATE_DIR/$1.tmp"
	mv "$TRE_LOCAL_STATE_DIR/$1.tmp" "$TRE_LOCAL_STATE_DIR/$1"
}

# attr NAME prints a recorded attribute.
attr() {
	cat "$TRE_LOCAL_STATE_DIR/$1"
}

# remember NAME VALUE records VALUE the first time only and prints the
# recorded value, so that attributes made at install (an address) stay as
# they are across upgrades, as a deployed resource's would.
remember() {
	if [ ! -f "$TRE_LOCAL_STATE_DIR/$1" ]; then
		set_attr "$1" "$2"
	fi
	attr "$1"
}

# output NAME VALUE writes a bundle output where porter.yaml reads it
# (/cnab/app/outputs/NAME).
output() {
	mkdir -p outputs
	printf '%s\n' "$2" >"outputs/$1"
}

# simulate_work SECONDS takes that long, like a slow deployment, printing
# progress every second. SIGTERM (how the runner cancels) stops it at once.
simulate_work() {
	case $1 in
	'' | *[!0-9]*) fail "install_seconds must be a whole number of seconds" ;;
	esac
	trap 'printf "sandbox: interrupted by SIGTERM: stopping\n" >&2; exit 143' TERM
	trap 'printf "sandbox: interrupted: stopping\n" >&2; exit 130' INT
	i=0
	while [ "$i" -lt "$1" ]; do
		i=$((i + 1))
		say "working ($i/$1 s)"
		# In the background, so that the trap runs as soon as a signal
		# arrives rather than when sleep ends.
		sleep 1 &
		wait $!
	done
	trap - TERM INT
}

# maybe_fail WHAT makes the install fail with the bundle's own error when
# fail_install is set, to try failure handling.
maybe_fail() {
	case ${FAIL_INSTALL:-false} in
	true) fail "simulated failure: fail_install is set, so the install of this $1 fails" ;;
	false) ;;
	*) fail "fail_install must be true or false" ;;
	esac
	# fail_install_attempts: the first N installs fail, later ones work (a
	# fault that a retry clears). The count survives between attempts in
	# the state directory.
	limit=${FAIL_INSTALL_ATTEMPTS:-0}
	case $limit in
	'' | *[!0-9]*) fail "fail_install_attempts must be a whole number" ;;
	esac
	tries=0
	if [ -f "$TRE_LOCAL_STATE_DIR/.install_attempts" ]; then
		tries=$(cat "$TRE_LOCAL_STATE_DIR/.install_attempts")
	fi
	tries=$((tries + 1))
	printf '%s' "$tries" >"$TRE_LOCAL_STATE_DIR/.install_attempts"
	if [ "$tries" -le "$limit" ]; then
		fail "simulated failure: attempt $tries of the install fails (fail_install_attempts is $limit)"
	fi
}
