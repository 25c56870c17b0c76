#!/usr/bin/env bash
# Configures and builds one flavour of baleen: `scripts/build.sh [release|asan|fuzz]` into build/<flavour>.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # The sanitized and fuzz builds (CI's) leave the CUDA backend out: its tests need a GPU, which CI lacks.
  asan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALEEN_SANITIZE=ON -DBALEEN_BENCH=OFF -DBALEEN_CUDA=OFF) ;;
  fuzz) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALEEN_FUZZ=ON -DBALEEN_TESTS=OFF -DBALEEN_BENCH=OFF
              -DCMAKE_CXX_COMPILER=clang++ -DBALEEN_CUDA=OFF) ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
# ccache (from setup.sh) makes rebuilds of unchanged files cheap, also across clones of the repository:
# paths under the checkout are hashed relative to it, and the build directory is left out of the hash.
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
if [ "$flavour" = fuzz ]; then
  ninja -C "build/$flavour" fuzzers
else
  ninja -C "build/$flavour"
fi
