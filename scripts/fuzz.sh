#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz for the given number of seconds each (default 60),
# starting from its seed corpus in fuzz/corpus/<target>. Any crash fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shopt -s nullglob
for target in build/fuzz/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  work=$(mktemp -d)
  seeds="fuzz/corpus/$name"
  [ -d "$seeds" ] && cp -r "$seeds/." "$work/"
  echo "fuzzing $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -print_final_stats=1 "$work" 2>&1 | tail -n 3
  rm -rf "$work"
done
