#!/bin/sh
# Prints what the bundle received: one line per argument, the working
# directory's name, a few variables and the parameter files.
set -eu
for a in "$@"; do
	printf 'arg=[%s]\n' "$a"
done
printf 'pwd=%s\n' "$(basename "$PWD")"
printf 'env COUNT=%s RATIO=%s ENABLED=%s LOG_LEVEL=%s STEP_ENV=%s\n' "${COUNT:-}" "${RATIO:-}" "${ENABLED:-}" "${LOG_LEVEL:-}" "${STEP_ENV:-}"
app=$(dirname "$0")
printf 'settings=%s\n' "$(cat "$app/config/settings.b64")"
printf 'note=%s\n' "$(cat "$app/notes/note.txt")"
printf 'blob=%s\n' "$(cat "$app/blob.bin")"
