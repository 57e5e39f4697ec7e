#!/bin/sh
# Writes the installation's name in the bundle directory, then waits until
# two runs have arrived, so that both runs hold their file at the same time.
# It waits as long as it takes (a loaded machine may start the other run
# late): the test cancels a run whose partner failed, and go test's timeout
# ends one whose partner never started.
set -eu
printf '%s\n' "$CNAB_INSTALLATION_NAME" >who
touch "$BARRIER/$CNAB_INSTALLATION_NAME"
until [ "$(ls "$BARRIER" | wc -l)" -ge 2 ]; do
	sleep 0.05
done
