#!/usr/bin/env bash
# Runs the demo and records everything it prints (stdout and the slog lines on
# stderr) in docs/demo-output.txt, the file the README's sample output quotes.
# Arguments are passed to the demo; with none it runs with its defaults:
#
#	examples/demo/record.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/demo-output.txt
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  printf '$ go run ./examples/demo%s\n' "${*:+ $*}"
  go run ./examples/demo "$@" 2>&1
} >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "recorded $(wc -l <"$out") lines in $out"
