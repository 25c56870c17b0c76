#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz for the given number of seconds each (default 60),
# starting from its seed corpus in fuzz/corpus/<target>, BALEEN_FUZZ_JOBS (default: the core count) at a
# time. Any crash fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
jobs="${BALEEN_FUZZ_JOBS:-$(nproc)}"

fuzz_one() {
  local target="$1" seconds="$2" name work log
  name=$(basename "$target")
  work=$(mktemp -d)
  log="$work.log"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
  local rc=0
  "$target" -max_total_time="$seconds" -print_final_stats=1 "$work" >"$log" 2>&1 || rc=$?
  # One block per target, printed whole, so parallel runs do not interleave.
  { echo "fuzzed $name for ${seconds}s (exit $rc)"; if [ "$rc" = 0 ]; then tail -n 3 "$log"; else tail -n 60 "$log"; fi; }
  rm -rf "$work" "$log"
  return "$rc"
}
export -f fuzz_one

shopt -s nullglob
targets=()
for t in build/fuzz/fuzz/fuzz_*; do [ -x "$t" ] && targets+=("$t"); done
((${#targets[@]})) || { echo "fuzz.sh: no fuzz targets in build/fuzz/fuzz" >&2; exit 1; }
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'fuzz_one "$1" "$2"' _ {} "$seconds"
