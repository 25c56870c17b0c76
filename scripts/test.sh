#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (an optimized build, so it also covers what the release build runs), then each fuzz target for a short
# budget. BALEEN_TEST_RELEASE=1 also runs the suite on the plain release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="${BALEEN_TEST_JOBS:-$(nproc)}"

if [ "${BALEEN_TEST_RELEASE:-0}" = 1 ]; then
  scripts/build.sh release
  ctest --test-dir build/release --output-on-failure -j "$jobs" --timeout 1800
fi

scripts/build.sh asan
# The kill -9 loop of the real agent (tests/agent/agent_kill_loop_test.cc) defaults to 50 kills; under the
# sanitizers each agent run is several times slower (~40 s a kill on 2 cores), so CI runs 8
# (BALEEN_AGENT_KILLS overrides). A hung test fails after 30 minutes instead of eating the CI run.
BALEEN_AGENT_KILLS="${BALEEN_AGENT_KILLS:-8}" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build/asan --output-on-failure -j "$jobs" --timeout 1800

if [ -f fuzz/CMakeLists.txt ]; then
  scripts/build.sh fuzz
  scripts/fuzz.sh "${BALEEN_FUZZ_SECONDS:-30}"
fi
