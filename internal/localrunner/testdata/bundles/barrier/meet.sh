#!/bin/sh
# Writes the installation's name in the bundle directory, then waits until
# two runs have arrived, so that both runs hold their file at the same time.
set -eu
printf '%s\n' "$CNAB_INSTALLATION_NAME" >who
touch "$BARRIER/$CNAB_INSTALLATION_NAME"
i=0
until [ "$(ls "$BARRIER" | wc -l)" -ge 2 ]; do
	i=$((i + 1))
	if [ "$i" -gt 400 ]; then
		echo "the other run never came" >&2
		exit 1
	fi
	sleep 0.05
done
