#!/usr/bin/env bash
# Configures and builds one flavour of baleen: `scripts/build.sh [release|asan|fuzz]` into build/<flavour>.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALEEN_SANITIZE=ON -DBALEEN_BENCH=OFF) ;;
  fuzz) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALEEN_FUZZ=ON -DBALEEN_TESTS=OFF -DBALEEN_BENCH=OFF
              -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
if [ "$flavour" = fuzz ]; then
  ninja -C "build/$flavour" fuzzers
else
  ninja -C "build/$flavour"
fi
