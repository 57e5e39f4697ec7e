#!/bin/sh
# Fails the way MODE says.
set -eu
case $MODE in
quiet)
	exit 3
	;;
noisy)
	i=0
	while [ "$i" -lt 3000 ]; do
		i=$((i + 1))
		printf 'progress line %d of a long and chatty deployment\n' "$i"
	done
	printf '\033[1;31mError:\033[0m the last words\n' >&2
	exit 1
	;;
leak)
	# A careless bundle: the runner must censor the value in its logs.
	printf 'connecting with password %s\n' "$PASSWORD"
	printf 'login failed for %s\n' "$PASSWORD" >&2
	exit 1
	;;
signal)
	kill -KILL $$
	;;
stubborn)
	# Ignores SIGTERM (and so does its sleep): only SIGKILL stops it.
	trap '' TERM
	echo ready
	while :; do
		sleep 1
	done
	;;
family)
	# The work runs in a child process: only a signal to the whole process
	# group reaches it. The parent waits for it when told to stop.
	trap 'wait; exit 143' TERM
	sh -c 'trap "echo child stopping; exit 0" TERM; echo ready; while :; do sleep 1 & wait $!; done' &
	wait
	;;
daemon)
	# Leaves a process behind that holds the output pipe open.
	sleep 60 &
	echo $! >"$TRE_LOCAL_STATE_DIR/daemon.pid"
	echo started
	;;
esac
