#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: release build, then again under
# AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzz target for a short budget.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="${BALEEN_TEST_JOBS:-$(nproc)}"

scripts/build.sh release
ctest --test-dir build/release --output-on-failure -j "$jobs"

scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs"

if [ -f fuzz/CMakeLists.txt ]; then
  scripts/build.sh fuzz
  scripts/fuzz.sh "${BALEEN_FUZZ_SECONDS:-60}"
fi
